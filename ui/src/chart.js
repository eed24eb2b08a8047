// The chart: candlesticks, MA5/MA20 and (in a pane of its own) volume of the selected instrument in
// one interval, with an O H L C V legend, the trader's working orders as price lines and today's
// fills as markers. History comes from /bar; the forming bar is built from ticks (as the engine
// builds it) and replaced by each `bar`.
//
// The library refuses an update dated before the last point it holds ("Cannot update oldest data"),
// so every switch empties the series at once, a load's answer that a newer switch made stale is
// dropped, and an update that would go back in time redraws the whole series instead.
//
// Dates: one convention, exchange time. Intraday bars start at their exchange time; a daily bar is
// dated by its trading day (a Friday night's trades belong to Monday's bar), as the server sends it,
// and the legend says so ("交易日 12-07 周一") wherever that differs from the calendar.

import { api } from "./api.js";
import { el, exchangeTime, integer, label, price, tradingDay } from "./format.js";
import { t } from "./i18n.js";
import { decimalsFor } from "./market.js";
import { mark, onRender, state } from "./state.js";

const SHANGHAI_OFFSET = 8 * 3600; // the chart draws UTC: shift so the axis shows exchange time
const SPAN_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600 };
const UP = "#e0294a"; // red up, green down, as Chinese desks show them
const DOWN = "#13a36b";
const HISTORY = 1000; // bars asked for; the view opens on the last VISIBLE of them
const VISIBLE = 150;
const AVERAGES = [{ length: 5, color: "#f0b429" }, { length: 20, color: "#58a6ff" }];
const DAY_END_MS = 18 * 3600 * 1000; // a trading day ends by 18:00; its night began the evening before
const FOLLOW_MS = 250; // how often the working orders and fills drawn are compared with the desk's

let chart = null;
let candles = null;
let volumes = null;
let averages = []; // [{length, color, series}]
let markers = null;
let legend = null;
let interval = "1m";
let shown = ""; // the local_symbol the series hold
let bars = []; // [[ts_ms, o, h, l, c, v]] ascending, the last one possibly forming
let lastVolume = null; // the selected instrument's cumulative volume at its previous tick
let loading = 0; // a newer load makes an older one's answer stale
let ready = false; // the history of the current load has arrived (ticks before it wait in `bars`)
let container = null;
let drawn = 0; // bars the series hold
let seriesLast = null; // chart time of the last point the series hold; null when they are empty
let hovered = null; // the bar under the cursor, null when the cursor is off the chart
let lines = []; // the price lines of the working orders drawn
let followed = { orders: null, trades: -1, symbol: "", bars: -1 }; // what the lines and markers were drawn from

export function initChart() {
  container = document.getElementById("chart");
  const charts = window.LightweightCharts;
  chart = charts.createChart(container, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: "#c9d1d9", fontSize: 11, attributionLogo: false },
    grid: { vertLines: { color: "#1f2630" }, horzLines: { color: "#1f2630" } },
    timeScale: {
      timeVisible: true, secondsVisible: false, borderColor: "#30363d", rightOffset: 5, maxBarSpacing: 40,
      tickMarkFormatter: tickMark, ignoreWhitespaceIndices: true,
    },
    rightPriceScale: { borderColor: "#30363d", minimumWidth: 64 },
    crosshair: { mode: charts.CrosshairMode.Normal },
    localization: { timeFormatter: crosshairTime },
  });
  candles = chart.addSeries(charts.CandlestickSeries, {
    upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false,
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.12, bottom: 0.04 } });
  averages = AVERAGES.map((average) => ({
    ...average,
    series: chart.addSeries(charts.LineSeries, {
      color: average.color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false,
      crosshairMarkerVisible: false,
    }),
  }));
  // Volume in a pane of its own, with its own scale: its labels never sit on the price axis.
  volumes = chart.addSeries(charts.HistogramSeries, { priceFormat: { type: "volume" }, priceLineVisible: false }, 1);
  volumes.priceScale().applyOptions({ scaleMargins: { top: 0.1, bottom: 0 }, minimumWidth: 64 });
  chart.panes()[0].setStretchFactor(4);
  chart.panes()[1].setStretchFactor(1);
  markers = charts.createSeriesMarkers(candles, []);

  legend = el("div", { className: "chart-legend" });
  legend.dataset.testid = "chart-legend";
  container.append(legend);
  chart.subscribeCrosshairMove((param) => {
    hovered = param.time === undefined ? null : barAt(param.time);
    showLegend();
  });

  document.getElementById("intervals").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-interval]");
    if (!button) return;
    interval = button.dataset.interval;
    for (const other of button.parentElement.children) other.classList.toggle("active", other === button);
    load();
  });
  onRender("chart", draw);
  onRender("chart-all", drawAll);
  setInterval(follow, FOLLOW_MS);
  window.ctpdesk = Object.assign(window.ctpdesk || {}, { chart: inspect });
}

export function showInstrument(symbol) {
  if (symbol !== shown) load();
}

// Empty the series now: a tick of the new instrument or interval must never meet the old bars.
function clear() {
  bars = [];
  drawn = 0;
  seriesLast = null;
  hovered = null;
  candles.setData([]);
  volumes.setData([]);
  for (const average of averages) average.series.setData([]);
  markers.setMarkers([]);
  for (const line of lines) candles.removePriceLine(line);
  lines = [];
  followed = { orders: null, trades: -1, symbol: "", bars: -1 };
  container.dataset.ready = "false";
}

async function load() {
  const symbol = state.selected;
  const ticket = ++loading;
  shown = symbol;
  ready = false;
  lastVolume = null;
  clear();
  document.getElementById("chart-title").textContent = symbol ? `${symbol}  ${interval}` : "—";
  container.dataset.symbol = symbol;
  container.dataset.interval = interval;
  showLegend();
  if (!symbol) return;
  const decimals = decimalsFor(symbol);
  const contract = state.contracts.get(symbol);
  const format = { type: "price", precision: decimals, minMove: contract ? contract.pricetick : 0.01 };
  candles.applyOptions({ priceFormat: format });
  for (const average of averages) average.series.applyOptions({ priceFormat: format });
  let history = [];
  try {
    history = await api("GET", "/bar", { local_symbol: symbol, interval, limit: HISTORY });
  } catch (error) {
    console.warn("bars", error);
  }
  if (ticket !== loading) return; // a newer switch: this answer is stale
  bars = merged(history.map((row) => row.slice(0, 6)), bars);
  const tick = state.ticks.get(symbol);
  if (tick) {
    lastVolume = tick.volume;
    formFrom(tick);
  }
  ready = true;
  mark("chart-all");
}

// The history, then what the ticks and bars built while it was on its way (later bars only).
function merged(history, built) {
  const end = history.length ? history[history.length - 1][0] : -Infinity;
  return history.concat(built.filter((bar) => bar[0] > end));
}

// The forming bar as the latest tick shows it: begun when the history ends before the tick's bar,
// brought to the tick's price when the history holds that bar already (today's daily bar).
function formFrom(tick) {
  if (!tick.last_price) return;
  const start = bucketOf(tick);
  const last = bars[bars.length - 1];
  const price = tick.last_price;
  if (!Number.isFinite(start) || (last && last[0] > start)) return;
  if (last && last[0] === start) {
    last[2] = Math.max(last[2], price);
    last[3] = Math.min(last[3], price);
    last[4] = price;
  } else {
    bars.push([start, price, price, price, price, 0]);
  }
}

function bucketOf(tick) {
  if (interval === "1d") {
    const day = String(tick.trading_day || "").replace(/^(\d{4})(\d\d)(\d\d)$/, "$1-$2-$3");
    return Date.parse(`${day}T00:00:00+08:00`);
  }
  const span = SPAN_SECONDS[interval];
  const local = Date.parse(tick.datetime) / 1000 + SHANGHAI_OFFSET;
  return (Math.floor(local / span) * span - SHANGHAI_OFFSET) * 1000;
}

// Called for every tick of the selected instrument: cheap arithmetic; the drawing waits for a frame.
export function chartTick(tick) {
  if (tick.local_symbol !== shown || !tick.last_price) return;
  const start = bucketOf(tick);
  if (!Number.isFinite(start)) return;
  const added = lastVolume === null ? 0 : Math.max(0, tick.volume - lastVolume);
  lastVolume = tick.volume;
  const price = tick.last_price;
  const last = bars[bars.length - 1];
  if (last && last[0] === start) {
    last[2] = Math.max(last[2], price);
    last[3] = Math.min(last[3], price);
    last[4] = price;
    last[5] += added;
  } else if (!last || last[0] < start) {
    bars.push([start, price, price, price, price, added]);
  } else {
    return; // a tick older than the last bar: the history already holds it
  }
  if (ready) mark("chart");
}

// A finished bar from the engine replaces what the ticks built for the same start.
export function chartBar(event) {
  if (event.local_symbol !== shown || event.interval !== interval) return;
  const row = event.data.slice(0, 6);
  const index = bars.findIndex((bar) => bar[0] >= row[0]);
  if (index === -1) bars.push(row);
  else if (bars[index][0] === row[0]) bars[index] = row;
  else bars.splice(index, 0, row);
  if (ready) mark("chart-all");
}

const chartTime = (bar) => bar[0] / 1000 + SHANGHAI_OFFSET;
const toCandle = (bar) => ({ time: chartTime(bar), open: bar[1], high: bar[2], low: bar[3], close: bar[4] });
const toVolume = (bar) => ({ time: chartTime(bar), value: bar[5], color: bar[4] >= bar[1] ? "#e0294a66" : "#13a36b66" });

// The mean close of the `length` bars ending at `index`; null before there are that many.
function averageAt(index, length) {
  if (index + 1 < length) return null;
  let sum = 0;
  for (let at = index - length + 1; at <= index; at += 1) sum += bars[at][4];
  return sum / length;
}

function averagePoints(length) {
  const points = [];
  let sum = 0;
  bars.forEach((bar, index) => {
    sum += bar[4];
    if (index >= length) sum -= bars[index - length][4];
    if (index + 1 >= length) points.push({ time: chartTime(bar), value: sum / length });
  });
  return points;
}

function drawAll() {
  if (!ready) return;
  candles.setData(bars.map(toCandle));
  volumes.setData(bars.map(toVolume));
  for (const average of averages) average.series.setData(averagePoints(average.length));
  const first = seriesLast === null; // a new load: open on the latest bars
  drawn = bars.length;
  seriesLast = bars.length ? chartTime(bars[bars.length - 1]) : null;
  if (first && bars.length) {
    chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, bars.length - VISIBLE) - 0.5, to: bars.length - 1 + 5 });
  }
  followed.bars = -1; // the markers sit on bars: place them again
  follow();
  container.dataset.bars = String(bars.length);
  container.dataset.ready = "true";
  showLegend();
}

function draw() {
  if (!ready) return;
  const last = bars[bars.length - 1];
  if (!last) return;
  const time = chartTime(last);
  if (seriesLast === null || time < seriesLast || bars.length - drawn > 1) {
    drawAll(); // a new load, more than one bar begun since the last frame, or (never) a step back
    return;
  }
  drawn = bars.length;
  seriesLast = time;
  candles.update(toCandle(last));
  volumes.update(toVolume(last));
  for (const average of averages) {
    const value = averageAt(bars.length - 1, average.length);
    if (value !== null) average.series.update({ time, value });
  }
  container.dataset.bars = String(bars.length);
  if (!hovered) showLegend();
}

// --- the legend ------------------------------------------------------------------------------------

function barAt(time) {
  const start = (time - SHANGHAI_OFFSET) * 1000;
  let low = 0;
  let high = bars.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (bars[middle][0] === start) return middle;
    if (bars[middle][0] < start) low = middle + 1;
    else high = middle - 1;
  }
  return null;
}

// When a bar is: "12-05 21:05" in exchange time; a daily bar by its trading day, "12-07 周一".
function barWhen(bar) {
  if (interval === "1d") return `${t("chart.tradingDay")} ${tradingDay(exchangeTime(bar[0] / 1000).day)}`;
  const stamp = exchangeTime(bar[0] / 1000);
  return `${stamp.day.slice(5)} ${stamp.time.slice(0, 5)}`;
}

function showLegend() {
  if (!legend) return;
  const index = hovered ?? bars.length - 1;
  const bar = ready ? bars[index] : null;
  if (!bar) {
    legend.replaceChildren(el("span", {}, shown ? t("chart.loading") : ""));
    legend.dataset.time = "";
    return;
  }
  const decimals = decimalsFor(shown);
  const tone = bar[4] >= bar[1] ? "up" : "down";
  const value = (key, text, className = tone) => el("span", {}, `${t(key)} `, el("b", { className }, text));
  const parts = [
    el("span", { className: "when" }, barWhen(bar)),
    value("chart.open", price(bar[1], decimals)),
    value("chart.high", price(bar[2], decimals)),
    value("chart.low", price(bar[3], decimals)),
    value("chart.close", price(bar[4], decimals)),
    value("chart.volume", integer(bar[5]), ""),
  ];
  for (const average of averages) {
    const mean = averageAt(index, average.length);
    const text = mean === null ? "—" : price(mean, decimals);
    parts.push(el("span", { style: `color:${average.color}` }, `MA${average.length} ${text}`));
  }
  legend.replaceChildren(...parts);
  legend.dataset.time = String(bar[0]);
}

// --- working orders and fills ----------------------------------------------------------------------

// The working orders and today's fills are the blotter's state: the chart compares what it drew
// with them a few times a second (a reference and a count: nothing to do while nothing changed).
function follow() {
  if (!ready) return;
  const trades = state.trades.length;
  const orders = state.activeOrders;
  if (followed.orders !== orders || followed.symbol !== shown) drawOrders(orders);
  if (followed.trades !== trades || followed.symbol !== shown || followed.bars !== bars.length) drawFills();
  followed = { orders, trades, symbol: shown, bars: bars.length };
}

function drawOrders(orders) {
  for (const line of lines) candles.removePriceLine(line);
  lines = orders
    .filter((order) => order.local_symbol === shown && order.price)
    .map((order) => candles.createPriceLine({
      price: order.price,
      color: order.direction === "long" ? UP : DOWN,
      lineWidth: 1,
      lineStyle: window.LightweightCharts.LineStyle.Dashed,
      axisLabelVisible: true,
      title: `${label("side", order.direction)}${label("offset", order.offset)} ${order.volume - (order.traded || 0)}`,
    }));
  container.dataset.orderLines = String(lines.length);
}

// A fill sits on the bar its time falls in: an arrow below for a buy, above for a sell.
function drawFills() {
  const placed = [];
  for (const trade of state.trades) {
    if (trade.local_symbol !== shown) continue;
    const index = barOfMoment(Date.parse(trade.time));
    if (index === null) continue;
    const buy = trade.direction === "long";
    placed.push({
      time: chartTime(bars[index]),
      position: buy ? "belowBar" : "aboveBar",
      color: buy ? UP : DOWN,
      shape: buy ? "arrowUp" : "arrowDown",
      text: `${label("side", trade.direction)}${trade.volume}`, // short: the last bar's sits by the price axis
    });
  }
  placed.sort((a, b) => a.time - b.time);
  markers.setMarkers(placed);
  container.dataset.fillMarkers = String(placed.length);
}

// The index of the bar a moment (epoch ms) falls in: the last bar starting at or before it. A daily
// bar starts at its trading day's midnight, after that day's night session (the evening before):
// a moment belongs to the first daily bar whose day session ends (18:00 at the latest) after it.
function barOfMoment(moment) {
  if (!bars.length || !Number.isFinite(moment)) return null;
  if (interval === "1d") {
    const index = bars.findIndex((bar) => bar[0] + DAY_END_MS > moment);
    return index === -1 ? null : index;
  }
  let low = 0;
  let high = bars.length - 1;
  let found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (bars[middle][0] <= moment) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

// --- the time axis ---------------------------------------------------------------------------------

const two = (number) => String(number).padStart(2, "0");

// Axis labels in exchange time (the chart's UTC is exchange time): short, so none is cut.
function tickMark(time, type) {
  const moment = new Date(time * 1000);
  const day = `${two(moment.getUTCMonth() + 1)}-${two(moment.getUTCDate())}`;
  if (type === 0) return String(moment.getUTCFullYear());
  if (type <= 2) return day;
  return `${two(moment.getUTCHours())}:${two(moment.getUTCMinutes())}`;
}

function crosshairTime(time) {
  const moment = new Date(time * 1000);
  const day = `${two(moment.getUTCMonth() + 1)}-${two(moment.getUTCDate())}`;
  if (interval === "1d") return `${t("chart.tradingDay")} ${tradingDay(`${moment.getUTCFullYear()}${day.replace("-", "")}`)}`;
  return `${day} ${two(moment.getUTCHours())}:${two(moment.getUTCMinutes())}`;
}

// What the chart holds, read from the library itself (for tests and a curious trader's console).
function inspect() {
  const range = chart.timeScale().getVisibleLogicalRange();
  const data = candles.data();
  const visible = range && data.length ? Math.min(Math.floor(range.to), data.length - 1) - Math.max(Math.ceil(range.from), 0) + 1 : 0;
  return {
    symbol: shown, interval, ready,
    candles: data.length,
    first: data.length ? data[0].time : null,
    last: data.length ? data[data.length - 1] : null,
    lastTick: state.ticks.get(shown) || null,
    visible,
    width: chart.timeScale().width(),
    volumes: volumes.data().length,
    volumePane: volumes.getPane().paneIndex(),
    averages: averages.map((average) => ({ length: average.length, points: average.series.data().length })),
    orderLines: candles.priceLines().map((line) => ({ price: line.options().price, title: line.options().title })),
    fills: markers.markers().map((marker) => ({ time: marker.time, text: marker.text, position: marker.position })),
  };
}
