// The Lab tab (issue 18): backtest or optimise an uploaded strategy on stored history, from the desk.
//
// The form: strategy, instrument, interval, date range (exchange calendar days), capital, slippage, the
// strategy's params (params.js, as the Strategies start form), for a sweep each numeric param's values
// ("5, 8" or "5:20:5") and the statistic to rank by, and optional contract terms. 运行 posts it
// (POST /backtest or /optimise); the progress bar follows the Socket.IO `backtest` events of that run; the
// runs of both kinds are listed (GET /backtest, GET /optimise), newest first. A finished backtest shows its
// statistics, equity and drawdown, and its trades marked on the candles of its bars (GET /bar); a sweep
// shows its points ranked by the target, and a heat map when it swept two params. 应用这些参数 opens the
// strategy's params form with a point's values, to save them (or start with them) as the live params.

import { api } from "./api.js";
import { el, exchangeTime, fillRows, integer, label, money, price, tradingDay, when } from "./format.js";
import { t } from "./i18n.js";
import { ParamsForm } from "./params.js";
import { mark, onRender, state } from "./state.js";
import { editParams, loadStrategies } from "./strategies.js";

const SHANGHAI_OFFSET = 8 * 3600; // the charts draw UTC: shift so the axis shows exchange time
const UP = "#e0294a";
const DOWN = "#13a36b";
const DAYS_BACK = 7; // the default range: the last week
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
const TERMS = [
  ["size", "1"], ["pricetick", "any"], ["long_margin_ratio", "any"], ["short_margin_ratio", "any"],
  ["open_rate", "any"], ["open_per_lot", "any"], ["close_rate", "any"], ["close_per_lot", "any"],
  ["close_today_rate", "any"], ["close_today_per_lot", "any"], ["limit_ratio", "any"],
];
const ACTIVE = new Set(["queued", "running"]);

const lab = {
  desk: null,
  runs: [], // both kinds, newest first
  events: new Map(), // id -> the latest `backtest` event (one may come before POST's answer)
  current: null, // {id, kind}: the run the progress bar follows
  shown: null, // {id, kind}: the run whose report is shown
  form: null, // the ParamsForm of the chosen strategy
  grid: new Map(), // param -> its sweep input
  charts: [], // the report's charts (removed before the next report)
};

export function initLab(desk) {
  lab.desk = desk;
  const form = document.getElementById("lab-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  document.getElementById("lab-cancel").addEventListener("click", cancel);
  document.getElementById("lab-strategy").addEventListener("change", chooseStrategy);
  document.getElementById("lab-params-reset").addEventListener("click", () => lab.form && lab.form.reset());
  document.getElementById("lab-refresh").addEventListener("click", () => loadRuns().catch(showError));
  for (const input of document.querySelectorAll('input[name="lab-kind"]')) input.addEventListener("change", chooseKind);
  form.elements.local_symbol.addEventListener("change", termsPlaceholders);
  form.elements.mode.addEventListener("change", chooseMode);
  const target = document.getElementById("lab-target");
  target.replaceChildren(...STATISTICS.map((name) => el("option", { value: name, textContent: t(`stat.${name}`) })));
  target.value = "sharpe_ratio";
  document.getElementById("lab-terms").replaceChildren(...TERMS.map(([name, step]) =>
    el("label", {}, el("span", {}, t(`lab.term.${name}`)), el("input", { name: `term_${name}`, type: "number", min: "0", step, dataset: { term: name } }))));
  const today = new Date(Date.now() + SHANGHAI_OFFSET * 1000);
  form.elements.end.value = today.toISOString().slice(0, 10);
  form.elements.start.value = new Date(today.getTime() - DAYS_BACK * 86_400_000).toISOString().slice(0, 10);
  onRender("lab-runs", drawRuns);
  onRender("lab-progress", drawProgress);
  window.ctpdesk = Object.assign(window.ctpdesk || {}, { lab: () => ({ current: lab.current, shown: lab.shown, runs: lab.runs.length }) });
}

// The tab opened: the strategies (their params may have changed), the instruments, the runs.
export async function loadLab() {
  await loadStrategies().catch(() => {});
  fillStrategies();
  fillSymbols();
  await loadRuns().catch(showError);
}

// A `backtest` event {id, kind, status, progress}: the list, the progress bar, and the report once finished.
export function applyLabEvent(event) {
  if (!event || !event.id) return;
  lab.events.set(event.id, event);
  const known = lab.runs.find((item) => item.id === event.id);
  if (known) {
    Object.assign(known, { status: event.status, progress: event.progress });
    mark("lab-runs");
  } else if (!document.getElementById("page-lab").hidden) {
    loadRuns().catch(() => {}); // started elsewhere (another desk, the REST)
  }
  if (lab.current && lab.current.id === event.id) follow(event);
}

function follow(event) {
  lab.current.status = event.status;
  lab.current.progress = event.progress;
  mark("lab-progress");
  if (!ACTIVE.has(event.status)) {
    const ended = lab.current;
    lab.current = { ...ended, done: true };
    loadRuns().catch(() => {});
    if (event.status === "finished" || event.status === "error") showRun(ended.id, ended.kind);
  }
}

// --- the form ---------------------------------------------------------------------------------------

function kind() {
  return document.querySelector('input[name="lab-kind"]:checked').value;
}

function chooseKind() {
  document.getElementById("lab-grid-box").hidden = kind() !== "optimise";
}

// Tick mode replays recorded ticks through the sim's matching: the bar-mode settings do not apply.
function chooseMode() {
  const fields = document.getElementById("lab-form").elements;
  const tick = fields.mode.value === "tick";
  for (const name of ["interval", "slippage", "fill_share"]) fields[name].disabled = tick;
}

function fillStrategies() {
  const select = document.getElementById("lab-strategy");
  const chosen = select.value;
  const names = state.strategies.map((entry) => entry.name);
  select.replaceChildren(...(names.length ? names.map((name) => el("option", { value: name, textContent: name }))
    : [el("option", { value: "", textContent: t("lab.noStrategies") })]));
  if (names.includes(chosen)) select.value = chosen;
  chooseStrategy();
}

function fillSymbols() {
  const symbols = [...state.contracts.keys()].sort();
  document.getElementById("lab-symbols").replaceChildren(...symbols.map((symbol) => el("option", { value: symbol })));
  const input = document.getElementById("lab-form").elements.local_symbol;
  if (!input.value && state.selected) input.value = state.selected;
  termsPlaceholders();
}

function strategyEntry(name) {
  return state.strategies.find((entry) => entry.name === name);
}

function chooseStrategy() {
  const entry = strategyEntry(document.getElementById("lab-strategy").value);
  const declared = JSON.stringify(entry ? entry.declared_params : null);
  if (lab.form && lab.formOf === `${entry && entry.name}|${declared}`) return; // the same form: keep what was typed
  lab.formOf = `${entry && entry.name}|${declared}`;
  lab.form = new ParamsForm(entry ? entry.declared_params || [] : [], entry ? entry.params || {} : {});
  document.getElementById("lab-params").replaceChildren(lab.form.element);
  lab.grid = new Map();
  const numeric = (entry && entry.declared_params ? entry.declared_params : []).filter((item) => item.type === "integer" || item.type === "number");
  const rows = numeric.map((item) => {
    const input = el("input", { name: `grid_${item.name}`, placeholder: t("lab.grid.placeholder"), autocomplete: "off", dataset: { grid: item.name } });
    const error = el("small", { className: "field-error", dataset: { gridError: item.name } });
    input.addEventListener("input", () => { error.textContent = ""; input.classList.remove("invalid"); });
    lab.grid.set(item.name, { item, input, error });
    return el("label", { className: "param" }, el("span", {}, el("b", {}, item.name), " ", el("small", {}, t(`params.type.${item.type}`))), input, error);
  });
  document.getElementById("lab-grid").replaceChildren(...(rows.length ? rows : [el("p", { className: "muted" }, t("lab.grid.none"))]));
}

// The contract's terms as the placeholders of the terms inputs: what the run uses when they stay empty.
function termsPlaceholders() {
  const contract = state.contracts.get(document.getElementById("lab-form").elements.local_symbol.value.trim());
  for (const input of document.querySelectorAll("#lab-terms input")) {
    const known = contract ? contract[input.dataset.term] : undefined;
    input.placeholder = known !== undefined && known !== null && known !== 0 ? String(known) : t("lab.terms.default");
  }
}

// A sweep input: "5, 8, 13" (values) or "5:20:5" (start:stop:step, stop included) -> [values] / {start, stop, step}.
function parseSweep(item, text) {
  const number = (part) => {
    const value = Number(part.trim());
    if (part.trim() === "" || !Number.isFinite(value)) throw new Error(t("params.notNumber"));
    if (item.type === "integer" && !Number.isInteger(value)) throw new Error(t("params.notInteger"));
    return value;
  };
  if (text.includes(":")) {
    const parts = text.split(":");
    if (parts.length !== 3) throw new Error(t("lab.grid.badRange"));
    const [start, stop, step] = parts.map(number);
    if (step <= 0 || stop < start) throw new Error(t("lab.grid.badRange"));
    return { start, stop, step };
  }
  const values = text.split(/[,，\s]+/).filter(Boolean).map(number);
  if (new Set(values).size !== values.length) throw new Error(t("lab.grid.twice"));
  return values;
}

// The request from the form, or null with the problems shown.
function request() {
  const form = document.getElementById("lab-form");
  const fields = form.elements;
  const problems = [];
  const strategy = fields.strategy.value;
  if (!strategy) problems.push(t("lab.needStrategy"));
  const symbol = fields.local_symbol.value.trim();
  if (!symbol) problems.push(t("lab.needSymbol"));
  const start = fields.start.value;
  const end = fields.end.value;
  if (start && end && start > end) problems.push(t("lab.badRange"));
  const capital = Number(fields.capital.value);
  if (!(capital > 0)) problems.push(t("lab.badCapital"));
  const slippage = fields.slippage.value === "" ? 0 : Number(fields.slippage.value);
  if (!(slippage >= 0)) problems.push(t("lab.badSlippage"));
  const read = lab.form ? lab.form.read() : { ok: true, overrides: {}, values: {} };
  if (!read.ok) problems.push(t("params.fix"));
  const fillShare = fields.fill_share.value === "" ? 1 : Number(fields.fill_share.value);
  if (!(fillShare > 0 && fillShare <= 1)) problems.push(t("lab.badFillShare"));
  const body = { strategy, local_symbol: symbol, params: read.overrides || {}, capital };
  if (fields.mode.value === "tick") body.mode = "tick";
  else Object.assign(body, { interval: fields.interval.value, slippage, fill_share: fillShare });
  if (start) body.start = `${start}T00:00:00+08:00`;
  if (end) body.end = `${end}T23:59:59+08:00`;
  const terms = {};
  for (const input of document.querySelectorAll("#lab-terms input")) {
    if (input.value === "") continue;
    const value = Number(input.value);
    if (!Number.isFinite(value) || value < 0 || (input.validity && input.validity.badInput)) problems.push(t("lab.badTerm", { name: t(`lab.term.${input.dataset.term}`) }));
    else terms[input.dataset.term] = value;
  }
  if (Object.keys(terms).length) body.terms = terms;
  if (kind() === "optimise") {
    const grid = {};
    let unreadable = false;
    for (const [name, { item, input, error }] of lab.grid) {
      const text = input.value.trim();
      if (!text) continue;
      try {
        grid[name] = parseSweep(item, text);
        delete body.params[name];
      } catch (problem) {
        error.textContent = problem.message;
        input.classList.add("invalid");
        problems.push(t("lab.grid.fix", { name }));
        unreadable = true;
      }
    }
    if (!Object.keys(grid).length && !unreadable) problems.push(t("lab.grid.empty"));
    body.grid = grid;
    body.target = fields.target.value;
  }
  if (problems.length) {
    showMessage(problems.join("；"), "error");
    return null;
  }
  return body;
}

async function run() {
  const body = request();
  if (!body) return;
  const which = kind();
  const button = document.getElementById("lab-run");
  button.disabled = true;
  showMessage(t("lab.submitting"), "pending");
  try {
    const answer = await api("POST", path(which), body);
    lab.current = { id: answer.id, kind: which, status: "queued", progress: 0 };
    showMessage(t("lab.started", { id: answer.id.slice(0, 8) }), "ok");
    mark("lab-progress");
    await loadRuns().catch(() => {});
    const seen = lab.events.get(answer.id); // an event that came before the answer
    if (seen) follow(seen);
  } catch (error) {
    showMessage(t("lab.refused", { msg: error.message }), "error");
  } finally {
    button.disabled = false;
  }
}

async function cancel() {
  if (!lab.current || lab.current.done) return;
  try {
    await api("DELETE", path(lab.current.kind), { id: lab.current.id });
    showMessage(t("lab.cancelled"), "warn");
  } catch (error) {
    showMessage(error.message, "error");
  }
  loadRuns().catch(() => {});
}

function path(which) {
  return which === "optimise" ? "/optimise" : "/backtest";
}

function showMessage(text, kind = "") {
  const message = document.getElementById("lab-message");
  message.textContent = text;
  message.className = `message ${kind}`;
}

function showError(error) {
  showMessage(error.message, "error");
}

function drawProgress() {
  const current = lab.current;
  const bar = document.getElementById("lab-progress");
  const text = document.getElementById("lab-progress-text");
  const cancelButton = document.getElementById("lab-cancel");
  if (!current) {
    bar.value = 0;
    text.textContent = "";
    cancelButton.disabled = true;
    return;
  }
  const percent = current.status === "finished" ? 100 : Math.floor((current.progress || 0) * 100);
  bar.value = percent;
  bar.dataset.status = current.status;
  text.textContent = `${label("lab", current.status)} ${percent}%`;
  text.dataset.percent = String(percent);
  cancelButton.disabled = !ACTIVE.has(current.status);
}

// --- the runs ---------------------------------------------------------------------------------------

async function loadRuns() {
  const [backtests, sweeps] = await Promise.all([
    api("GET", "/backtest").then((list) => list.map((item) => ({ kind: "backtest", ...item }))),
    api("GET", "/optimise").then((list) => list.map((item) => ({ kind: "optimise", ...item }))).catch(() => []),
  ]);
  lab.runs = [...backtests, ...sweeps].sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  mark("lab-runs");
}

// A run's range as exchange calendar days ("2026-11-28 – 2026-12-05"); "…" for an open end.
function rangeText(item) {
  const day = (value) => {
    const stamp = value === null || value === undefined ? null : exchangeTime(typeof value === "number" ? value / 1000 : value);
    return stamp ? stamp.day : "…";
  };
  return `${day(item.start)} – ${day(item.end)}`;
}

function drawRuns() {
  const rows = lab.runs.map((item) => {
    const stats = item.stats || {};
    const active = ACTIVE.has(item.status);
    const status = active ? `${label("lab", item.status)} ${Math.floor((item.progress || 0) * 100)}%` : label("lab", item.status);
    return el("tr", { dataset: { id: item.id, kind: item.kind, status: item.status }, className: lab.shown && lab.shown.id === item.id ? "selected" : "" },
      el("td", {}, when(item.created_at)),
      el("td", {}, t(`lab.kind.${item.kind}`)),
      el("td", {}, item.strategy || ""),
      el("td", {}, item.local_symbol || ""),
      el("td", {}, `${item.interval || ""} ${rangeText(item)}`),
      el("td", { className: `state-${item.status}`, title: item.error || "" }, status),
      // a sweep's: its best point's (by its target)
      el("td", { className: "num", title: item.kind === "optimise" ? t("lab.best") : "" }, statText("total_return", stats.total_return)),
      el("td", { className: "num", title: item.kind === "optimise" ? t("lab.best") : "" }, statText("sharpe_ratio", stats.sharpe_ratio)),
      el("td", { className: "actions" },
        el("button", { className: "small", textContent: t("lab.view"), dataset: { testid: "lab-view" }, disabled: active,
          onclick: () => showRun(item.id, item.kind) }),
        el("button", { className: "small ghost", textContent: t(active ? "lab.cancel" : "lab.delete"), dataset: { testid: "lab-remove" },
          onclick: () => removeRun(item) })));
  });
  fillRows(document.querySelector("#lab-runs tbody"), rows.length ? rows
    : [el("tr", { className: "empty" }, el("td", { colSpan: 9 }, t("lab.noRuns")))]);
}

async function removeRun(item) {
  if (!ACTIVE.has(item.status) && !window.confirm(t("lab.deleteConfirm"))) return;
  try {
    await api("DELETE", path(item.kind), { id: item.id });
    if (lab.shown && lab.shown.id === item.id) clearReport();
  } catch (error) {
    showMessage(error.message, "error");
  }
  await loadRuns().catch(() => {});
}

// --- the report -------------------------------------------------------------------------------------

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

function clearReport() {
  for (const chart of lab.charts) chart.remove();
  lab.charts = [];
  lab.shown = null;
  document.getElementById("lab-report-title").textContent = t("lab.report.none");
  document.getElementById("lab-report-body").replaceChildren();
  mark("lab-runs");
}

async function showRun(id, which) {
  let data;
  try {
    data = await api("GET", path(which), { id });
  } catch (error) {
    showMessage(error.message, "error");
    return;
  }
  clearReport();
  lab.shown = { id, kind: which };
  mark("lab-runs");
  const report = document.getElementById("lab-report");
  report.dataset.id = id;
  report.dataset.kind = which;
  report.dataset.status = data.status;
  document.getElementById("lab-report-title").textContent = t(`lab.report.${which}`, {
    strategy: data.strategy || "", symbol: data.local_symbol || "", interval: data.interval || "", range: rangeText(data),
  });
  const body = document.getElementById("lab-report-body");
  if (data.status !== "finished") {
    body.append(el("p", { className: "message error", dataset: { testid: "lab-report-error" } },
      data.error ? t("lab.failed", { msg: data.error }) : label("lab", data.status)));
    return;
  }
  if (which === "optimise") showSweep(body, data);
  else await showBacktest(body, data);
}

async function showBacktest(body, data) {
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
  if (!["total_return", "annual_return", "net_pnl"].includes(name) || !value) return "";
  return value > 0 ? "up" : "down";
}

function tradesTable(trades, symbol) {
  const decimals = decimalsOf(symbol);
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
    el("td", { className: `num ${day.net_pnl > 0 ? "up" : day.net_pnl < 0 ? "down" : ""}` }, money(day.net_pnl)),
    el("td", { className: "num" }, money(day.commission)),
    el("td", { className: "num" }, integer(day.trade_count)),
    el("td", { className: "num" }, money(day.balance))));
  return el("div", { className: "scroll lab-trades" }, el("table", { dataset: { testid: "lab-daily" } },
    el("thead", {}, el("tr", {}, ...["lab.day", "stat.net_pnl", "stat.commission", "stat.trade_count", "lab.balance"].map((key) => el("th", {}, t(key))))),
    el("tbody", {}, ...rows)));
}

function decimalsOf(symbol) {
  const contract = state.contracts.get(symbol);
  const tick = contract ? Number(contract.pricetick) : 1;
  if (!tick || tick >= 1) return 0;
  return (String(tick).split(".")[1] || "").length;
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
  lab.charts.push(chart);
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
  let bars = [];
  try {
    bars = await api("GET", "/bar", fields);
  } catch (error) {
    container.append(el("p", { className: "message error" }, error.message));
    return;
  }
  if (!lab.charts.length) return; // another report replaced this one meanwhile
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

function showSweep(body, data) {
  const target = data.target || "sharpe_ratio";
  const ranked = data.runs || data.ranked || []; // best first
  const axes = sweptAxes(ranked);
  body.append(el("p", { className: "muted", dataset: { testid: "lab-sweep-facts" } },
    t("lab.sweepFacts", { n: ranked.length, target: t(`stat.${target}`), where: data.where === "local" || !data.where ? t("lab.local") : data.where })));
  if (axes.length === 2) body.append(heatMap(ranked, axes, target));
  const columns = ["total_return", "sharpe_ratio", "max_drawdown", "trade_count", "net_pnl"].filter((name) => name !== target);
  const rows = ranked.map((point, index) => el("tr", { dataset: { rank: index + 1, params: JSON.stringify(point.params) } },
    el("td", { className: "num" }, index + 1),
    el("td", {}, Object.entries(point.params).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join("  ")),
    el("td", { className: "num target", dataset: { value: String(point.stats ? point.stats[target] : "") } },
      point.error ? el("span", { className: "error", title: point.error }, t("lab.pointFailed")) : statText(target, point.stats[target])),
    ...columns.map((name) => el("td", { className: "num" }, point.stats ? statText(name, point.stats[name]) : "")),
    el("td", {}, point.error ? null : el("button", { className: "small", textContent: t("lab.apply"), dataset: { testid: "lab-apply" },
      title: t("lab.apply.title"), onclick: () => apply(data, point) }))));
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
// from the worst (green) to the best (red), as the desk colours down and up.
function heatMap(ranked, axes, target) {
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

// 应用这些参数: the strategy's params form with the run's params and the point's, to save or start with.
async function apply(data, point) {
  await loadStrategies().catch(() => {});
  const entry = strategyEntry(data.strategy);
  if (!entry) {
    lab.desk.toast(t("lab.applyGone", { name: data.strategy }), "error");
    return;
  }
  editParams(lab.desk, entry, { ...(entry.params || {}), ...(data.params || {}), ...point.params });
}
