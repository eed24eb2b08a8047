// The order ticket: what the trader fills in goes to POST /order_solve as it is; the server's checks
// and the counter's answer come back as the message shown under the button.

import { api } from "./api.js";
import { decimalsOf, label } from "./format.js";
import { t } from "./i18n.js";
import { state } from "./state.js";

let form = null;
let message = null;
let killed = ""; // the kill switch's reason while it is on: no order can be sent
let sending = false;

export function initTicket(desk) {
  form = document.getElementById("ticket-form");
  message = document.getElementById("ticket-message");
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
  button.textContent = killed ? t("ticket.locked") : t("ticket.send");
  button.title = killed ? t("ticket.locked.title", { reason: killed }) : "";
  if (killed === was) return;
  if (killed) show(t("ticket.locked.message", { reason: killed }), "error");
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
  show(t("ticket.sending"), "pending");
  try {
    const answer = await api("POST", "/order_solve", order);
    const orders = Array.isArray(answer) ? answer : [answer]; // a close split into closetoday + closeyesterday: both
    show(describe(orders), orders.some((one) => one.status === "rejected") ? "error" : "ok");
    desk.refreshSoon();
  } catch (error) {
    // a split close with a piece refused: the server's message, and the pieces it did send
    const sent = Array.isArray(error.data) && error.data.length ? ` · ${describe(error.data)}` : "";
    show(t("ticket.refused", { msg: error.message }) + sent, "error");
    if (sent) desk.refreshSoon();
  } finally {
    sending = false;
    button.disabled = Boolean(killed);
  }
}

// What was sent, as a trader reads it: "买 开 1 rb2601.SHFE：全部成交", and for a split close
// "卖 平今 1 + 平昨 2 rb2601.SHFE：全部成交" (each piece's status where they differ).
function describe(orders) {
  const first = orders[0];
  const statuses = new Set(orders.map((one) => one.status));
  const piece = (one) => t("ticket.piece", { offset: label("offset", one.offset), volume: one.volume })
    + (statuses.size > 1 ? ` ${label("status", one.status)}` : "");
  // the counter's reason for a rejection; its words for other states (CTP's "全部成交") repeat the status
  const notes = [...new Set(orders.filter((one) => one.status === "rejected").map((one) => one.status_msg).filter(Boolean))];
  const fields = { side: label("side", first.direction), pieces: orders.map(piece).join(" + "), symbol: first.local_symbol };
  const text = statuses.size > 1 ? t("ticket.answerMixed", fields) : t("ticket.answer", { ...fields, status: label("status", first.status) });
  return text + (notes.length ? t("ticket.note", { msg: notes.join("; ") }) : "");
}
