// Market watch: search and subscribe, one row per instrument updated in place, the depth ladder.

import { api } from "./api.js";
import { decimalsOf, el, integer, percent, price, signClass } from "./format.js";
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
    shown = [];
    for (const contract of state.contracts.values()) {
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
    }, el("b", {}, contract.local_symbol), " ", contract.name || "",
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
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && shown.length && !list.hidden) {
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
}

export async function subscribe(desk, symbol) {
  try {
    await api("POST", "/market", { symbol });
    if (!state.watch.includes(symbol)) state.watch.push(symbol);
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
    mark("watch");
    desk.refreshStatus();
  } catch (error) {
    desk.toast(t("watch.unsubscribeFailed", { symbol, msg: error.message }), "error");
  }
}

export async function loadMarket() {
  const [contracts, subscribed] = await Promise.all([api("GET", "/contract"), api("GET", "/market")]);
  state.contracts = new Map(contracts.map((contract) => [contract.local_symbol, contract]));
  state.watch = [];
  for (const entry of subscribed) {
    const symbol = entry.local_symbol || entry;
    state.watch.push(symbol);
    if (entry.tick) state.ticks.set(symbol, entry.tick);
  }
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
  const row = el("tr", { dataset: { symbol }, onclick: () => desk_.select(symbol) },
    el("td", { title: contract.name || "" }, el("b", {}, symbol), el("small", {}, contract.name || "")),
    cells.last, cells.change, cells.bid, cells.ask, cells.volume, cells.oi, el("td", {}, remove));
  for (const [name, side] of [["last", "last_price"], ["bid", "bid_price_1"], ["ask", "ask_price_1"]]) {
    cells[name].addEventListener("click", (event) => {
      event.stopPropagation();
      desk_.select(symbol);
      const tick = state.ticks.get(symbol);
      if (tick) desk_.fillPrice(tick[side]);
    });
  }
  return { row, cells, last: null };
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
