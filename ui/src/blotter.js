// The blotter: positions, working orders, all orders, trades, logs; plus the account and status bars.

import { api } from "./api.js";
import { clock, el, fillRows, integer, label, money, price, signClass } from "./format.js";
import { decimalsFor } from "./market.js";
import { mark, onRender, state } from "./state.js";

export function initBlotter(desk) {
  const tabs = document.getElementById("blotter-tabs");
  tabs.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-tab]");
    if (!button) return;
    for (const other of tabs.children) other.classList.toggle("active", other === button);
    for (const body of document.querySelectorAll(".blotter .tab-body")) body.hidden = body.id !== button.dataset.tab;
  });
  document.getElementById("cancel-all").addEventListener("click", () => cancelAll(desk));
  onRender("positions", () => drawPositions(desk));
  onRender("orders", () => drawOrders(desk));
  onRender("history", drawHistory);
  onRender("trades", drawTrades);
  onRender("logs", drawLogs);
  onRender("account", drawAccount);
  onRender("status", drawStatus);
}

async function cancel(desk, order) {
  try {
    await api("DELETE", "/order_solve", { order_id: order.order_id });
    desk.toast(`Cancelled ${order.local_symbol} ${label("direction", order.direction)} ${order.volume}`);
  } catch (error) {
    desk.toast(`Cancel: ${error.message}`, "error");
  }
}

async function cancelAll(desk) {
  const working = [...state.activeOrders];
  const results = await Promise.allSettled(working.map((order) => api("DELETE", "/order_solve", { order_id: order.order_id })));
  const failed = results.filter((result) => result.status === "rejected");
  if (failed.length) desk.toast(`Cancel all: ${failed.length} of ${working.length} failed: ${failed[0].reason.message}`, "error");
  else if (working.length) desk.toast(`Cancelled ${working.length} order(s)`);
}

async function closePosition(desk, position) {
  try {
    const orders = await api("POST", "/close_position", { local_symbol: position.local_symbol, direction: position.direction });
    const parts = orders.map((order) => `${label("offset", order.offset)} ${order.volume}`).join(", ");
    desk.toast(`Close ${position.local_symbol}: ${parts}`);
  } catch (error) {
    desk.toast(`Close ${position.local_symbol}: ${error.message}`, "error");
  }
}

function drawPositions(desk) {
  const rows = state.positions.filter((position) => position.volume > 0).map((position) => {
    const decimals = decimalsFor(position.local_symbol);
    return el("tr", { dataset: { symbol: position.local_symbol, direction: position.direction }, onclick: () => desk.select(position.local_symbol) },
      el("td", {}, position.local_symbol),
      el("td", { className: position.direction === "long" ? "up" : "down" }, label("direction", position.direction)),
      el("td", { className: "num" }, integer(position.volume)),
      el("td", { className: "num", dataset: { field: "td" } }, integer(position.td_volume)),
      el("td", { className: "num", dataset: { field: "yd" } }, integer(position.yd_volume)),
      el("td", { className: "num" }, integer(position.available)),
      el("td", { className: "num" }, price(position.price, decimals + 1)),
      el("td", { className: `num ${signClass(position.position_profit)}` }, money(position.position_profit)),
      el("td", { className: "num" }, money(position.margin)),
      el("td", {}, el("button", {
        className: "small", textContent: "Close", dataset: { testid: "close-position" },
        onclick: (event) => { event.stopPropagation(); closePosition(desk, position); },
      })));
  });
  fillRows(document.querySelector("#positions tbody"), rows.length ? rows : [empty(10, "No positions")]);
}

// What orders and trades show first: when, what, which side, open or close.
function leadingCells(item) {
  return [
    el("td", {}, clock(item.time)),
    el("td", {}, item.local_symbol),
    el("td", { className: item.direction === "long" ? "up" : "down" }, label("direction", item.direction)),
    el("td", {}, label("offset", item.offset)),
  ];
}

function drawOrders(desk) {
  const rows = state.activeOrders.map((order) => el("tr", { dataset: { orderId: order.order_id } },
    ...leadingCells(order),
    el("td", { className: "num" }, price(order.price, decimalsFor(order.local_symbol))),
    el("td", { className: "num" }, integer(order.volume)),
    el("td", { className: "num" }, integer(order.traded)),
    el("td", {}, label("status", order.status)),
    el("td", {}, order.strategy || ""),
    el("td", {}, el("button", { className: "small", textContent: "Cancel", dataset: { testid: "cancel-order" },
      onclick: () => cancel(desk, order) }))));
  fillRows(document.querySelector("#orders tbody"), rows.length ? rows : [empty(10, "No working orders")]);
  document.querySelector('#blotter-tabs [data-tab="orders"]').textContent = `Working orders (${state.activeOrders.length})`;
}

function drawHistory() {
  const orders = [...state.orders.values()].reverse().slice(0, 500);
  const rows = orders.map((order) => el("tr", { dataset: { orderId: order.order_id, status: order.status } },
    ...leadingCells(order),
    el("td", {}, label("type", order.type)),
    el("td", { className: "num" }, price(order.price, decimalsFor(order.local_symbol))),
    el("td", { className: "num" }, integer(order.volume)),
    el("td", { className: "num" }, integer(order.traded)),
    el("td", {}, label("status", order.status)),
    el("td", { className: "muted" }, order.status_msg || "")));
  fillRows(document.querySelector("#history tbody"), rows.length ? rows : [empty(10, "No orders today")]);
}

function drawTrades() {
  const rows = [...state.trades].reverse().map((trade) => el("tr", { dataset: { tradeId: trade.trade_id } },
    ...leadingCells(trade),
    el("td", { className: "num" }, price(trade.price, decimalsFor(trade.local_symbol))),
    el("td", { className: "num" }, integer(trade.volume)),
    el("td", { className: "muted" }, trade.order_id)));
  fillRows(document.querySelector("#trades tbody"), rows.length ? rows : [empty(7, "No trades today")]);
}

function drawLogs() {
  const rows = [...state.logs].reverse().slice(0, 300).map((entry) => el("tr", { className: `level-${(entry.levelname || "").toLowerCase()}` },
    el("td", {}, clock(entry.created)),
    el("td", {}, entry.levelname || ""),
    el("td", {}, entry.owner || entry.name || ""),
    el("td", {}, entry.message || "")));
  fillRows(document.querySelector("#logs tbody"), rows.length ? rows : [empty(4, "No log lines")]);
}

function drawAccount() {
  const account = state.account;
  const box = document.getElementById("account");
  if (!account) {
    box.replaceChildren();
    return;
  }
  const item = (name, value, cls = "") => el("span", { className: `figure ${cls}`, dataset: { field: name } },
    el("small", {}, name), money(value));
  box.replaceChildren(
    item("Balance", account.balance),
    item("Available", account.available),
    item("Margin", account.margin),
    item("Frozen", account.frozen),
    item("Position P&L", account.position_profit, signClass(account.position_profit)),
    item("Close P&L", account.close_profit, signClass(account.close_profit)),
    item("Fees", account.commission));
}

const STATE_CLASS = { ready: "ok", logged_in: "ok", disconnected: "bad", failed: "bad" };

function drawStatus() {
  const status = state.status;
  const box = document.getElementById("status");
  if (!status) {
    box.replaceChildren();
    return;
  }
  const api_ = (name, entry) => {
    const value = (entry && entry.state) || "disconnected";
    const reason = entry && entry.error_id ? ` (${entry.error_id} ${entry.error_msg})` : "";
    return el("span", { className: `pill ${STATE_CLASS[value] || "warn"}`, title: `${name}: ${value}${reason}`, dataset: { api: name, state: value } },
      `${name.toUpperCase()} ${value.replace("_", " ")}`);
  };
  box.replaceChildren(
    el("span", { className: "muted" }, `${status.interface || "–"} · ${status.userid || ""} · ${status.trading_day || ""}`),
    api_("td", status.td), api_("md", status.md));
}

function empty(span, text) {
  return el("tr", { className: "empty" }, el("td", { colSpan: span }, text));
}

export function applyOrder(order) {
  state.orders.delete(order.order_id); // re-insert: the history shows the latest change first
  state.orders.set(order.order_id, order);
  mark("history");
}

export function applyTrade(trade) {
  if (state.trades.some((known) => known.trade_id === trade.trade_id)) return;
  state.trades.push(trade);
  mark("trades");
}
