// The blotter: positions, working orders, all orders, trades, logs; plus the account and status bars.

import { api } from "./api.js";
import { averagePrice, el, exchangeToday, fillRows, integer, label, money, price, signClass, tradingDay, tradingDayIso, when } from "./format.js";
import { t } from "./i18n.js";
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
    desk.toast(t("toast.cancelled", { symbol: order.local_symbol, side: label("side", order.direction), volume: order.volume }));
  } catch (error) {
    desk.toast(t("toast.cancelFailed", { msg: error.message }), "error");
  }
}

async function cancelAll(desk) {
  const working = [...state.activeOrders];
  const results = await Promise.allSettled(working.map((order) => api("DELETE", "/order_solve", { order_id: order.order_id })));
  const failed = results.filter((result) => result.status === "rejected");
  if (failed.length) {
    desk.toast(t("toast.cancelAllFailed", { failed: failed.length, total: working.length, msg: failed[0].reason.message }), "error");
  } else if (working.length) {
    desk.toast(t("toast.cancelledAll", { n: working.length }));
  }
}

async function closePosition(desk, position) {
  try {
    const orders = await api("POST", "/close_position", { local_symbol: position.local_symbol, direction: position.direction });
    desk.toast(t("toast.closed", { symbol: position.local_symbol, pieces: pieces(orders) }));
  } catch (error) {
    desk.toast(t("toast.closeFailed", { symbol: position.local_symbol, msg: error.message }), "error");
  }
}

// The orders a close became, as a trader reads them: "平今 1 + 平昨 2".
export function pieces(orders) {
  return orders.map((order) => t("ticket.piece", { offset: label("offset", order.offset), volume: order.volume })).join(" + ");
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
      el("td", { className: "num", dataset: { field: "price" } }, averagePrice(position.price, decimals)),
      el("td", { className: `num ${signClass(position.position_profit)}` }, money(position.position_profit)),
      el("td", { className: "num" }, money(position.margin)),
      el("td", {}, el("button", {
        className: "small", textContent: t("blotter.close"), dataset: { testid: "close-position" },
        onclick: (event) => { event.stopPropagation(); closePosition(desk, position); },
      })));
  });
  fillRows(document.querySelector("#positions tbody"), rows.length ? rows : [empty(10, t("blotter.noPositions"))]);
}

// What orders and trades show first: when, what, which side, open or close.
function leadingCells(item) {
  return [
    el("td", {}, when(item.time)),
    el("td", {}, item.local_symbol),
    el("td", { className: item.direction === "long" ? "up" : "down" }, label("side", item.direction)),
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
    el("td", {}, el("button", { className: "small", textContent: t("blotter.cancel"), dataset: { testid: "cancel-order" },
      onclick: () => cancel(desk, order) }))));
  fillRows(document.querySelector("#orders tbody"), rows.length ? rows : [empty(10, t("blotter.noOrders"))]);
  document.querySelector('#blotter-tabs [data-tab="orders"]').textContent = t("tab.ordersCount", { n: state.activeOrders.length });
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
  fillRows(document.querySelector("#history tbody"), rows.length ? rows : [empty(10, t("blotter.noHistory"))]);
}

function drawTrades() {
  const rows = [...state.trades].reverse().map((trade) => el("tr", { dataset: { tradeId: trade.trade_id } },
    ...leadingCells(trade),
    el("td", { className: "num" }, price(trade.price, decimalsFor(trade.local_symbol))),
    el("td", { className: "num" }, integer(trade.volume)),
    orderCell(trade)));
  fillRows(document.querySelector("#trades tbody"), rows.length ? rows : [empty(7, t("blotter.noTrades"))]);
}

// A trade's order as a trader knows it: when it was sent and at what price ("09:31:02 委托 @ 3169");
// the internal id (front_session_ref) only in the tooltip.
function orderCell(trade) {
  const order = state.orders.get(trade.order_id);
  const text = order
    ? t("blotter.orderOf", { time: when(order.time), price: order.type === "market" ? label("type", "market")
      : price(order.price, decimalsFor(order.local_symbol)) })
    : "";
  return el("td", { className: "muted", title: trade.order_id, dataset: { field: "order" } }, text);
}

function drawLogs() {
  const rows = [...state.logs].reverse().slice(0, 300).map((entry) => el("tr", { className: `level-${(entry.levelname || "").toLowerCase()}` },
    el("td", {}, when(entry.created)),
    el("td", {}, label("level", entry.levelname || "")),
    el("td", {}, entry.owner || entry.name || ""),
    el("td", {}, entry.message || "")));
  fillRows(document.querySelector("#logs tbody"), rows.length ? rows : [empty(4, t("blotter.noLogs"))]);
}

function drawAccount() {
  const account = state.account;
  const box = document.getElementById("account");
  if (!account) {
    box.replaceChildren();
    return;
  }
  const item = (name, signed = false) => el("span", {
    className: `figure ${signed ? signClass(Math.round(account[name] * 100)) : ""}`, dataset: { field: name }, // no colour for what shows 0.00
  }, el("small", {}, t(`account.${name}`)), money(account[name]));
  box.replaceChildren(item("balance"), item("available"), item("margin"), item("frozen"),
    item("position_profit", true), item("close_profit", true), item("commission"));
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
    return el("span", {
      className: `pill ${STATE_CLASS[value] || "warn"}`,
      title: t("api.title", { name: t(`api.${name}`), state: label("api", value), reason }),
      dataset: { api: name, state: value },
    }, `${t(`api.${name}`)} ${label("api", value)}`);
  };
  // The trading day, marked where it is not today's calendar day (a night session, a weekend).
  const differs = Boolean(status.trading_day) && tradingDayIso(status.trading_day) !== exchangeToday();
  const day = status.trading_day ? el("span", {
    className: `trading-day${differs ? " differs" : ""}`, dataset: { testid: "trading-day", differs: String(differs) },
    title: t("top.tradingDay.title", { day: tradingDayIso(status.trading_day), calendar: exchangeToday() }),
  }, t("top.tradingDay", { day: tradingDay(status.trading_day) })) : null;
  box.replaceChildren(
    el("span", { className: "muted" }, `${status.interface || "–"} · ${status.userid || ""}`), day,
    api_("td", status.td), api_("md", status.md));
}

function empty(span, text) {
  return el("tr", { className: "empty" }, el("td", { colSpan: span }, text));
}

export function applyOrder(order) {
  state.orders.delete(order.order_id); // re-insert: the history shows the latest change first
  state.orders.set(order.order_id, order);
  mark("history", "ticket-answer"); // the ticket's line follows the orders it sent
  if (state.trades.some((trade) => trade.order_id === order.order_id)) mark("trades"); // its Order cell
}

export function applyTrade(trade) {
  if (state.trades.some((known) => known.trade_id === trade.trade_id)) return;
  state.trades.push(trade);
  mark("trades");
}
