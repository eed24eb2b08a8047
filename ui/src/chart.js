// The chart: candlesticks and volume of the selected instrument in one interval. History comes from
// /bar; the forming bar is built from ticks (as the engine builds it) and replaced by each `bar`.

import { api } from "./api.js";
import { decimalsFor } from "./market.js";
import { mark, onRender, state } from "./state.js";

const SHANGHAI_OFFSET = 8 * 3600; // the chart draws UTC: shift so the axis shows exchange time
const SPAN_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600 };
const UP = "#e0294a"; // red up, green down, as Chinese desks show them
const DOWN = "#13a36b";
const HISTORY = 1000;

let chart = null;
let candles = null;
let volumes = null;
let interval = "1m";
let shown = ""; // the local_symbol the series hold
let bars = []; // [[ts_ms, o, h, l, c, v]] ascending, the last one possibly forming
let lastVolume = null; // the selected instrument's cumulative volume at its previous tick
let loading = 0; // a newer load makes an older one's answer stale
let container = null;
let drawn = 0; // bars the series hold

export function initChart() {
  container = document.getElementById("chart");
  const charts = window.LightweightCharts;
  chart = charts.createChart(container, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: "#c9d1d9", fontSize: 11 },
    grid: { vertLines: { color: "#1f2630" }, horzLines: { color: "#1f2630" } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#30363d" },
    rightPriceScale: { borderColor: "#30363d" },
    crosshair: { mode: charts.CrosshairMode.Normal },
  });
  candles = chart.addSeries(charts.CandlestickSeries, {
    upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false,
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.26 } });
  volumes = chart.addSeries(charts.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume" });
  volumes.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  document.getElementById("intervals").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-interval]");
    if (!button) return;
    interval = button.dataset.interval;
    for (const other of button.parentElement.children) other.classList.toggle("active", other === button);
    load();
  });
  onRender("chart", draw);
  onRender("chart-all", drawAll);
}

export function showInstrument(symbol) {
  if (symbol !== shown) load();
}

async function load() {
  const symbol = state.selected;
  const ticket = ++loading;
  shown = symbol;
  bars = [];
  lastVolume = null;
  document.getElementById("chart-title").textContent = symbol ? `${symbol}  ${interval}` : "—";
  if (!symbol) {
    mark("chart-all");
    return;
  }
  const decimals = decimalsFor(symbol);
  const contract = state.contracts.get(symbol);
  candles.applyOptions({ priceFormat: { type: "price", precision: decimals, minMove: contract ? contract.pricetick : 0.01 } });
  let history = [];
  try {
    history = await api("GET", "/bar", { local_symbol: symbol, interval, limit: HISTORY });
  } catch (error) {
    console.warn("bars", error);
  }
  if (ticket !== loading) return;
  bars = history.map((row) => row.slice(0, 6));
  const tick = state.ticks.get(symbol);
  if (tick) lastVolume = tick.volume;
  mark("chart-all");
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
  mark("chart");
}

// A finished bar from the engine replaces what the ticks built for the same start.
export function chartBar(event) {
  if (event.local_symbol !== shown || event.interval !== interval) return;
  const row = event.data.slice(0, 6);
  const index = bars.findIndex((bar) => bar[0] >= row[0]);
  if (index === -1) bars.push(row);
  else if (bars[index][0] === row[0]) bars[index] = row;
  else bars.splice(index, 0, row);
  mark("chart-all");
}

const toCandle = (bar) => ({ time: bar[0] / 1000 + SHANGHAI_OFFSET, open: bar[1], high: bar[2], low: bar[3], close: bar[4] });
const toVolume = (bar) => ({ time: bar[0] / 1000 + SHANGHAI_OFFSET, value: bar[5], color: bar[4] >= bar[1] ? "#e0294a66" : "#13a36b66" });

function drawAll() {
  candles.setData(bars.map(toCandle));
  volumes.setData(bars.map(toVolume));
  drawn = bars.length;
  container.dataset.bars = String(bars.length);
  container.dataset.symbol = shown;
  container.dataset.interval = interval;
}

function draw() {
  const last = bars[bars.length - 1];
  if (!last) return;
  if (bars.length - drawn > 1) {
    drawAll(); // more than one bar began since the last frame
    return;
  }
  drawn = bars.length;
  candles.update(toCandle(last));
  volumes.update(toVolume(last));
  container.dataset.bars = String(bars.length);
}
