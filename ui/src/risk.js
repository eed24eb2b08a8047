// 风控 (risk): GET /risk's counters, their lines and how close each is, the warnings, the limits
// (saved with PUT /risk), the kill switch in the top bar (POST /kill, re-armed with DELETE /kill),
// and the `risk` events as notices. The server's own words stay as they are (messages, and each
// counter's name in its row's tooltip); what the desk labels itself is Chinese.

import { api, session } from "./api.js";
import { el, fillRows, integer } from "./format.js";
import { mark, onRender, state } from "./state.js";
import { lockTicket } from "./ticket.js";

const REFRESH_SHOWN_MS = 5000; // while the risk page is open
const REFRESH_HIDDEN_MS = 30000; // otherwise: keeps the kill switch's state right should an event be missed
const EVENT_BATCH_MS = 300; // a burst of risk events makes one GET /risk
const MAX_EVENTS = 100;

// GET /risk's counters by the server's name; a contract's counters end in one of CONTRACT_COUNTERS.
const COUNTER_NAMES = {
  "orders and cancels in the last second": "最近一秒报撤单笔数",
  "orders and cancels today": "今日报撤单笔数",
  "seconds with 10 or more orders and cancels today (reporting line)": "今日报撤单达 10 笔的秒数（报告线）",
  "most orders and cancels in one second today (high-frequency line)": "今日单秒最多报撤单笔数（高频线）",
  "orders and cancels today (high-frequency line)": "今日报撤单笔数（高频线）",
};
const CONTRACT_COUNTERS = [[" large cancels", "大额撤单次数"], [" cancels", "撤单次数"], [" self-trades", "自成交次数"]];

// RiskLimits' fields (backend/engine/risk_rules.py): label and kind of input.
const LIMITS = {
  enabled: ["启用风控规则（关闭后只有一键停止仍然生效）", "bool"],
  orders_per_second: ["每秒报撤单笔数上限（全账户）", "count"],
  strategy_orders_per_second: ["每秒报撤单笔数上限（每个策略）", "count"],
  orders_per_day: ["每日报撤单笔数上限", "count"],
  max_order_volume: ["单笔最大手数（不超过合约自身的上限）", "count"],
  max_working_orders: ["最多挂单笔数", "count"],
  max_position_per_contract: ["单合约每边持仓上限（手，含开仓挂单）", "count"],
  max_position_per_product: ["单品种每边及净持仓上限（手）", "count"],
  cancel_margin: ["撤单余量：距交易所撤单线还差这么多笔即拒绝撤单（大额撤单取其十分之一）", "count"],
  warn_share: ["预警比例：计数达到线的这一比例时预警（0–1）", "share"],
  self_trade: ["自成交处理：会与自己的挂单成交的新订单", "select"],
  enforce_reporting_line: ["执行报告线：拒绝会造成当日第 10 个繁忙秒的报撤单", "bool"],
  enforce_hft_line: ["执行高频线：拒绝达到每秒 300 笔或每日 20,000 笔的报撤单", "bool"],
  daily_loss_limit: ["当日亏损上限（元；达到后只接受平仓单）", "money"],
  kill_on_loss: ["达到当日亏损上限时自动一键停止", "bool"],
};
const SELF_TRADE = { refuse: "拒绝新订单", cancel_resting: "先撤己方挂单", off: "不检查" };
// The limits a strategy may have of its own (STRATEGY_OVERRIDES); an empty cell: the account's.
const OVERRIDES = {
  strategy_orders_per_second: "每秒报撤单",
  max_order_volume: "单笔手数",
  max_working_orders: "挂单笔数",
  max_position_per_contract: "单合约持仓",
  max_position_per_product: "单品种持仓",
};
const EVENT_KINDS = { refused: "拒单", warning: "预警", kill: "停止交易", rearm: "恢复交易" };

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
    loadMessage(`风控状态读取失败：${error.message}`, "error");
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
  if (event.kind === "refused") desk.toast(`风控拒单：${event.message}`, "error");
  else if (event.kind === "warning") desk.toast(`风控预警：${event.message}`, "warn");
  // kill and rearm: the top bar shows them (the desk that pressed the button toasts its own answer)
  loadSoon();
}

// --- the kill switch --------------------------------------------------------------------------------
async function kill(desk, form) {
  const fields = {
    close_positions: form.elements.close_positions.checked,
    reason: form.elements.reason.value.trim() || "手动停止",
  };
  const button = document.getElementById("kill-switch");
  button.disabled = true;
  try {
    const outcome = await api("POST", "/kill", fields);
    state.risk = { ...(state.risk || {}), killed: outcome.killed };
    mark("killed");
    const parts = [`撤单 ${outcome.cancelled.length} 笔`];
    if (outcome.still_working.length) parts.push(`仍在挂 ${outcome.still_working.length} 笔：${outcome.still_working.join(", ")}`);
    if (fields.close_positions) parts.push(`平仓单 ${outcome.closing_orders.length} 笔`);
    const problems = outcome.problems.length ? `；问题：${outcome.problems.join("; ")}` : "";
    const trouble = outcome.still_working.length || outcome.problems.length;
    desk.toast(`已停止交易：${parts.join("，")}${problems}`, trouble ? "error" : "ok");
    desk.refreshSoon();
  } catch (error) {
    desk.toast(`一键停止失败：${error.message}`, "error");
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
    desk.toast("已恢复交易：新订单将被接受");
  } catch (error) {
    desk.toast(`恢复失败：${error.message}`, "error");
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
  lockTicket(killed);
}

// --- the panel ---------------------------------------------------------------------------------------
export function counterName(what) {
  if (COUNTER_NAMES[what]) return COUNTER_NAMES[what];
  for (const [suffix, name] of CONTRACT_COUNTERS) {
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
  document.getElementById("risk-day").textContent = risk.trading_day ? `交易日 ${risk.trading_day}` : "";
  const rows = (risk.counters || []).map((line) => {
    const level = closeness(line, warnShare);
    return el("tr", { className: level, title: line.what, dataset: { what: line.what, level } },
      el("td", {}, counterName(line.what)),
      el("td", { className: "num", dataset: { field: "count" } }, integer(line.count)),
      el("td", { className: "num", dataset: { field: "line" } }, line.line ? integer(line.line) : "不限"),
      el("td", { className: "bar-cell" }, bar(line, level)));
  });
  fillRows(document.querySelector("#risk-counters tbody"), rows.length ? rows : [empty(4, "暂无计数")]);

  const warnings = (risk.warnings || []).map((line) => el("li", { className: closeness(line, warnShare) || "warn", title: line.what },
    `${counterName(line.what)}：${integer(line.count)} / ${integer(line.line)}（${percent(line.share)}）`));
  document.getElementById("risk-warnings").replaceChildren(...(warnings.length ? warnings
    : [el("li", { className: "muted" }, `无预警：所有计数都低于其线的 ${percent(warnShare)}`)]));

  const latest = { limits: risk.limits, strategies: risk.strategies || {} };
  if (canonical(latest) !== drawnKey) {
    if (drawn && edited()) {
      show("服务器上的限额已被修改；保存时只提交你改动的项", "warn"); // the trader's edits are kept
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
    el("td", {}, event.at.toLocaleTimeString("zh-CN", { hour12: false })),
    el("td", { className: "kind" }, EVENT_KINDS[event.kind] || event.kind),
    el("td", {}, [event.local_symbol, event.strategy].filter(Boolean).join(" / ")),
    el("td", { className: "wrap" }, event.message || "")));
  fillRows(document.querySelector("#risk-events tbody"), rows.length ? rows : [empty(4, "暂无风控事件")]);
}

function empty(span, text) {
  return el("tr", { className: "empty" }, el("td", { colSpan: span }, text));
}

// --- the limits form ---------------------------------------------------------------------------------
function limitField(key, value) {
  const [help, kind] = LIMITS[key] || [key, { boolean: "bool", number: "money" }[typeof value] || "text"];
  let input;
  if (kind === "bool") {
    input = el("input", { type: "checkbox", name: key, checked: Boolean(value) });
  } else if (kind === "select") {
    input = el("select", { name: key }, ...Object.entries(SELF_TRADE).map(([option, text]) =>
      el("option", { value: option, selected: option === value }, `${text}（${option}）`)));
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
    el("h3", {}, "策略单独限额 ", el("small", {}, "（留空则用账户的限额）")),
    el("div", { className: "scroll overrides" }, el("table", { id: "risk-overrides", dataset: { testid: "risk-overrides" } },
      el("thead", {}, el("tr", {}, el("th", {}, "策略"), ...Object.values(OVERRIDES).map((name) => el("th", {}, name)), el("th", {}))),
      el("tbody", {}))),
    el("div", { className: "override-add" },
      el("select", { id: "override-name", dataset: { testid: "override-name" } }),
      el("button", { type: "button", className: "small", dataset: { testid: "override-add" }, onclick: addOverride }, "添加策略")),
    el("button", { type: "submit", className: "primary", dataset: { testid: "risk-save" } }, "保存限额"));
  drawOverrides(risk.strategies || {});
}

function drawOverrides(values) {
  const rows = overrideRows.map((name) => el("tr", { dataset: { strategy: name } },
    el("td", {}, name),
    ...Object.keys(OVERRIDES).map((key) => {
      const given = values[name] && values[name][key];
      const input = el("input", { type: "number", min: "0", step: "1", name: `override:${name}:${key}`,
        value: given === undefined ? "" : String(given), placeholder: "账户" });
      input.dataset.strategy = name;
      input.dataset.limit = key;
      input.dataset.testid = `override-${key}`;
      return el("td", {}, input);
    }),
    el("td", {}, el("button", { type: "button", className: "icon", title: "移除（保存后生效）",
      dataset: { testid: "override-remove" }, onclick: () => removeOverride(name) }, "✕"))));
  const tbody = document.querySelector("#risk-overrides tbody");
  fillRows(tbody, rows.length ? rows : [empty(Object.keys(OVERRIDES).length + 2, "没有策略单独限额")]);
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
    : [el("option", { value: "" }, "（没有其他策略）")]));
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
    show("没有改动", "");
    return;
  }
  try {
    state.risk = await api("PUT", "/risk", changed);
    drawnKey = "";
    drawn = null;
    drawRisk(); // now, not at the next frame: the form must show what was saved before it is touched again
    mark("killed");
    show(`已保存：${names.join("、")}`, "ok");
  } catch (error) {
    show(`保存失败：${error.message}`, "error");
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
