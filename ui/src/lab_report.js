// The Lab's reports (issue 18): a finished backtest as its statistics, equity and drawdown, its fills as
// arrows on the candles of its range (GET /bar), its fills and daily P&L; a sweep as its points ranked by
// the target, with a heat map when two params were swept. lab.js fetches the run and hands it here.

import { api } from "./api.js";
import { decimalsOf, el, exchangeTime, integer, label, money, price, signClass, tradingDay, when } from "./format.js";
import { t } from "./i18n.js";
import { state } from "./state.js";

const SHANGHAI_OFFSET = 8 * 3600; // the charts draw UTC: shift so the axis shows exchange time
const UP = "#e0294a";
const DOWN = "#13a36b";
const MAX_CANDLES = 20_000; // GET /bar's limit
const MAX_TRADES_LISTED = 500;
const VISIBLE_CANDLES = 240; // the candles the report opens on (the last ones; scroll or zoom for the rest)
const MARKER_TEXTS = 40; // up to this many fills the arrows say what they were (买开 1@3500)
export const STATISTICS = [
  "total_return", "annual_return", "sharpe_ratio", "max_drawdown", "max_drawdown_days", "return_drawdown_ratio",
  "win_rate", "profit_factor", "trade_count", "turnover", "commission", "slippage", "net_pnl",
];
const SHARES = new Set(["total_return", "annual_return", "max_drawdown", "win_rate"]); // fractions shown as %
const RATIOS = new Set(["sharpe_ratio", "return_drawdown_ratio", "profit_factor"]);
const COUNTS = new Set(["max_drawdown_days", "trade_count"]);
const SMALLER_IS_BETTER = new Set(["max_drawdown", "max_drawdown_days"]);

let shownCharts = []; // the shown report's charts, removed before the next one
let generation = 0; // a newer report makes an older one's late answers stale

export function clearCharts() {
  for (const chart of shownCharts) chart.remove();
  shownCharts = [];
  generation += 1;
}

// A run's range as exchange calendar days ("2026-11-28 – 2026-12-05"); "…" for an open end.
export function rangeText(item) {
  const day = (value) => {
    const stamp = value === null || value === undefined ? null : exchangeTime(typeof value === "number" ? value / 1000 : value);
    return stamp ? stamp.day : "…";
  };
  return `${day(item.start)} – ${day(item.end)}`;
}

export function statText(name, value) {
  if (value === undefined) return "";
  if (value === null) return name === "profit_factor" ? "∞" : "–";
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  if (SHARES.has(name)) return `${(number * 100).toFixed(2)}%`;
  if (RATIOS.has(name)) return number.toFixed(2);
  if (COUNTS.has(name)) return integer(number);
  return money(number);
}

export async function backtestReport(body, data) {
  const stats = data.stats || {};
  const table = el("table", { className: "lab-stats", dataset: { testid: "lab-stats" } },
    el("tbody", {}, ...STATISTICS.map((name) => el("tr", {},
      el("th", {}, t(`stat.${name}`)),
      el("td", { className: `num ${statClass(name, stats[name])}`, dataset: { stat: name, value: String(stats[name]) } }, statText(name, stats[name]))))));
  const facts = el("p", { className: "muted lab-facts" }, t("lab.facts", {
    capital: money(stats.capital ?? data.capital), end: money(stats.end_balance), days: integer(stats.total_days ?? (data.daily || []).length),
  }));
  const equity = el("div", { className: "lab-chart", dataset: { testid: "lab-equity" } });
  const candles = el("div", { className: "lab-chart tall", dataset: { testid: "lab-candles" } });
  const trades = tradesTable(data.trades || [], data.local_symbol);
  body.append(el("div", { className: "lab-report-grid" },
    el("div", { className: "lab-report-stats" }, table, facts),
    el("div", { className: "lab-report-charts" },
      el("h3", {}, t("lab.equity")), equity,
      el("h3", {}, t("lab.candles")), candles)),
    el("div", { className: "lab-tables" },
      el("div", {}, el("h3", {}, t("lab.trades", { n: (data.trades || []).length })), trades),
      el("div", {}, el("h3", {}, t("lab.daily", { n: (data.daily || []).length })), dailyTable(data.daily || []))));
  drawEquity(equity, data.equity || []);
  await drawCandles(candles, data);
}

function statClass(name, value) {
  return ["total_return", "annual_return", "net_pnl"].includes(name) ? signClass(value) : "";
}

function tradesTable(trades, symbol) {
  const contract = state.contracts.get(symbol);
  const decimals = decimalsOf(contract ? Number(contract.pricetick) : 1);
  const rows = trades.slice(0, MAX_TRADES_LISTED).map((trade) => el("tr", {},
    el("td", {}, when(trade.time)),
    el("td", { className: trade.direction === "long" ? "up" : "down" }, label("side", trade.direction)),
    el("td", {}, label("offset", trade.offset)),
    el("td", { className: "num" }, price(trade.price, decimals)),
    el("td", { className: "num" }, integer(trade.volume))));
  return el("div", { className: "scroll lab-trades" }, el("table", { dataset: { testid: "lab-trades" } },
    el("thead", {}, el("tr", {}, ...["col.time", "col.side", "col.offset", "col.price", "col.volume"].map((key) => el("th", {}, t(key))))),
    el("tbody", {}, ...rows)));
}

// Per trading day: its P&L after fees, fees, fills and the balance after its settlement.
function dailyTable(daily) {
  const rows = daily.map((day) => el("tr", { dataset: { date: day.date } },
    el("td", {}, tradingDay(day.date)),
    el("td", { className: `num ${signClass(day.net_pnl)}` }, money(day.net_pnl)),
    el("td", { className: "num" }, money(day.commission)),
    el("td", { className: "num" }, integer(day.trade_count)),
    el("td", { className: "num" }, money(day.balance))));
  return el("div", { className: "scroll lab-trades" }, el("table", { dataset: { testid: "lab-daily" } },
    el("thead", {}, el("tr", {}, ...["lab.day", "stat.net_pnl", "stat.commission", "stat.trade_count", "lab.balance"].map((key) => el("th", {}, t(key))))),
    el("tbody", {}, ...rows)));
}

function newChart(container, options = {}) {
  const charts = window.LightweightCharts;
  const chart = charts.createChart(container, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: "#c9d1d9", fontSize: 11, attributionLogo: false },
    grid: { vertLines: { color: "#1f2630" }, horzLines: { color: "#1f2630" } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#30363d" },
    rightPriceScale: { borderColor: "#30363d", minimumWidth: 72 },
    ...options,
  });
  shownCharts.push(chart);
  return chart;
}

const chartTime = (ms) => Math.floor(ms / 1000) + SHANGHAI_OFFSET;

// Points of one series: ascending, one per time (the library refuses anything else).
function ascending(points) {
  const out = [];
  for (const point of points) {
    if (out.length && point.time <= out[out.length - 1].time) {
      if (point.time === out[out.length - 1].time) out[out.length - 1] = point;
      continue;
    }
    out.push(point);
  }
  return out;
}

function drawEquity(container, equity) {
  const charts = window.LightweightCharts;
  const chart = newChart(container);
  const balance = chart.addSeries(charts.LineSeries, { color: "#58a6ff", lineWidth: 2, priceLineVisible: false, title: t("lab.balance") });
  const drawdown = chart.addSeries(charts.AreaSeries, {
    lineColor: DOWN, topColor: "rgba(19, 163, 107, .05)", bottomColor: "rgba(19, 163, 107, .45)", lineWidth: 1,
    priceLineVisible: false, title: t("lab.drawdown"), invertFilledArea: true,
  }, 1);
  const points = ascending(equity.map(([ms, value, down]) => ({ time: chartTime(ms), value, down })));
  balance.setData(points.map(({ time, value }) => ({ time, value })));
  drawdown.setData(points.map(({ time, down }) => ({ time, value: down })));
  chart.panes()[0].setStretchFactor(3);
  chart.panes()[1].setStretchFactor(1);
  chart.timeScale().fitContent();
  container.dataset.points = String(points.length);
  container.dataset.last = points.length ? String(points[points.length - 1].value) : "";
}

// The run's bars as candles (GET /bar over its range), each trade an arrow on the bar it filled in.
async function drawCandles(container, data) {
  const fields = { local_symbol: data.local_symbol, interval: data.interval || "1m", limit: MAX_CANDLES };
  const trades = data.trades || [];
  const tradeMs = trades.map((trade) => new Date(trade.time).getTime());
  const first = data.start ?? (tradeMs.length ? Math.min(...tradeMs) : null);
  const last = data.end ?? (tradeMs.length ? Math.max(...tradeMs) : null);
  if (first !== null && first !== undefined) fields.start = first;
  if (last !== null && last !== undefined) fields.end = last;
  const mine = generation;
  let bars = [];
  try {
    bars = await api("GET", "/bar", fields);
  } catch (error) {
    container.append(el("p", { className: "message error" }, error.message));
    return;
  }
  if (mine !== generation) return; // another report replaced this one meanwhile
  const charts = window.LightweightCharts;
  const chart = newChart(container);
  const candles = chart.addSeries(charts.CandlestickSeries, {
    upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false,
  });
  const points = ascending(bars.map(([ms, open, high, low, close]) => ({ time: chartTime(ms), open, high, low, close, ms })));
  candles.setData(points.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
  const starts = points.map((point) => point.ms);
  const markers = [];
  trades.forEach((trade, index) => {
    const at = barIndex(starts, tradeMs[index]);
    if (at < 0) return;
    const long = trade.direction === "long";
    markers.push({
      time: points[at].time, position: long ? "belowBar" : "aboveBar", color: long ? UP : DOWN,
      shape: long ? "arrowUp" : "arrowDown",
      text: `${label("side", trade.direction)}${label("offset", trade.offset)} ${trade.volume}@${trade.price}`,
    });
  });
  markers.sort((a, b) => a.time - b.time);
  if (markers.length > MARKER_TEXTS) for (const marker of markers) delete marker.text; // arrows only: words would cover the candles
  charts.createSeriesMarkers(candles, markers);
  chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, points.length - VISIBLE_CANDLES) - 0.5, to: points.length + 2 });
  container.dataset.bars = String(points.length);
  container.dataset.markers = String(markers.length);
}

// The bar a moment falls in: the last one starting at or before it (-1 before the first).
function barIndex(starts, ms) {
  let low = 0;
  let high = starts.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (starts[middle] <= ms) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

// --- a sweep's report -------------------------------------------------------------------------------

// --- a sweep's report -------------------------------------------------------------------------------

export function sweepReport(body, data, apply) {
  const target = data.target || "sharpe_ratio";
  const ranked = data.runs || []; // best first
  const axes = sweptAxes(ranked);
  body.append(el("p", { className: "muted", dataset: { testid: "lab-sweep-facts" } },
    t("lab.sweepFacts", { n: ranked.length, target: t(`stat.${target}`), where: data.where === "local" || !data.where ? t("lab.local") : data.where })));
  const columns = ["total_return", "sharpe_ratio", "max_drawdown", "trade_count", "net_pnl"].filter((name) => name !== target);
  const rows = ranked.map((point, index) => el("tr", { dataset: { rank: index + 1, params: JSON.stringify(point.params) } },
    el("td", { className: "num" }, index + 1),
    el("td", {}, Object.entries(point.params).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join("  ")),
    el("td", { className: "num target", dataset: { value: String(point.stats ? point.stats[target] : "") } },
      point.error ? el("span", { className: "error", title: point.error }, t("lab.pointFailed")) : statText(target, point.stats[target])),
    ...columns.map((name) => el("td", { className: "num" }, point.stats ? statText(name, point.stats[name]) : "")),
    el("td", {}, point.error ? null : el("button", { className: "small", textContent: t("lab.apply"), dataset: { testid: "lab-apply" },
      title: t("lab.apply.title"), onclick: () => apply(point) }))));
  const pick = (point) => { // a heat map cell picked: its row in the ranking
    const row = rows[ranked.indexOf(point)];
    for (const other of rows) other.classList.toggle("selected", other === row);
    row.scrollIntoView({ block: "nearest" });
  };
  if (axes.length === 2) body.append(heatMap(ranked, axes, target, pick));
  body.append(el("div", { className: "scroll lab-ranked" }, el("table", { dataset: { testid: "lab-ranked" } },
    el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, t("lab.col.params")), el("th", { className: "num" }, t(`stat.${target}`)),
      ...columns.map((name) => el("th", { className: "num" }, t(`stat.${name}`))), el("th", {}))),
    el("tbody", {}, ...rows))));
}

// The params whose values differ between the points, with their values in ascending order.
function sweptAxes(ranked) {
  const values = new Map();
  for (const point of ranked) {
    for (const [name, value] of Object.entries(point.params || {})) {
      if (!values.has(name)) values.set(name, new Map());
      values.get(name).set(JSON.stringify(value), value);
    }
  }
  return [...values].filter(([, seen]) => seen.size > 1)
    .map(([name, seen]) => ({ name, values: [...seen.values()].sort((a, b) => (a > b) - (a < b)) }));
}

// Two swept params: a grid of cells (x: the first, y: the second), each coloured by the target's value,
// from the worst (green) to the best (red), as the desk colours down and up; a cell picks its ranked row.
function heatMap(ranked, axes, target, pick) {
  const [x, y] = axes;
  const cell = new Map(ranked.map((point) => [`${JSON.stringify(point.params[x.name])}|${JSON.stringify(point.params[y.name])}`, point]));
  const numbers = ranked.filter((point) => point.stats && Number.isFinite(Number(point.stats[target]))).map((point) => Number(point.stats[target]));
  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  const goodness = (value) => {
    if (high === low) return 1;
    const share = (value - low) / (high - low);
    return SMALLER_IS_BETTER.has(target) ? 1 - share : share;
  };
  const grid = el("div", { className: "heatmap", dataset: { testid: "lab-heatmap", x: x.name, y: y.name } });
  grid.style.gridTemplateColumns = `auto repeat(${x.values.length}, minmax(64px, 1fr))`;
  grid.append(el("div", { className: "corner" }, `${y.name} \\ ${x.name}`));
  for (const value of x.values) grid.append(el("div", { className: "head" }, JSON.stringify(value)));
  for (const yValue of y.values) {
    grid.append(el("div", { className: "head" }, JSON.stringify(yValue)));
    for (const xValue of x.values) {
      const point = cell.get(`${JSON.stringify(xValue)}|${JSON.stringify(yValue)}`);
      const value = point && point.stats ? Number(point.stats[target]) : NaN;
      const node = el("div", { className: "cell", dataset: { x: JSON.stringify(xValue), y: JSON.stringify(yValue), value: Number.isFinite(value) ? String(value) : "" },
        title: `${x.name}=${JSON.stringify(xValue)} ${y.name}=${JSON.stringify(yValue)}: ${point && point.error ? point.error : statText(target, value)}` },
      Number.isFinite(value) ? statText(target, value) : "–");
      if (Number.isFinite(value)) node.style.background = heat(goodness(value));
      if (point) node.addEventListener("click", () => pick(point));
      grid.append(node);
    }
  }
  return el("div", { className: "heatmap-box" }, el("h3", {}, t("lab.heatmap", { target: t(`stat.${target}`) })), grid);
}

function heat(share) {
  // green (worst) -> grey -> red (best)
  const from = [19, 163, 107];
  const middle = [60, 66, 76];
  const to = [224, 41, 74];
  const [a, b, s] = share < 0.5 ? [from, middle, share * 2] : [middle, to, (share - 0.5) * 2];
  const mix = a.map((value, index) => Math.round(value + (b[index] - value) * s));
  return `rgb(${mix.join(", ")})`;
}

