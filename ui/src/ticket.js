// The order ticket: what the trader fills in goes to POST /order_solve; the server's checks and the
// counter's answer come back as the message shown under the button.
//
// The price follows the market by a price mode (对手价 opposite, 排队价 queue, 最新价 last) ± N ticks,
// or stays where the trader put it (指定价 fixed: typing a price or clicking a ladder level picks it).
// Where the exchange refuses market orders (SHFE, INE, CFFEX: backend/engine/constants.py
// NO_MARKET_ORDER_EXCHANGES) 市价 is sent as a marketable limit at the day's price limit (or the
// opposite price ± N ticks), and says so, instead of being sent and refused. Hotkeys send from
// anywhere on the trade page except while typing in a field.

import { api } from "./api.js";
import { decimalsOf, label } from "./format.js";
import { t } from "./i18n.js";
import { onRender, state } from "./state.js";

// Exchanges whose counters refuse plain market orders: the engine's NO_MARKET_ORDER_EXCHANGES.
const NO_MARKET_ORDER_EXCHANGES = new Set(["SHFE", "INE", "CFFEX"]);
const SETTINGS_KEY = "ctpdesk.ticket"; // {mode, ticks, oneClick, marketAs: "limit" | "opposite"}
const HOTKEYS_KEY = "ctpdesk.hotkeys"; // {key: action}, event.key names ("F1", "Escape", "b")
export const DEFAULT_HOTKEYS = { F1: "buy_open", F2: "sell_open", F3: "close", Escape: "cancel_instrument" };
const ACTIONS = ["buy_open", "sell_open", "buy_close", "sell_close", "close", "send", "cancel_instrument"];
const MODES = ["opposite", "queue", "last", "fixed"];

let form = null;
let message = null;
let desk_ = null;
let killed = ""; // the kill switch's reason while it is on: no order can be sent
let sending = false;
let answered = []; // the orders the message line stands for: it follows them to their fate (fills, cancels)
let settings = { mode: "opposite", ticks: 0, oneClick: false, marketAs: "limit" };

function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    if (MODES.includes(saved.mode)) settings.mode = saved.mode;
    if (Number.isInteger(saved.ticks)) settings.ticks = saved.ticks;
    settings.oneClick = saved.oneClick === true;
    if (saved.marketAs === "opposite") settings.marketAs = "opposite";
  } catch {
    // a broken entry: the defaults
  }
}

function saveSettings() {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // storage refused (private mode): the choice lasts for this page
  }
}

// The trader's hotkeys (localStorage ctpdesk.hotkeys, {key: action}) or the defaults; unknown actions are dropped.
export function hotkeys() {
  try {
    const saved = JSON.parse(localStorage.getItem(HOTKEYS_KEY) || "null");
    if (saved && typeof saved === "object") {
      return Object.fromEntries(Object.entries(saved).filter(([, action]) => ACTIONS.includes(action)));
    }
  } catch {
    // a broken entry: the defaults
  }
  return { ...DEFAULT_HOTKEYS };
}

export function initTicket(desk) {
  desk_ = desk;
  form = document.getElementById("ticket-form");
  message = document.getElementById("ticket-message");
  loadSettings();
  form.elements.mode.value = settings.mode;
  form.elements.ticks.value = String(settings.ticks);
  form.elements.oneclick.checked = settings.oneClick;
  form.elements.type.addEventListener("change", () => { syncType(); follow(); });
  for (const radio of form.elements.direction) radio.addEventListener("change", () => { syncType(); follow(); });
  form.elements.offset.addEventListener("change", showHint);
  form.elements.mode.addEventListener("change", () => {
    settings.mode = form.elements.mode.value;
    saveSettings();
    follow(true);
  });
  form.elements.ticks.addEventListener("input", () => {
    settings.ticks = Math.trunc(Number(form.elements.ticks.value) || 0);
    saveSettings();
    syncType();
    follow(true);
  });
  form.elements.oneclick.addEventListener("change", () => {
    settings.oneClick = form.elements.oneclick.checked;
    saveSettings();
  });
  // a price typed by hand is the trader's: the ticket stops following the market
  form.elements.price.addEventListener("input", () => setMode("fixed"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await send();
  });
  document.addEventListener("keydown", onKey);
  onRender("ticket-answer", followAnswer);
  showKeys();
}

function setMode(mode) {
  if (form.elements.mode.value === mode) return;
  form.elements.mode.value = mode;
  settings.mode = mode;
  saveSettings();
}

const contractOf = (symbol) => state.contracts.get(symbol) || null;
const ticketContract = () => contractOf(form.elements.local_symbol.value);
const direction = () => form.elements.direction.value;

// 市价 becomes a marketable limit on this instrument (its exchange refuses market orders).
function marketIsLimit(contract = ticketContract()) {
  return Boolean(contract) && NO_MARKET_ORDER_EXCHANGES.has(contract.exchange);
}

function roundToTick(value, tick) {
  if (!tick) return value;
  return Math.round(value / tick) * tick;
}

// The price a mode gives for a side on a tick, ± N ticks toward filling (a buy's +N is N ticks higher,
// a sell's N ticks lower), kept within the day's limits; null when the tick has no such price.
export function modePrice(mode, side, tick, contract, ticks = 0) {
  if (!tick) return null;
  const pricetick = contract ? contract.pricetick : 0;
  const buy = side === "long";
  const book = {
    opposite: buy ? tick.ask_price_1 : tick.bid_price_1,
    queue: buy ? tick.bid_price_1 : tick.ask_price_1,
    last: tick.last_price,
  };
  let base = book[mode] ?? tick.last_price;
  if (!base) base = tick.last_price; // an empty side of the book (at a price limit): the last price
  if (!base) return null;
  let value = roundToTick(base + (buy ? 1 : -1) * ticks * pricetick, pricetick);
  if (tick.limit_up) value = Math.min(value, tick.limit_up);
  if (tick.limit_down) value = Math.max(value, tick.limit_down);
  return value;
}

// The marketable limit sent for 市价 where the exchange refuses market orders.
function marketLimit(side, tick, contract) {
  if (!tick) return null;
  if (settings.marketAs === "opposite") return modePrice("opposite", side, tick, contract, settings.ticks);
  return side === "long" ? tick.limit_up || null : tick.limit_down || null;
}

function fixedText(value, contract) {
  return Number(value).toFixed(decimalsOf(contract ? contract.pricetick : 0.01));
}

// The price field and 市价's own words as the type, side and exchange make them.
function syncType() {
  const type = form.elements.type.value;
  const option = form.elements.type.querySelector('option[value="market"]');
  const asLimit = marketIsLimit();
  const buy = direction() === "long";
  if (asLimit) {
    option.textContent = settings.marketAs === "opposite"
      ? t("ticket.marketAsOpposite", { ticks: signed(settings.ticks) })
      : t(buy ? "ticket.marketAsLimitUp" : "ticket.marketAsLimitDown");
  } else {
    option.textContent = label("type", "market");
  }
  const market = type === "market";
  form.elements.price.disabled = market; // a marketable limit's price is shown but not the trader's to change
  form.elements.price.required = !market;
  form.elements.mode.disabled = market;
  form.dataset.marketAsLimit = String(market && asLimit);
  if (market && !asLimit) form.elements.price.value = "";
  if (!(market && asLimit)) showMarketNote(null, null);
}

// Under the type, in words: 市价 on this exchange goes as a limit order at this price.
function showMarketNote(contract, value) {
  const note = document.getElementById("ticket-market-note");
  if (!note) return;
  const on = Boolean(contract && value && form.elements.type.value === "market" && marketIsLimit(contract));
  note.hidden = !on;
  if (!on) return;
  const text = t("ticket.marketNote", {
    exchange: contract.exchange, type: form.elements.type.selectedOptions[0].textContent, price: fixedText(value, contract),
  });
  if (note.textContent !== text) note.textContent = text;
}

const signed = (n) => (n >= 0 ? `+${n}` : String(n));

// The latest tick into the ticket: the price follows the mode (unless fixed, or the trader is in the field).
function follow(force = false) {
  if (!form) return;
  const symbol = form.elements.local_symbol.value;
  const tick = state.ticks.get(symbol);
  const contract = contractOf(symbol);
  showHint();
  if (!tick) return;
  const priceField = form.elements.price;
  if (!force && document.activeElement === priceField) return;
  const type = form.elements.type.value;
  let value = null;
  if (type === "market") {
    if (marketIsLimit(contract)) value = marketLimit(direction(), tick, contract);
    showMarketNote(contract, value);
  } else if (settings.mode !== "fixed") {
    value = modePrice(settings.mode, direction(), tick, contract, settings.ticks);
  } else if (!priceField.value) {
    value = tick.last_price; // 指定价 with no price yet (a new instrument, its first tick): start from the last
  }
  if (value) priceField.value = fixedText(value, contract);
}

// Called with each drawn tick of the selected instrument (market.js drawDepth).
export function ticketTick(tick) {
  if (form && tick && tick.local_symbol === form.elements.local_symbol.value) follow();
}

export function ticketSymbol(symbol) {
  if (!form) return;
  const changed = form.elements.local_symbol.value !== symbol;
  if (changed) {
    form.elements.local_symbol.value = symbol;
    form.elements.price.value = "";
  }
  const contract = state.contracts.get(symbol);
  if (contract) {
    form.elements.price.step = String(contract.pricetick);
    form.elements.volume.max = String(contract.max_volume || "");
  }
  syncType();
  follow(changed); // a new instrument's price at once, whatever the mode (fixed: its last price)
}

// A price chosen on the ladder or the watch list: the ticket's price, fixed there.
export function fillPrice(value) {
  if (!form || !value) return;
  if (form.elements.type.value === "market") form.elements.type.value = "limit";
  setMode("fixed");
  syncType();
  form.elements.price.value = fixedText(value, ticketContract());
}

// A click on a ladder level: fill the price; with Ctrl/⌘ held, or 一键下单 on, send the ticket at once.
// A click on a ladder still showing the previous instrument (until the next frame) does nothing.
export async function ladderClick(value, event, symbol) {
  if (!form || !value || symbol !== form.elements.local_symbol.value) return;
  fillPrice(value);
  if (settings.oneClick || (event && (event.ctrlKey || event.metaKey))) await send();
}

// Every working order of the instrument at a price (the ladder's × and right click).
export async function cancelAt(symbol, value) {
  const tick = (contractOf(symbol) || {}).pricetick || 1e-9;
  const working = state.activeOrders.filter((order) => order.local_symbol === symbol
    && Math.abs(order.price - value) < tick / 2);
  await cancelOrders(working);
}

async function cancelOrders(working) {
  if (!working.length) return;
  const results = await Promise.allSettled(working.map((order) => api("DELETE", "/order_solve", { order_id: order.order_id })));
  const failed = results.filter((result) => result.status === "rejected");
  if (failed.length) show(t("ticket.cancelFailed", { failed: failed.length, total: working.length, msg: failed[0].reason.message }), "error");
  else show(t("ticket.cancelled", { n: working.length, symbol: working[0].local_symbol }), "ok");
  desk_.refreshSoon();
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

function show(text, kind, orders = []) {
  answered = orders;
  message.textContent = text;
  message.className = `message ${kind}`;
}

// The order the ticket stands for now; a string is the reason there is none.
function buildOrder() {
  const fields = Object.fromEntries(new FormData(form).entries());
  const symbol = form.elements.local_symbol.value.trim();
  const contract = contractOf(symbol);
  const tick = state.ticks.get(symbol);
  const order = {
    local_symbol: symbol,
    direction: direction(),
    offset: form.elements.offset.value,
    type: form.elements.type.value,
    volume: Number(form.elements.volume.value),
  };
  if (order.type === "market") {
    if (!marketIsLimit(contract)) return order;
    const limit = marketLimit(order.direction, tick, contract);
    if (!limit) return t("ticket.noPrice", { symbol });
    order.type = "limit";
    order.price = limit;
    form.elements.price.value = fixedText(limit, contract);
    return order;
  }
  if (settings.mode !== "fixed") {
    const value = modePrice(settings.mode, order.direction, tick, contract, settings.ticks);
    if (!value) return t("ticket.noPrice", { symbol });
    form.elements.price.value = fixedText(value, contract);
    order.price = value;
  } else {
    order.price = Number(fields.price);
  }
  return order;
}

async function send() {
  if (killed || sending) return;
  const order = buildOrder();
  if (typeof order === "string") {
    show(order, "error");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  sending = true;
  show(t("ticket.sending"), "pending");
  try {
    const answer = await api("POST", "/order_solve", order);
    const orders = Array.isArray(answer) ? answer : [answer]; // a close split into closetoday + closeyesterday: both
    showAnswer(orders.map(latest));
    desk_.refreshSoon();
  } catch (error) {
    // a split close with a piece refused: the server's message, and the pieces it did send
    const sent = Array.isArray(error.data) && error.data.length ? ` · ${describe(error.data)}` : "";
    show(t("ticket.refused", { msg: error.message }) + sent, "error");
    if (sent) desk_.refreshSoon();
  } finally {
    sending = false;
    button.disabled = Boolean(killed);
  }
}

function showAnswer(orders) {
  show(describe(orders), orders.some((one) => one.status === "rejected") ? "error" : "ok", orders);
}

// How far an order has gone: an answer or a push that is behind what is already known never moves it back.
const PROGRESS = { submitting: 0, nottraded: 1, parttraded: 2, alltraded: 3, cancelled: 3, rejected: 3 };
const progress = (order) => [PROGRESS[order.status] ?? 0, order.traded || 0];

function latest(order) {
  const pushed = state.orders.get(order.order_id);
  if (!pushed) return order;
  const [a, b] = [progress(pushed), progress(order)];
  return a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]) ? pushed : order;
}

// An order pushed after the answer (the fill of an order that rested, its cancel): the line says so.
function followAnswer() {
  if (!answered.length) return;
  const now = answered.map(latest);
  if (now.some((order, i) => order !== answered[i])) showAnswer(now);
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

// --- the position under the ticket: what 平 would close, and how the engine sends it ----------------
function held(symbol) {
  const lots = { long: { volume: 0, yd: 0 }, short: { volume: 0, yd: 0 } };
  for (const position of state.positions) {
    if (position.local_symbol !== symbol || !lots[position.direction]) continue;
    lots[position.direction].volume += position.volume || 0;
    lots[position.direction].yd += position.yd_volume || 0;
  }
  return lots;
}

function showHint() {
  const hint = document.getElementById("ticket-hint");
  if (!hint || !form) return;
  const symbol = form.elements.local_symbol.value;
  const lots = held(symbol);
  const side = (name) => t("ticket.heldSide", {
    side: label("direction", name), volume: lots[name].volume, today: lots[name].volume - lots[name].yd,
  });
  let text = symbol ? t("ticket.held", { long: side("long"), short: side("short") }) : "";
  const contract = contractOf(symbol);
  if (form.elements.offset.value === "close" && contract && ["SHFE", "INE"].includes(contract.exchange)) {
    text += t("ticket.closeSplits"); // SHFE/INE keep today's and yesterday's lots apart: the engine splits 平
  }
  if (hint.textContent !== text) hint.textContent = text;
}

// --- hotkeys -----------------------------------------------------------------------------------------
function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.matches("input[type=checkbox], input[type=radio]")) return false; // 买/卖 or 一键下单 just clicked: no typing there
  return Boolean(target.closest("input, select, textarea, [contenteditable=''], [contenteditable='true'], .CodeMirror"));
}

function onTradePage() {
  const page = document.getElementById("page-trade");
  const deskView = document.getElementById("desk-view");
  if (document.querySelector("dialog[open]")) return false; // Esc closes the dialog, never cancels orders behind it
  return Boolean(form) && page && !page.hidden && deskView && !deskView.hidden && Boolean(form.elements.local_symbol.value);
}

function onKey(event) {
  if (event.repeat || event.altKey || typing(event.target) || !onTradePage()) return;
  const action = hotkeys()[event.key];
  if (!action) return;
  event.preventDefault(); // F1 is the browser's help otherwise
  runAction(action);
}

function setSide(side, offset) {
  for (const radio of form.elements.direction) radio.checked = radio.value === side;
  form.elements.offset.value = offset;
  syncType();
  follow();
  showHint();
}

// One hotkey's action: the ticket takes the side and offset (so it shows what was sent) and sends.
export async function runAction(action) {
  const symbol = form.elements.local_symbol.value;
  if (action === "cancel_instrument") {
    await cancelOrders(state.activeOrders.filter((order) => order.local_symbol === symbol));
    return;
  }
  if (action === "close") {
    // close the one side held: a long is sold, a short bought; at most the ticket's volume
    const lots = held(symbol);
    const sides = ["long", "short"].filter((side) => lots[side].volume > 0);
    if (sides.length !== 1) {
      show(t(sides.length ? "ticket.closeWhich" : "ticket.closeNothing", { symbol }), "error");
      return;
    }
    const volume = Math.min(Number(form.elements.volume.value) || 1, lots[sides[0]].volume);
    form.elements.volume.value = String(volume);
    setSide(sides[0] === "long" ? "short" : "long", "close");
  } else if (action !== "send") {
    const [side, offset] = action.split("_");
    setSide(side === "buy" ? "long" : "short", offset);
  }
  await send();
}

function showKeys() {
  const line = document.getElementById("ticket-keys");
  if (!line) return;
  const keys = Object.entries(hotkeys()).map(([key, action]) => `${key === "Escape" ? "Esc" : key} ${t(`ticket.key.${action}`)}`);
  line.textContent = keys.length ? keys.join(" · ") : "";
  line.title = t("ticket.keysHow");
}
