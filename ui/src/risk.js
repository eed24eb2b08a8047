// 风控 (risk): GET /risk's counters, their lines and how close each is, the warnings, the limits
// (saved with PUT /risk), the kill switch in the top bar (POST /kill, re-armed with DELETE /kill),
// and the `risk` events as notices. The server's own words stay as they are (messages, and each
// counter's name in its row's tooltip); what the desk labels itself comes from the message table
// (i18n.js: Chinese first, English on the switch).

import { api, session } from "./api.js";
import { el, fillRows, integer, label, when } from "./format.js";
import { RISK, t } from "./i18n.js";
import { mark, onRender, state } from "./state.js";
import { lockSend } from "./health.js";

const REFRESH_SHOWN_MS = 5000; // while the risk page is open
const REFRESH_HIDDEN_MS = 30000; // otherwise: keeps the kill switch's state right should an event be missed
const EVENT_BATCH_MS = 300; // a burst of risk events makes one GET /risk
const MAX_EVENTS = 100;

// GET /risk's counters by the server's name (a contract's end in one of RISK.contractCounters), the
// RiskLimits' fields (backend/engine/risk_rules.py) with their kind of input, their labels in RISK.
const LIMITS = {
  enabled: "bool",
  orders_per_second: "count",
  strategy_orders_per_second: "count",
  orders_per_day: "count",
  max_order_volume: "count",
  max_working_orders: "count",
  max_position_per_contract: "count",
  max_position_per_product: "count",
  cancel_margin: "count",
  warn_share: "share",
  self_trade: "select",
  enforce_reporting_line: "bool",
  enforce_hft_line: "bool",
  daily_loss_limit: "money",
  kill_on_loss: "bool",
};
const SELF_TRADE = ["refuse", "cancel_resting", "off"];
// The limits a strategy may have of its own (STRATEGY_OVERRIDES); an empty cell: the account's.
const OVERRIDES = RISK.overrides;

let drawn = null; // {limits, strategies}: what the form shows, as the server sent it
let drawnKey = ""; // ... as canonical JSON
let overrideRows = []; // strategies with a row in the overrides table
let loading = null;
let again = false;
let lastLoad = 0;
let soonTimer = null;

export function initRisk(desk) {
  const dialog = document.getElementById("kill-dialog");
  const killForm = document.getElementById("kill-form");
  killForm.elements.reason.value = t("risk.defaultReason");
  document.getElementById("kill-switch").addEventListener("click", () => {
    killForm.elements.close_positions.checked = false; // closing everything is chosen each time, never remembered
    dialog.showModal();
    document.getElementById("kill-cancel").focus();
  });
  document.getElementById("kill-cancel").addEventListener("click", () => dialog.close());
  killForm.addEventListener("submit", (event) => {
    event.preventDefault();
    dialog.close();
    kill(desk, killForm);
  });
  document.getElementById("rearm").addEventListener("click", () => rearm(desk));
  document.getElementById("risk-refresh").addEventListener("click", () => loadRisk().catch(() => {}));
  const form = document.getElementById("risk-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  onRender("risk", drawRisk);
  onRender("risk-events", drawEvents);
  onRender("killed", drawKilled);
  setInterval(() => {
    if (!session.token || document.getElementById("desk-view").hidden) return;
    const due = pageShown() ? REFRESH_SHOWN_MS : REFRESH_HIDDEN_MS;
    if (Date.now() - lastLoad >= due - 100) loadRisk().catch(() => {});
  }, REFRESH_SHOWN_MS);
}

function pageShown() {
  return !document.getElementById("page-risk").hidden;
}

// One GET /risk at a time; a call during one shares it and makes one more after it (the one in
// flight may have been answered before what the caller knows changed, a kill for one).
export function loadRisk() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = api("GET", "/risk").then((answer) => {
    state.risk = answer;
    lastLoad = Date.now();
    loadMessage("", "");
    mark("risk", "killed");
    return answer;
  }).catch((error) => {
    lastLoad = Date.now();
    loadMessage(t("risk.loadFailed", { msg: error.message }), "error");
    throw error;
  }).finally(() => {
    loading = null;
    if (again) {
      again = false;
      loadRisk().catch(() => {});
    }
  });
  return loading;
}

function loadSoon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(() => loadRisk().catch(() => {}), EVENT_BATCH_MS);
}

function loadMessage(text, kind) {
  const out = document.getElementById("risk-load-message");
  out.textContent = text;
  out.className = `message ${kind}`;
  out.hidden = !text;
}

// A `risk` event: {type: "risk", data: {kind, rule, message, local_symbol?, strategy?}}.
export function applyRiskEvent(desk, message) {
  const event = (message && message.data) || {};
  state.riskEvents.unshift({ ...event, at: new Date() });
  if (state.riskEvents.length > MAX_EVENTS) state.riskEvents.length = MAX_EVENTS;
  mark("risk-events");
  if (event.kind === "refused") desk.toast(t("risk.toastRefused", { msg: event.message }), "error");
  else if (event.kind === "warning") desk.toast(t("risk.toastWarning", { msg: event.message }), "warn");
  // kill and rearm: the top bar shows them (the desk that pressed the button toasts its own answer)
  loadSoon();
}

// --- the kill switch --------------------------------------------------------------------------------
async function kill(desk, form) {
  const fields = {
    close_positions: form.elements.close_positions.checked,
    reason: form.elements.reason.value.trim() || t("risk.defaultReason"),
  };
  const button = document.getElementById("kill-switch");
  button.disabled = true;
  try {
    const outcome = await api("POST", "/kill", fields);
    state.risk = { ...(state.risk || {}), killed: outcome.killed };
    mark("killed");
    const parts = [t("risk.cancelled", { n: outcome.cancelled.length })];
    if (outcome.still_working.length) {
      parts.push(t("risk.stillWorking", { n: outcome.still_working.length, list: outcome.still_working.join(", ") }));
    }
    if (fields.close_positions) parts.push(t("risk.closing", { n: outcome.closing_orders.length }));
    const problems = outcome.problems.length ? t("risk.problems", { list: outcome.problems.join("; ") }) : "";
    const trouble = outcome.still_working.length || outcome.problems.length;
    desk.toast(t("risk.killedToast", { parts: parts.join(t("risk.partsJoin")), problems }), trouble ? "error" : "ok");
    desk.refreshSoon();
  } catch (error) {
    desk.toast(t("risk.killFailed", { msg: error.message }), "error");
  } finally {
    button.disabled = false;
    loadRisk().catch(() => {});
  }
}

async function rearm(desk) {
  const button = document.getElementById("rearm");
  button.disabled = true;
  try {
    state.risk = await api("DELETE", "/kill");
    mark("risk", "killed");
    desk.toast(t("risk.rearmed"));
  } catch (error) {
    desk.toast(t("risk.rearmFailed", { msg: error.message }), "error");
  } finally {
    button.disabled = false;
  }
}

function drawKilled() {
  const killed = (state.risk && state.risk.killed) || "";
  document.querySelector("#desk-view .topbar").classList.toggle("killed", Boolean(killed));
  document.getElementById("kill-state").hidden = !killed;
  document.getElementById("kill-reason").textContent = killed;
  document.getElementById("kill-reason").title = killed;
  lockSend("kill", killed);
}

// --- the panel ---------------------------------------------------------------------------------------
export function counterName(what) {
  if (RISK.counters[what]) return RISK.counters[what];
  for (const [suffix, name] of RISK.contractCounters) {
    if (what.endsWith(suffix)) return `${what.slice(0, -suffix.length)} ${name}`;
  }
  return what;
}

function percent(share) {
  return `${Math.round(share * 100)}%`;
}

function closeness(line, warnShare) {
  if (line.line && line.share >= 1) return "over";
  if (line.line && line.share >= warnShare) return "warn";
  return "";
}

function bar(line, level) {
  const fill = el("span", { className: "bar-fill" });
  fill.style.width = `${Math.min(1, line.share) * 100}%`;
  return el("div", { className: `bar ${level}` }, el("div", { className: "bar-track" }, fill),
    el("span", { className: "bar-share" }, line.line ? percent(line.share) : "–"));
}

function drawRisk() {
  const risk = state.risk;
  if (!risk || !risk.limits) return;
  const warnShare = risk.limits.warn_share;
  document.getElementById("risk-day").textContent = risk.trading_day ? t("risk.day", { day: risk.trading_day }) : "";
  const rows = (risk.counters || []).map((line) => {
    const level = closeness(line, warnShare);
    return el("tr", { className: level, title: line.what, dataset: { what: line.what, level } },
      el("td", {}, counterName(line.what)),
      el("td", { className: "num", dataset: { field: "count" } }, integer(line.count)),
      el("td", { className: "num", dataset: { field: "line" } }, line.line ? integer(line.line) : t("risk.unlimited")),
      el("td", { className: "bar-cell" }, bar(line, level)));
  });
  fillRows(document.querySelector("#risk-counters tbody"), rows.length ? rows : [empty(4, t("risk.noCounters"))]);

  const warnings = (risk.warnings || []).map((line) => el("li", { className: closeness(line, warnShare) || "warn", title: line.what },
    t("risk.warningLine", { name: counterName(line.what), count: integer(line.count), line: integer(line.line), share: percent(line.share) })));
  document.getElementById("risk-warnings").replaceChildren(...(warnings.length ? warnings
    : [el("li", { className: "muted" }, t("risk.noWarnings", { share: percent(warnShare) }))]));

  const latest = { limits: risk.limits, strategies: risk.strategies || {} };
  if (canonical(latest) !== drawnKey) {
    if (drawn && edited()) {
      show(t("risk.changedOnServer"), "warn"); // the trader's edits are kept
    } else {
      drawn = latest;
      drawnKey = canonical(latest);
      drawLimits(latest);
    }
  }
  drawOverrideChoices();
}

function drawEvents() {
  const rows = state.riskEvents.map((event) => el("tr", { className: `risk-${event.kind}`, dataset: { kind: event.kind } },
    el("td", {}, when(event.at)), // exchange time, as everywhere on the desk
    el("td", { className: "kind" }, label("riskEvent", event.kind)),
    el("td", {}, [event.local_symbol, event.strategy].filter(Boolean).join(" / ")),
    el("td", { className: "wrap" }, event.message || "")));
  fillRows(document.querySelector("#risk-events tbody"), rows.length ? rows : [empty(4, t("risk.noEvents"))]);
}

function empty(span, text) {
  return el("tr", { className: "empty" }, el("td", { colSpan: span }, text));
}

// --- the limits form ---------------------------------------------------------------------------------
function limitField(key, value) {
  const kind = LIMITS[key] || { boolean: "bool", number: "money" }[typeof value] || "text";
  const help = RISK.limits[key] || key;
  let input;
  if (kind === "bool") {
    input = el("input", { type: "checkbox", name: key, checked: Boolean(value) });
  } else if (kind === "select") {
    input = el("select", { name: key }, ...SELF_TRADE.map((option) =>
      el("option", { value: option, selected: option === value }, `${label("selfTrade", option)} (${option})`)));
  } else if (kind === "text") {
    input = el("input", { name: key, value: String(value) });
  } else {
    input = el("input", { type: "number", name: key, value: String(value), required: true, min: "0" });
    input.step = kind === "count" ? "1" : kind === "share" ? "0.01" : "any";
    if (kind === "share") input.max = "1";
  }
  input.dataset.testid = `limit-${key}`;
  return el("label", { className: kind === "bool" ? "check" : "limit" },
    el("span", {}, help, " ", el("code", {}, key)), input);
}

// The limits in LIMITS' order (the server's JSON sorts them by name), any the desk does not know last.
function limitOrder(limits) {
  return [...Object.keys(LIMITS).filter((key) => key in limits), ...Object.keys(limits).filter((key) => !(key in LIMITS))];
}

function drawLimits(risk) { // risk: {limits, strategies}
  const form = document.getElementById("risk-form");
  overrideRows = Object.keys(risk.strategies || {});
  form.replaceChildren(
    ...limitOrder(risk.limits).map((key) => limitField(key, risk.limits[key])),
    el("h3", {}, t("risk.overrides"), el("small", {}, t("risk.overridesNote"))),
    el("div", { className: "scroll overrides" }, el("table", { id: "risk-overrides", dataset: { testid: "risk-overrides" } },
      el("thead", {}, el("tr", {}, el("th", {}, t("risk.strategy")), ...Object.values(OVERRIDES).map((name) => el("th", {}, name)), el("th", {}))),
      el("tbody", {}))),
    el("div", { className: "override-add" },
      el("select", { id: "override-name", dataset: { testid: "override-name" } }),
      el("button", { type: "button", className: "small", dataset: { testid: "override-add" }, onclick: addOverride }, t("risk.addStrategy"))),
    el("button", { type: "submit", className: "primary", dataset: { testid: "risk-save" } }, t("risk.save")));
  drawOverrides(risk.strategies || {});
}

function drawOverrides(values) {
  const rows = overrideRows.map((name) => el("tr", { dataset: { strategy: name } },
    el("td", {}, name),
    ...Object.keys(OVERRIDES).map((key) => {
      const given = values[name] && values[name][key];
      const input = el("input", { type: "number", min: "0", step: "1", name: `override:${name}:${key}`,
        value: given === undefined ? "" : String(given), placeholder: t("risk.accountPlaceholder") });
      input.dataset.strategy = name;
      input.dataset.limit = key;
      input.dataset.testid = `override-${key}`;
      return el("td", {}, input);
    }),
    el("td", {}, el("button", { type: "button", className: "icon", title: t("risk.remove"),
      dataset: { testid: "override-remove" }, onclick: () => removeOverride(name) }, "✕"))));
  const tbody = document.querySelector("#risk-overrides tbody");
  fillRows(tbody, rows.length ? rows : [empty(Object.keys(OVERRIDES).length + 2, t("risk.noOverrides"))]);
  drawOverrideChoices();
}

// The strategies that may get a row: those the desk knows without one yet.
function drawOverrideChoices() {
  const select = document.getElementById("override-name");
  if (!select) return;
  const names = state.strategies.map((entry) => entry.name).filter((name) => !overrideRows.includes(name));
  const chosen = select.value;
  select.replaceChildren(...(names.length
    ? names.map((name) => el("option", { value: name, selected: name === chosen }, name))
    : [el("option", { value: "" }, t("risk.noOtherStrategies"))]));
}

function addOverride() {
  const name = document.getElementById("override-name").value;
  if (!name || overrideRows.includes(name)) return;
  const values = readOverrides();
  overrideRows.push(name);
  drawOverrides(values);
}

function removeOverride(name) {
  const values = readOverrides();
  overrideRows = overrideRows.filter((other) => other !== name);
  drawOverrides(values);
}

// The overrides table as PUT /risk takes it: {strategy: {limit: n}}, empty cells left out.
function readOverrides() {
  const values = {};
  for (const input of document.querySelectorAll("#risk-overrides input[data-strategy]")) {
    if (input.value === "") continue;
    (values[input.dataset.strategy] ||= {})[input.dataset.limit] = Number(input.value);
  }
  return values;
}

// What the trader changed in the form, against what it showed: PUT /risk's fields.
function changes() {
  const form = document.getElementById("risk-form");
  const changed = {};
  for (const [key, value] of Object.entries(drawn.limits)) {
    const input = form.elements[key];
    if (!input) continue;
    const now = input.type === "checkbox" ? input.checked : input.type === "number" ? Number(input.value) : input.value;
    if (now !== value) changed[key] = now;
  }
  const overrides = readOverrides();
  if (canonical(overrides) !== canonical(drawn.strategies)) changed.strategies = overrides;
  return changed;
}

// The trader has changed something, or added or removed a strategy's row (even one still empty).
function edited() {
  const rows = [...overrideRows].sort().join("\n");
  return Boolean(Object.keys(changes()).length) || rows !== Object.keys(drawn.strategies).sort().join("\n");
}

async function save() {
  if (!drawn) return;
  const changed = changes();
  const names = Object.keys(changed);
  if (!names.length) {
    show(t("risk.nothing"), "");
    return;
  }
  try {
    state.risk = await api("PUT", "/risk", changed);
    drawnKey = "";
    drawn = null;
    drawRisk(); // now, not at the next frame: the form must show what was saved before it is touched again
    mark("killed");
    show(t("risk.saved", { keys: names.join(t("risk.keysJoin")) }), "ok");
  } catch (error) {
    show(t("risk.saveFailed", { msg: error.message }), "error");
  }
}

function show(text, kind) {
  const out = document.getElementById("risk-message");
  out.textContent = text;
  out.className = `message ${kind}`;
}

// JSON with sorted keys: two objects compare equal whatever order their keys came in.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
