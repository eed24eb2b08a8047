// The configuration page: the /config values as a form (PUT /config validates and persists them),
// the access code change, and what the server says about itself.

import { api } from "./api.js";
import { el } from "./format.js";
import { t } from "./i18n.js";
import { onRender, state } from "./state.js";

// The settings the desk knows: kind of input (the label is "config.KEY" in the message table).
const HELP = {
  REFRESH_INTERVAL: ["number", { min: 1, max: 60, step: 1 }],
  INSTRUMENT_INDEPEND: ["bool"],
  SLIPPAGE_BUY: ["number", { min: 0, step: 1 }],
  SLIPPAGE_SHORT: ["number", { min: 0, step: 1 }],
  SLIPPAGE_COVER: ["number", { min: 0, step: 1 }],
  SLIPPAGE_SELL: ["number", { min: 0, step: 1 }],
  CLOSE_PATTERN: [["today", "yesterday"]],
  SHARED_FUNC: ["bool"],
};

let values = {};

export function initConfig() {
  onRender("status-config", drawServer);
  const form = document.getElementById("config-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await save(form);
  });
  const authForm = document.getElementById("auth-code-form");
  authForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("auth-code-message");
    try {
      await api("PUT", "/auth_code", Object.fromEntries(new FormData(authForm).entries()));
      out.textContent = t("config.accessChanged");
      out.className = "message ok";
      authForm.reset();
    } catch (error) {
      out.textContent = error.message;
      out.className = "message error";
    }
  });
}

// The form, and the server's figures fresh (the subscriptions may have changed since the desk loaded).
export async function loadConfig() {
  const [config, status] = await Promise.all([api("GET", "/config"), api("GET", "/status")]);
  values = config;
  state.status = status;
  draw();
  drawServer();
}

function field(key, value) {
  const [kind, limits] = HELP[key] || [typeof value === "boolean" ? "bool" : "text"];
  const help = HELP[key] ? t(`config.${key}`) : key;
  let input;
  if (kind === "bool") {
    input = el("input", { type: "checkbox", name: key, checked: Boolean(value) });
  } else if (Array.isArray(kind)) {
    input = el("select", { name: key }, ...kind.map((option) => el("option", { value: option, selected: option === value }, t(`config.close.${option}`))));
  } else {
    input = el("input", { type: kind === "number" ? "number" : "text", name: key, value: String(value), ...(limits || {}) });
    if (kind === "number") input.step = limits && limits.step ? String(limits.step) : "any";
  }
  return el("label", { className: kind === "bool" ? "check" : "" }, el("span", {}, el("code", {}, key), " ", help), input);
}

function draw() {
  const form = document.getElementById("config-form");
  form.replaceChildren(...Object.entries(values).map(([key, value]) => field(key, value)),
    el("button", { type: "submit", className: "primary", dataset: { testid: "config-save" } }, t("config.save")));
}

function drawServer() {
  const status = state.status || {};
  const info = document.getElementById("server-info");
  const rows = [["interface", status.interface], ["account", status.userid], ["tradingDay", status.trading_day],
    ["subscribed", status.subscribed], ["strategies", (status.strategies_running || []).join(", ") || t("server.none")],
    ["version", status.version]];
  info.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", {}, t(`server.${name}`)),
    el("dd", { dataset: { field: name } }, value ?? "")]));
}

async function save(form) {
  const out = document.getElementById("config-message");
  const changed = {};
  for (const [key, value] of Object.entries(values)) {
    const input = form.elements[key];
    if (!input) continue;
    const now = input.type === "checkbox" ? input.checked : input.type === "number" ? Number(input.value) : input.value;
    if (now !== value) changed[key] = now;
  }
  if (!Object.keys(changed).length) {
    out.textContent = t("config.nothing");
    out.className = "message";
    return;
  }
  try {
    values = await api("PUT", "/config", changed);
    draw();
    out.textContent = t("config.saved", { keys: Object.keys(changed).join(", ") });
    out.className = "message ok";
  } catch (error) {
    out.textContent = error.message;
    out.className = "message error";
  }
}
