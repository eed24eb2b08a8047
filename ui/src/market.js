// Market watch: search and subscribe, one row per instrument updated in place, the depth ladder.

import { api } from "./api.js";
import { decimalsOf, el, integer, percent, price, signClass } from "./format.js";
import { marketDown, staleSymbols } from "./health.js";
import { t } from "./i18n.js";
import { mark, onRender, state, tickChanged } from "./state.js";

const MAX_SUGGESTIONS = 30;
const rows = new Map(); // local_symbol -> {row, cells, last}

export function decimalsFor(symbol) {
  const contract = state.contracts.get(symbol);
  return decimalsOf(contract ? contract.pricetick : 0.01);
}

export function initMarket(desk) {
  const search = document.getElementById("search");
  const list = document.getElementById("suggestions");
  let shown = [];

  function suggest() {
    const text = search.value.trim().toLowerCase();
    if (!text) {
      list.hidden = true;
      return;
    }
    shown = mainFirst(text);
    for (const contract of state.contracts.values()) {
      if (shown.includes(contract)) continue;
      const symbol = contract.local_symbol.toLowerCase();
      if (symbol.startsWith(text) || (contract.product_id || "").toLowerCase() === text
          || (contract.name || "").toLowerCase().includes(text) || contract.exchange.toLowerCase() === text) {
        shown.push(contract);
        if (shown.length >= MAX_SUGGESTIONS) break;
      }
    }
    list.replaceChildren(...shown.map((contract, index) => el("li", {
      className: index === 0 ? "active" : "",
      dataset: { symbol: contract.local_symbol },
      onmousedown: (event) => { event.preventDefault(); choose(contract.local_symbol); },
    }, el("b", {}, contract.local_symbol), contract.is_main ? mainBadge() : null, " ", contract.name || "",
    state.watch.includes(contract.local_symbol) ? el("small", {}, t("watch.watching")) : null)));
    list.hidden = shown.length === 0;
  }

  async function choose(symbol) {
    list.hidden = true;
    search.value = "";
    await subscribe(desk, symbol);
    desk.select(symbol);
  }

  search.addEventListener("input", suggest);
  search.addEventListener("blur", () => { list.hidden = true; });
  search.title = t("watch.searchMany");
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && /[,，;；\s]/.test(search.value.trim())) { // several at once: rb, m, IF
      event.preventDefault();
      list.hidden = true;
      const text = search.value;
      search.value = "";
      addMany(desk, text);
    } else if (event.key === "Enter" && shown.length && !list.hidden) {
      event.preventDefault();
      choose(shown[0].local_symbol);
    } else if (event.key === "Escape") {
      list.hidden = true;
    }
  });

  onRender("watch", drawWatchList);
  onRender("ticks", (changed) => {
    for (const symbol of changed) drawRow(symbol);
    if (changed.has(state.selected)) mark("depth");
  });
  onRender("depth", () => drawDepth(desk));
  onRender("ticks-stale", drawStale);
  setInterval(() => mark("ticks-stale"), 1000);
  initReorder(desk);
}

export async function subscribe(desk, symbol) {
  try {
    await api("POST", "/market", { symbol });
    if (!state.watch.includes(symbol)) state.watch.push(symbol);
    saveOrder();
    mark("watch");
    desk.refreshStatus(); // the count of subscriptions (Config's "Subscribed") changed
  } catch (error) {
    desk.toast(t("watch.subscribeFailed", { symbol, msg: error.message }), "error");
  }
}

async function unsubscribe(desk, symbol) {
  try {
    await api("DELETE", "/market", { symbol });
    state.watch = state.watch.filter((name) => name !== symbol);
    saveOrder();
    mark("watch");
    desk.refreshStatus();
  } catch (error) {
    desk.toast(t("watch.unsubscribeFailed", { symbol, msg: error.message }), "error");
  }
}

export async function loadMarket() {
  const [contracts, subscribed] = await Promise.all([api("GET", "/contract"), api("GET", "/market")]);
  state.contracts = new Map(contracts.map((contract) => [contract.local_symbol, contract]));
  const names = [];
  for (const entry of subscribed) {
    const symbol = entry.local_symbol || entry;
    names.push(symbol);
    if (entry.tick) state.ticks.set(symbol, entry.tick);
  }
  state.watch = inSavedOrder(names);
  if (!names.length && savedOrder() === null) await defaultWatch(); // the first login in this browser
  mark("watch", "depth");
}

export function applyTick(tick) {
  const previous = state.ticks.get(tick.local_symbol);
  if (previous && previous.datetime > tick.datetime) return;
  state.ticks.set(tick.local_symbol, tick);
  tickChanged(tick.local_symbol);
}

function drawWatchList() {
  const tbody = document.querySelector("#watch tbody");
  const wanted = new Set(state.watch);
  for (const [symbol, entry] of rows) {
    if (!wanted.has(symbol)) {
      entry.row.remove();
      rows.delete(symbol);
    }
  }
  for (const symbol of state.watch) {
    const main = Boolean((state.contracts.get(symbol) || {}).is_main);
    if (rows.has(symbol) && rows.get(symbol).main !== main) { // the main contract moved (the roll): redraw its row
      rows.get(symbol).row.remove();
      rows.delete(symbol);
    }
    if (!rows.has(symbol)) rows.set(symbol, makeRow(symbol));
    tbody.append(rows.get(symbol).row); // keeps the subscription order
    drawRow(symbol);
  }
}

let desk_ = null;
export function bindDesk(desk) {
  desk_ = desk;
}

function makeRow(symbol) {
  const contract = state.contracts.get(symbol) || {};
  const cells = {
    last: el("td", { className: "num price" }),
    change: el("td", { className: "num" }),
    bid: el("td", { className: "num price bid", title: t("watch.fill") }),
    ask: el("td", { className: "num price ask", title: t("watch.fill") }),
    volume: el("td", { className: "num" }),
    oi: el("td", { className: "num" }),
  };
  const remove = el("button", {
    className: "icon", title: t("watch.unsubscribe", { symbol }), textContent: "×",
    onclick: (event) => { event.stopPropagation(); unsubscribe(desk_, symbol); },
  });
  const row = el("tr", { dataset: { symbol }, draggable: true, title: t("watch.drag"), onclick: () => desk_.select(symbol) },
    el("td", { title: `${symbol} ${contract.name || ""}` }, el("b", {}, symbol.slice(0, symbol.lastIndexOf(".")) || symbol),
      el("small", {}, contract.is_main ? mainBadge() : null, contract.name || "")),
    cells.last, cells.change, cells.bid, cells.ask, cells.volume, cells.oi, el("td", {}, remove));
  for (const [name, side] of [["last", "last_price"], ["bid", "bid_price_1"], ["ask", "ask_price_1"]]) {
    cells[name].addEventListener("click", (event) => {
      event.stopPropagation();
      desk_.select(symbol);
      const tick = state.ticks.get(symbol);
      if (tick) desk_.fillPrice(tick[side]);
    });
  }
  return { row, cells, last: null, main: Boolean(contract.is_main) };
}

function drawRow(symbol) {
  const entry = rows.get(symbol);
  const tick = state.ticks.get(symbol);
  if (!entry || !tick) return;
  const decimals = decimalsFor(symbol);
  const base = tick.pre_settlement_price || tick.pre_close || 0;
  const change = base ? Math.round(((tick.last_price - base) / base) * 10000) / 100 : 0; // as shown: 2 decimals
  const { cells } = entry;
  cells.last.textContent = price(tick.last_price, decimals);
  cells.last.className = `num price ${signClass(change)}`;
  if (entry.last !== null && tick.last_price !== entry.last) {
    const flash = tick.last_price > entry.last ? "flash-up" : "flash-down";
    cells.last.classList.add(flash); // the class restarts its animation on each draw
  }
  entry.last = tick.last_price;
  cells.change.textContent = base ? percent(change) : "";
  cells.change.className = `num ${signClass(change)}`;
  cells.bid.textContent = price(tick.bid_price_1, decimals);
  cells.ask.textContent = price(tick.ask_price_1, decimals);
  cells.volume.textContent = integer(tick.volume);
  cells.oi.textContent = integer(tick.open_interest);
  entry.row.classList.toggle("selected", symbol === state.selected);
}

export function markSelectedRow() {
  for (const [symbol, entry] of rows) entry.row.classList.toggle("selected", symbol === state.selected);
}

function drawDepth(desk) {
  const tbody = document.querySelector("#depth tbody");
  const symbol = state.selected;
  const tick = state.ticks.get(symbol);
  tbody.parentElement.dataset.symbol = tick ? symbol : ""; // whose ladder this is (a click on another's is ignored)
  if (!tick) {
    tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 4, className: "muted" }, symbol ? t("depth.waiting") : "")));
    return;
  }
  if (desk.ticketTick) desk.ticketTick(tick); // the ticket's price follows the same tick the ladder shows
  const decimals = decimalsFor(symbol);
  const working = workingByPrice(symbol);
  // a click fills the ticket's price (Ctrl/⌘ or 一键下单: sends it); a right click cancels the orders working there.
  // On the press, not on "click": the ladder is redrawn a few times a second, and a row replaced between
  // the press and the release would lose the click.
  const press = (value) => (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    desk.ladderClick(value, event, symbol);
  };
  const priceCell = (value) => el("td", {
    className: "num price clickable", title: t("depth.click"), dataset: { price: value }, onmousedown: press(value),
  }, price(value, decimals));
  const level = (side, n) => {
    const value = tick[`${side}_price_${n}`];
    return ladderRow(desk, symbol, value, working, { className: side },
      el("td", {}, t(side === "ask" ? "depth.ask" : "depth.bid", { n })),
      priceCell(value),
      el("td", { className: "num" }, integer(tick[`${side}_volume_${n}`])));
  };
  const asks = [5, 4, 3, 2, 1].map((n) => level("ask", n));
  const bids = [1, 2, 3, 4, 5].map((n) => level("bid", n));
  const last = el("tr", { className: "last" }, el("td", {}, t("depth.last")),
    el("td", { className: "num price clickable", title: t("depth.click"), onmousedown: press(tick.last_price) },
      price(tick.last_price, decimals)),
    el("td", { className: "num muted", colSpan: 2, title: t("depth.limits") },
      `${price(tick.limit_down, decimals)} – ${price(tick.limit_up, decimals)}`));
  // the book's rows by price, high to low, the last price between the best ask and bid; then a row of
  // its own for each price with working orders that the book does not show
  const middle = ((tick.ask_price_1 || tick.last_price) + (tick.bid_price_1 || tick.last_price)) / 2;
  const placed = [
    ...asks.map((row, i) => [tick[`ask_price_${5 - i}`], row]), [middle, last],
    ...bids.map((row, i) => [tick[`bid_price_${i + 1}`], row]),
  ];
  for (const [key, orders] of working) {
    if (orders.shown) continue;
    placed.push([orders.price, ladderRow(desk, symbol, orders.price, working, { className: "working" },
      el("td", {}, t("depth.workingRow")), priceCell(orders.price), el("td", {}))]);
    working.get(key).shown = true;
  }
  // empty levels (price 0) keep their place in the book; working rows go where their price falls
  const book = placed.slice(0, 11);
  const extra = placed.slice(11).sort((a, b) => b[0] - a[0]);
  const rowsOut = [];
  let i = 0;
  for (const [value, row] of book) {
    while (i < extra.length && value && extra[i][0] > value) rowsOut.push(extra[i++][1]);
    rowsOut.push(row);
  }
  while (i < extra.length) rowsOut.push(extra[i++][1]);
  tbody.replaceChildren(...rowsOut);
}

// The instrument's working orders by price (a key on the tick grid): {price, long, short, orders, shown}.
function workingByPrice(symbol) {
  const contract = state.contracts.get(symbol);
  const tick = contract ? contract.pricetick : 0.01;
  const levels = new Map();
  for (const order of state.activeOrders) {
    if (order.local_symbol !== symbol) continue;
    const key = Math.round(order.price / tick);
    const level = levels.get(key) || { price: order.price, long: 0, short: 0, orders: [], shown: false };
    level[order.direction === "short" ? "short" : "long"] += Math.max(0, order.volume - (order.traded || 0));
    level.orders.push(order);
    levels.set(key, level);
  }
  levels.tick = tick;
  return levels;
}

// A ladder row with its working orders ("挂 2", the side's colour, a × that cancels them; a right click too).
function ladderRow(desk, symbol, value, working, props, ...cells) {
  const key = value ? Math.round(value / working.tick) : null;
  const level = key === null ? null : working.get(key);
  if (!level) return el("tr", props, ...cells, el("td", { className: "num working-cell" }));
  level.shown = true;
  const cancel = (event) => { event.preventDefault(); event.stopPropagation(); desk.cancelAt(symbol, level.price); };
  const pressX = (event) => { if (event.button === 0) cancel(event); }; // on the press too (see drawDepth)
  const parts = [];
  if (level.long) parts.push(el("span", { className: "up" }, t("depth.working", { side: t("ticket.buy"), n: level.long })));
  if (level.short) parts.push(el("span", { className: "down" }, t("depth.working", { side: t("ticket.sell"), n: level.short })));
  const cell = el("td", { className: "num working-cell", dataset: { testid: "depth-working", working: level.long + level.short } },
    ...parts, el("button", { className: "icon", title: t("depth.cancel"), textContent: "×", dataset: { testid: "depth-cancel" }, onmousedown: pressX }));
  const row = el("tr", { ...props, className: `${props.className} has-working`, dataset: { workingPrice: level.price },
    title: t("depth.rightClick"), oncontextmenu: cancel }, ...cells, cell);
  return row;
}

// --- issue 17 item 5: the default list, several at once, the user's order, the main contract -----------
// The order is the trader's, kept in this browser (localStorage, WATCH_KEY): the server keeps the
// subscriptions (a set); the page shows them in the saved order, new ones at the end. A browser that never
// had a list (no saved order) and a server with no subscriptions get DEFAULT_WATCH main contracts of the
// products with the most open interest (GET /contract?main=1).
const WATCH_KEY = "ctpdesk.watch";
const DEFAULT_WATCH = 12;
const MAIN_TRIES = 16; // the open-interest query follows the login: a fresh login may wait for it (~8 s)

function mainBadge() {
  return el("span", { className: "main-badge", title: t("watch.mainTitle"), dataset: { testid: "main-badge" } }, t("watch.main"));
}

function savedOrder() {
  try {
    const saved = JSON.parse(localStorage.getItem(WATCH_KEY));
    return Array.isArray(saved) ? saved : null;
  } catch {
    return null;
  }
}

function saveOrder() {
  try {
    localStorage.setItem(WATCH_KEY, JSON.stringify(state.watch));
  } catch {
    // private mode: the order lasts for this page
  }
}

function inSavedOrder(names) {
  const saved = savedOrder() || [];
  const present = new Set(names);
  const ordered = saved.filter((name) => present.has(name));
  const kept = new Set(ordered);
  return [...ordered, ...names.filter((name) => !kept.has(name))];
}

async function defaultWatch() {
  let mains = [];
  for (let attempt = 0; attempt < MAIN_TRIES && !mains.length; attempt += 1) {
    if (attempt) await new Promise((resolve) => setTimeout(resolve, 500));
    mains = await api("GET", "/contract", { main: 1, limit: DEFAULT_WATCH }).catch(() => []);
  }
  if (!mains.length) return; // not logged in, or no open interest yet: the next load tries again
  const contracts = await api("GET", "/contract").catch(() => []); // now with every product's main marked
  for (const contract of [...contracts, ...mains]) state.contracts.set(contract.local_symbol, contract);
  const symbols = mains.map((main) => main.local_symbol);
  try {
    await api("POST", "/market", { symbols });
  } catch (error) {
    if (desk_) desk_.toast(t("watch.defaultFailed", { msg: error.message }), "error");
    return;
  }
  state.watch = [...symbols, ...state.watch.filter((symbol) => !symbols.includes(symbol))]; // and any picked meanwhile
  saveOrder();
  if (desk_) desk_.refreshStatus();
}

// A product code's main contract first among the suggestions (Enter takes it).
function mainFirst(text) {
  const main = mainOf(text);
  return main ? [main] : [];
}

function mainOf(product) {
  const wanted = product.toLowerCase();
  let found = null;
  for (const contract of state.contracts.values()) {
    const id = (contract.product_id || "").toLowerCase();
    if (contract.is_main && id === wanted && (!found || contract.product_id === product)) found = contract;
  }
  return found;
}

// One token of "rb, m2609, IF2612.CFFEX": a local_symbol, a symbol, or a product code (its main contract now,
// asked of the server: the page's flags are as of its load).
async function resolve(token) {
  const lower = token.toLowerCase();
  for (const contract of state.contracts.values()) {
    if (contract.local_symbol.toLowerCase() === lower || contract.symbol.toLowerCase() === lower) return contract.local_symbol;
  }
  for (const product of new Set([token, lower, token.toUpperCase()])) {
    const [main] = await api("GET", "/contract", { main: 1, product, limit: 1 }).catch(() => []);
    if (main) {
      state.contracts.set(main.local_symbol, main);
      return main.local_symbol;
    }
  }
  return null;
}

async function addMany(desk, text) {
  const tokens = [...new Set(text.split(/[,，;；\s]+/).map((token) => token.trim()).filter(Boolean))];
  const symbols = [];
  const unknown = [];
  for (const token of tokens) {
    const symbol = await resolve(token);
    if (symbol && !symbols.includes(symbol)) symbols.push(symbol);
    else if (!symbol) unknown.push(token);
  }
  if (symbols.length) {
    try {
      await api("POST", "/market", { symbols });
    } catch (error) {
      desk.toast(t("watch.subscribeFailed", { symbol: symbols.join(", "), msg: error.message }), "error");
      return;
    }
    for (const symbol of symbols) if (!state.watch.includes(symbol)) state.watch.push(symbol);
    saveOrder();
    mark("watch");
    desk.refreshStatus();
    desk.select(symbols[0]);
  }
  if (unknown.length) desk.toast(t("watch.unknown", { names: unknown.join(", ") }), "error");
  else desk.toast(t("watch.added", { n: symbols.length, symbols: symbols.join(", ") }));
}

// Drag a row to its place (HTML drag and drop), or Alt+↑/↓ moves the selected one.
function initReorder(desk) {
  const tbody = document.querySelector("#watch tbody");
  let dragged = "";
  tbody.addEventListener("dragstart", (event) => {
    const row = event.target.closest("tr[data-symbol]");
    if (!row) return;
    dragged = row.dataset.symbol;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged);
  });
  tbody.addEventListener("dragover", (event) => {
    if (dragged) event.preventDefault();
  });
  tbody.addEventListener("drop", (event) => {
    const row = event.target.closest("tr[data-symbol]");
    event.preventDefault();
    if (row && dragged && row.dataset.symbol !== dragged) moveTo(dragged, state.watch.indexOf(row.dataset.symbol));
    dragged = "";
  });
  tbody.addEventListener("dragend", () => { dragged = ""; });
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown") || !state.watch.includes(state.selected)) return;
    if (event.target.closest && event.target.closest("input, select, textarea, .CodeMirror")) return;
    event.preventDefault();
    const at = state.watch.indexOf(state.selected);
    moveTo(state.selected, Math.max(0, Math.min(state.watch.length - 1, at + (event.key === "ArrowUp" ? -1 : 1))));
    desk.select(state.selected);
  });
}

function moveTo(symbol, index) {
  if (index < 0) return;
  const rest = state.watch.filter((name) => name !== symbol);
  rest.splice(index, 0, symbol);
  state.watch = rest;
  saveOrder();
  mark("watch");
}

// --- issue 17 item 6: stale prices greyed (health.js says when) --------------------------------------------
function drawStale() {
  const down = marketDown();
  const stale = down ? new Map() : staleSymbols();
  for (const [symbol, entry] of rows) {
    const behind = stale.get(symbol);
    const isStale = Boolean(down) || behind !== undefined;
    if (entry.row.classList.contains("stale") !== isStale || (isStale && entry.row.dataset.staleFor !== String(behind ?? ""))) {
      entry.row.classList.toggle("stale", isStale);
      entry.row.dataset.staleFor = String(behind ?? "");
      entry.row.title = behind !== undefined ? t("link.rowStale", { seconds: behind }) : t("watch.drag");
    }
  }
  const depth = document.getElementById("depth");
  if (depth) depth.classList.toggle("stale", Boolean(down) || stale.has(state.selected));
}
