// The order ticket: what the trader fills in goes to POST /order_solve as it is; the server's checks
// and the counter's answer come back as the message shown under the button.

import { api } from "./api.js";
import { decimalsOf, label } from "./format.js";
import { state } from "./state.js";

let form = null;
let message = null;
let killed = ""; // the kill switch's reason while it is on: no order can be sent
let sendLabel = "";
let sending = false;

export function initTicket(desk) {
  form = document.getElementById("ticket-form");
  message = document.getElementById("ticket-message");
  sendLabel = form.querySelector("button[type=submit]").textContent;
  form.elements.type.addEventListener("change", syncPrice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await send(desk);
  });
}

function syncPrice() {
  const market = form.elements.type.value === "market";
  form.elements.price.disabled = market;
  form.elements.price.required = !market;
}

export function ticketSymbol(symbol) {
  if (!form) return;
  if (form.elements.local_symbol.value !== symbol) {
    form.elements.local_symbol.value = symbol;
    form.elements.price.value = "";
  }
  const contract = state.contracts.get(symbol);
  if (contract) {
    form.elements.price.step = String(contract.pricetick);
    form.elements.volume.max = String(contract.max_volume || "");
  }
}

export function fillPrice(value) {
  if (!form || !value) return;
  const contract = state.contracts.get(form.elements.local_symbol.value);
  const decimals = decimalsOf(contract ? contract.pricetick : 0.01);
  if (form.elements.type.value === "market") {
    form.elements.type.value = "limit";
    syncPrice();
  }
  form.elements.price.value = Number(value).toFixed(decimals);
}

// The kill switch on (its reason) or off (""): the send button is disabled while it is on.
export function lockTicket(reason) {
  const was = killed;
  killed = reason || "";
  if (!form) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = Boolean(killed) || sending;
  button.classList.toggle("locked", Boolean(killed));
  button.textContent = killed ? "已停止交易，不能下单" : sendLabel;
  button.title = killed ? `一键停止已生效：${killed}` : "";
  if (killed === was) return;
  if (killed) show(`已停止交易（${killed}）：恢复后才能下单`, "error");
  else if (was) show("", "");
}

function show(text, kind) {
  message.textContent = text;
  message.className = `message ${kind}`;
}

async function send(desk) {
  if (killed) return;
  const fields = Object.fromEntries(new FormData(form).entries());
  const order = {
    local_symbol: fields.local_symbol.trim(),
    direction: fields.direction,
    offset: fields.offset,
    type: fields.type,
    volume: Number(fields.volume),
  };
  if (order.type !== "market") order.price = Number(fields.price);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  sending = true;
  show("sending…", "pending");
  try {
    const answer = await api("POST", "/order_solve", order);
    const what = `${label("direction", answer.direction)} ${label("offset", answer.offset)} ${answer.volume} ${answer.local_symbol}`;
    show(`${what}: ${label("status", answer.status)}${answer.status_msg ? ` (${answer.status_msg})` : ""}`,
      answer.status === "rejected" ? "error" : "ok");
    desk.refreshSoon();
  } catch (error) {
    show(error.message, "error");
  } finally {
    sending = false;
    button.disabled = Boolean(killed);
  }
}
