// The Lab tab (issue 18): backtest or optimise an uploaded strategy on stored history, from the desk.
//
// The form: strategy, instrument, interval, date range (exchange calendar days), capital, slippage, the
// strategy's params (params.js, as the Strategies start form), for a sweep each numeric param's values
// ("5, 8" or "5:20:5") and the statistic to rank by, and optional contract terms. 运行 posts it
// (POST /backtest or /optimise); the progress bar follows the Socket.IO `backtest` events of that run; the
// runs of both kinds are listed (GET /backtest, GET /optimise), newest first. A finished backtest shows its
// report (lab_report.js): statistics, equity and drawdown, trades on the candles of its bars; a sweep
// shows its points ranked by the target, and a heat map when it swept two params. 应用这些参数 opens the
// strategy's params form with a point's values, to save them (or start with them) as the live params.

import { api } from "./api.js";
import { el, exchangeTime, exchangeToday, fillRows, label, when } from "./format.js";
import { t } from "./i18n.js";
import { backtestReport, clearCharts, rangeText, STATISTICS, statText, sweepReport } from "./lab_report.js";
import { ParamsForm } from "./params.js";
import { mark, onRender, state } from "./state.js";
import { editParams, loadStrategies } from "./strategies.js";

const DAYS_BACK = 7; // the default range: the last week
const TERMS = [
  ["size", "1"], ["pricetick", "any"], ["long_margin_ratio", "any"], ["short_margin_ratio", "any"],
  ["open_rate", "any"], ["open_per_lot", "any"], ["close_rate", "any"], ["close_per_lot", "any"],
  ["close_today_rate", "any"], ["close_today_per_lot", "any"], ["limit_ratio", "any"],
];
const ACTIVE = new Set(["queued", "running"]);
const MAX_EVENTS = 200; // runs whose latest event is kept (for an answer to POST that comes after its events)

const lab = {
  desk: null,
  runs: [], // both kinds, newest first
  events: new Map(), // id -> the latest `backtest` event (one may come before POST's answer)
  current: null, // {id, kind}: the run the progress bar follows
  shown: null, // {id, kind}: the run whose report is shown
  form: null, // the ParamsForm of the chosen strategy
  grid: new Map(), // param -> its sweep input
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
  form.elements.end.value = exchangeToday();
  form.elements.start.value = exchangeTime(new Date(Date.now() - DAYS_BACK * 86_400_000)).day;
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
  lab.events.delete(event.id);
  lab.events.set(event.id, event); // the newest last: the oldest go first past MAX_EVENTS
  if (lab.events.size > MAX_EVENTS) lab.events.delete(lab.events.keys().next().value);
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
  const named = (symbol) => {
    const contract = state.contracts.get(symbol) || {};
    return `${contract.name || ""}${contract.is_main ? ` · ${t("watch.main")}` : ""}`;
  };
  document.getElementById("lab-symbols").replaceChildren(...symbols.map((symbol) => el("option", { value: symbol, label: named(symbol) })));
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

function clearReport() {
  clearCharts();
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
  if (which === "optimise") sweepReport(body, data, (point) => apply(data, point));
  else await backtestReport(body, data);
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
