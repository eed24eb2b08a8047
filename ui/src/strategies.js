// Strategies: the list with start/stop/delete, an editor with line numbers, pylint's findings at
// their lines (/check_code), a sandbox run (/run_code), and save (/code).

import { ApiError, api, session } from "./api.js";
import { el, fillRows, label, money, signClass, when } from "./format.js";
import { t } from "./i18n.js";
import { ParamsForm } from "./params.js";
import { mark, onRender, state } from "./state.js";

const TEMPLATE = `from backend.strategy import Strategy


class LogTicks(Strategy):
    """A starting point: logs every 20th tick of the main rebar contract (主力). Replace with your rules."""

    params = {"product": "rb", "every": 20}
    seen = 0

    def on_init(self):
        self.subscribe(self.main_contract(self.params["product"]))

    def on_tick(self, tick):
        self.seen += 1
        if self.seen % self.params["every"] == 0:
            self.info(f"{tick.local_symbol} last {tick.last_price} bid {tick.bid_price_1} ask {tick.ask_price_1}")

    def on_trade(self, trade):
        self.info(f"filled {trade.direction} {trade.offset} {trade.volume} @ {trade.price}")


ext = LogTicks("log_ticks")
`;

let editor = null;
let findings = []; // the latest /check_code answer, drawn by the lint addon
let message = null;

export function initStrategies(desk) {
  message = document.getElementById("code-message");
  editor = window.CodeMirror(document.getElementById("editor"), {
    value: TEMPLATE,
    mode: "python",
    lineNumbers: true,
    indentUnit: 4,
    tabSize: 4,
    indentWithTabs: false,
    extraKeys: { Tab: (cm) => cm.execCommand("insertSoftTab") },
    gutters: ["CodeMirror-lint-markers", "CodeMirror-linenumbers"],
    lint: { getAnnotations: annotations, lintOnChange: false },
  });
  editor.on("change", () => {
    if (findings.length) clearFindings();
  });
  document.getElementById("code-check").addEventListener("click", () => check());
  document.getElementById("code-run").addEventListener("click", () => run());
  document.getElementById("code-save").addEventListener("click", () => save());
  addFileButtons();
  initParamsDialog();
  document.getElementById("strategy-new").addEventListener("click", () => {
    document.getElementById("strategy-name").value = "";
    editor.setValue(TEMPLATE);
    show("", "");
  });
  onRender("strategies", () => drawList(desk));
}

export function refreshEditor() {
  if (editor) editor.refresh(); // CodeMirror measures itself: do it once the page is visible
}

export async function loadStrategies() {
  state.strategies = await api("GET", "/strategy");
  mark("strategies");
}

export function applyStrategy(change) {
  const known = state.strategies.find((entry) => entry.name === change.name);
  if (known) Object.assign(known, change);
  else state.strategies.push({ ...change });
  mark("strategies");
  loadStrategies().catch(() => {}); // positions and times come with the full listing
}

function show(text, kind) {
  message.textContent = text;
  message.className = `message ${kind}`;
}

function annotations() {
  const severity = { error: "error", fatal: "error", warning: "warning" };
  return findings.map((item) => {
    const line = Math.max(0, (item.line || 1) - 1);
    const column = Math.max(0, item.column || 0);
    return {
      from: window.CodeMirror.Pos(line, column),
      to: window.CodeMirror.Pos(line, column + 1),
      message: `${item.code} ${item.error}: ${item.message}`,
      severity: severity[item.type] || "warning",
    };
  });
}

function clearFindings() {
  findings = [];
  drawFindings();
}

function drawFindings() {
  const list = document.getElementById("lint-results");
  for (let line = 0; line < editor.lineCount(); line += 1) editor.removeLineClass(line, "background", "lint-line");
  for (const item of findings) {
    editor.addLineClass(Math.max(0, item.line - 1), "background", "lint-line");
  }
  editor.performLint();
  list.replaceChildren(...findings.map((item) => el("li", {
    className: `lint-${item.type}`,
    dataset: { line: item.line, code: item.code },
    onclick: () => {
      editor.focus();
      editor.setCursor({ line: item.line - 1, ch: item.column || 0 });
    },
  }, el("b", {}, t("strategies.line", { line: item.line })), ` ${item.code} ${item.error}: ${item.message}`)));
}

async function check() {
  show(t("strategies.checking"), "pending");
  try {
    findings = await api("POST", "/check_code", { text: editor.getValue() });
    drawFindings();
    show(findings.length ? t("strategies.findings", { n: findings.length }) : t("strategies.noFindings"), findings.length ? "warn" : "ok");
  } catch (error) {
    show(error.message, "error");
  }
}

async function run() {
  const output = document.getElementById("run-output");
  output.textContent = t("strategies.running");
  try {
    const result = await api("POST", "/run_code", { text: editor.getValue() });
    const tail = result.timed_out ? t("strategies.timedOut") : t("strategies.exitCode", { code: result.exit_code });
    output.textContent = `${result.output}\n— ${tail}, ${result.duration_ms} ms`;
    output.className = `run-output ${result.exit_code === 0 && !result.timed_out ? "ok" : "error"}`;
  } catch (error) {
    output.textContent = error.message;
    output.className = "run-output error";
  }
}

async function save() {
  const name = document.getElementById("strategy-name").value.trim();
  const fields = { text: editor.getValue() };
  if (name) fields.name = name;
  try {
    const saved = await api("POST", "/code", fields);
    document.getElementById("strategy-name").value = saved.name || name;
    show(t("strategies.saved", { name: saved.name || name }), "ok");
    await loadStrategies();
  } catch (error) {
    show(error.message, "error");
  }
}

async function open(name) {
  try {
    const code = await api("GET", "/code", { name });
    document.getElementById("strategy-name").value = code.name;
    editor.setValue(code.text);
    findings = [];
    drawFindings();
    show(t("strategies.editing", { name: code.name }), "");
  } catch (error) {
    show(error.message, "error");
  }
}

async function operate(desk, name, operation, entry = {}) {
  const fields = { name, operation };
  if (operation === "start" && entry.declared_params !== undefined) {
    // The form reads the params as the code declares them now (it may have changed since the list was drawn).
    await loadStrategies().catch(() => {});
    const now = state.strategies.find((item) => item.name === name) || entry;
    if ((now.declared_params || []).length) {
      editParams(desk, now);
      return;
    }
  }
  try {
    await api("PUT", "/strategy", fields);
    desk.toast(t("strategies.done", { name, operation: label("operation", operation) }));
  } catch (error) {
    desk.toast(t("strategies.failed", { name, msg: error.message }), "error");
  }
  await loadStrategies();
}

async function remove(desk, name) {
  if (!window.confirm(t("strategies.deleteConfirm", { name }))) return;
  try {
    await api("DELETE", "/strategy", { name });
    desk.toast(t("strategies.deleted", { name }));
  } catch (error) {
    desk.toast(t("strategies.failed", { name, msg: error.message }), "error");
  }
  await loadStrategies();
}

function drawList(desk) {
  const rows = state.strategies.map((entry) => {
    const pnl = (entry.positions || []).reduce((sum, p) => sum + (p.position_profit || 0) + (p.close_profit || 0), 0);
    const running = entry.status === "running";
    return el("tr", { dataset: { name: entry.name, status: entry.status } },
      el("td", {}, el("a", { href: "#", textContent: entry.name, onclick: (event) => { event.preventDefault(); open(entry.name); } })),
      el("td", { className: `state-${entry.status}`, title: entry.error || "" }, label("strategy", entry.status), entry.error ? el("small", {}, ` ${entry.error.split("\n")[0]}`) : null),
      el("td", { className: `num ${signClass(pnl)}` }, money(pnl)),
      el("td", { title: entry.started_at ? t("strategies.started", { time: when(entry.started_at) }) : "", dataset: { field: "updated" } },
        when(entry.updated_at)), // exchange time, as everywhere on the desk
      el("td", { className: "actions" },
        el("button", { className: "small", textContent: t(running ? "strategies.stop" : "strategies.start"), dataset: { testid: running ? "strategy-stop" : "strategy-start" },
          onclick: () => operate(desk, entry.name, running ? "stop" : "start", entry) }),
        el("button", { className: "small ghost", textContent: t("strategies.download"), dataset: { testid: "strategy-download" },
          onclick: () => download(desk, entry.name) }),
        el("button", { className: "small ghost", textContent: t("strategies.delete"), dataset: { testid: "strategy-delete" },
          onclick: () => remove(desk, entry.name) })));
  });
  const withDrift = rows.flatMap((row, index) => [row, driftRow(desk, state.strategies[index])].filter(Boolean));
  fillRows(document.querySelector("#strategy-table tbody"), withDrift.length ? withDrift
    : [el("tr", { className: "empty" }, el("td", { colSpan: 5 }, t("strategies.empty")))]);
}

// --- files and params (issue 17) ---------------------------------------------------------------

// An Upload button (a .py file, sent as multipart to POST /code) beside Save.
function addFileButtons() {
  const input = el("input", { type: "file", accept: ".py,text/x-python", hidden: true, dataset: { testid: "code-file" },
    onchange: () => { if (input.files.length) upload(input.files[0]); input.value = ""; } });
  const button = el("button", { textContent: t("strategies.upload"), dataset: { testid: "code-upload" }, onclick: () => input.click() });
  document.getElementById("code-save").after(button, input);
}

async function upload(file) {
  const form = new FormData();
  form.append("file", file); // named by its ext = X("name"): the editor's name field belongs to the open code
  try {
    const saved = await send("POST", "/code", form);
    await open(saved.name);
    show(t("strategies.uploaded", { file: file.name, name: saved.name }), "ok");
    await loadStrategies();
  } catch (error) {
    show(error.message, "error");
  }
}

// The code as a .py file: fetched with the token (a plain link could not send it), saved by the browser.
async function download(desk, name) {
  try {
    const response = await send("GET", `/code?${new URLSearchParams({ name, download: "1" })}`);
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `${name}.py` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) {
    desk.toast(`${name}: ${error.message}`, "error");
  }
}

// A request api() does not make (a form body, a file answer): the raw response when it is not JSON.
async function send(method, url, body) {
  const headers = session.token ? { Authorization: `JWT ${session.token}` } : {};
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (error) {
    throw new ApiError(`the server cannot be reached (${error.message})`, 0, null);
  }
  if (response.ok && !(response.headers.get("Content-Type") || "").includes("json")) return response;
  const answer = await response.json().catch(() => ({ success: false, msg: `HTTP ${response.status}` }));
  if (response.status === 401) session.onExpired();
  if (!answer.success) throw new ApiError(answer.msg, response.status, answer.data);
  return answer.data;
}

// --- the params form (issue 17 item 10; the Lab's "应用这些参数" too) ----------------------------------
// A dialog with the strategy's declared params (params.js), prefilled with what its next start would use
// (or the values given). 启动 starts with them, 仅保存 keeps them for the next start (PUT operation=params);
// for a running strategy 停止并重启 stops it and starts it with them. A refusal stays in the dialog.

let editing = null; // {desk, entry, form} while the dialog is open

function initParamsDialog() {
  const dialog = document.getElementById("params-dialog");
  document.getElementById("params-reset").addEventListener("click", () => editing && editing.form.reset());
  document.getElementById("params-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("params-save").addEventListener("click", () => submitParams("params"));
  document.getElementById("params-dialog-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitParams(editing && editing.entry.status === "running" ? "restart" : "start");
  });
  dialog.addEventListener("close", () => { editing = null; });
}

// Open the form for a strategy (an entry of GET /strategy); `values` (the Lab's) replace the current params.
export function editParams(desk, entry, values = null) {
  const dialog = document.getElementById("params-dialog");
  const running = entry.status === "running";
  const form = new ParamsForm(entry.declared_params, values || entry.params || {});
  if (values) form.read(); // the given values checked at once: a swept value the code no longer takes shows
  editing = { desk, entry, form };
  document.getElementById("params-title").textContent = t(values ? "params.applyTitle" : "params.title", { name: entry.name });
  document.getElementById("params-fields").replaceChildren(form.element);
  document.getElementById("params-start").textContent = t(running ? "params.restart" : "params.start");
  document.getElementById("params-save").hidden = running;
  paramsMessage("");
  dialog.dataset.name = entry.name;
  if (!dialog.open) dialog.showModal();
  const first = form.element.querySelector("input, textarea");
  if (first) first.focus();
}

function paramsMessage(text) {
  document.getElementById("params-message").textContent = text;
}

async function submitParams(action) {
  if (!editing) return;
  const { desk, entry, form } = editing;
  const read = form.read();
  if (!read.ok) {
    paramsMessage(t("params.fix"));
    return;
  }
  const buttons = document.querySelectorAll("#params-dialog button");
  for (const button of buttons) button.disabled = true;
  paramsMessage("");
  try {
    if (action === "restart") await api("PUT", "/strategy", { name: entry.name, operation: "stop" });
    const operation = action === "params" ? "params" : "start";
    await api("PUT", "/strategy", { name: entry.name, operation, params: read.overrides });
    document.getElementById("params-dialog").close();
    desk.toast(t(action === "params" ? "params.saved" : "strategies.done", { name: entry.name, operation: label("operation", "start") }));
  } catch (error) {
    paramsMessage(t("params.refused", { msg: error.message }));
  } finally {
    for (const button of buttons) button.disabled = false;
  }
  await loadStrategies().catch(() => {});
}

// --- a book against the account (issue 17 item 3, the desk side) ---------------------------------
// Under a strategy whose book holds lots the account does not (GET /strategy's `drift`): what differs,
// and the two ways out (POST /strategy/reconcile), each after a confirm.
function driftRow(desk, entry) {
  const drift = entry.drift || [];
  if (!drift.length) return null;
  const rows = drift.map((row) => t("drift.row", { symbol: row.local_symbol, direction: label("direction", row.direction),
    book: row.book, account: row.account }));
  const button = (action, testid) => el("button", { className: `small ${action === "flatten" ? "danger" : ""}`,
    textContent: t(`drift.${action}`), dataset: { testid }, onclick: () => reconcile(desk, entry.name, action, rows) });
  return el("tr", { className: "drift", dataset: { drift: entry.name, testid: "strategy-drift" } },
    el("td", { colSpan: 5 },
      el("strong", {}, `⚠ ${t("drift.title")}`),
      el("ul", {}, ...rows.map((text) => el("li", {}, text))),
      el("div", { className: "actions" }, button("adopt", "drift-adopt"), button("flatten", "drift-flatten"))));
}

async function reconcile(desk, name, action, rows) {
  if (!window.confirm(t(`drift.${action}Confirm`, { name, rows: rows.join("; ") }))) return;
  try {
    const outcome = await api("POST", "/strategy/reconcile", { name, action });
    if (outcome.problems && outcome.problems.length) desk.toast(t("drift.problems", { name, msg: outcome.problems.join("; ") }), "error");
    else desk.toast(t("drift.done", { name, action: t(`drift.${action}`) }));
  } catch (error) {
    desk.toast(t("drift.failed", { name, msg: error.message }), "error");
  }
  await loadStrategies();
}
