// The configuration page: the /config values as a form (PUT /config validates and persists them),
// the access code change, and what the server says about itself.

import { api } from "./api.js";
import { el } from "./format.js";
import { state } from "./state.js";

const HELP = {
  REFRESH_INTERVAL: ["Account and position refresh (seconds, 1–60)", "number", { min: 1, max: 60, step: 1 }],
  INSTRUMENT_INDEPEND: ["Strategies receive only their own instruments' events", "bool"],
  SLIPPAGE_BUY: ["Slippage when buying to open (price ticks)", "number", { min: 0, step: 1 }],
  SLIPPAGE_SHORT: ["Slippage when selling to open (price ticks)", "number", { min: 0, step: 1 }],
  SLIPPAGE_COVER: ["Slippage when buying to close (price ticks)", "number", { min: 0, step: 1 }],
  SLIPPAGE_SELL: ["Slippage when selling to close (price ticks)", "number", { min: 0, step: 1 }],
  CLOSE_PATTERN: ["Close today's or yesterday's lots first (SHFE/INE)", ["today", "yesterday"]],
  SHARED_FUNC: ["Push the intraday shared series each minute", "bool"],
};

let values = {};

export function initConfig() {
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
      out.textContent = "access code changed: use the new one at the next login (every other session was logged out)";
      out.className = "message ok";
      authForm.reset();
    } catch (error) {
      out.textContent = error.message;
      out.className = "message error";
    }
  });
}

export async function loadConfig() {
  values = await api("GET", "/config");
  draw();
  drawServer();
}

function field(key, value) {
  const [help, kind, limits] = HELP[key] || [key, typeof value === "boolean" ? "bool" : "text"];
  let input;
  if (kind === "bool") {
    input = el("input", { type: "checkbox", name: key, checked: Boolean(value) });
  } else if (Array.isArray(kind)) {
    input = el("select", { name: key }, ...kind.map((option) => el("option", { value: option, selected: option === value }, option)));
  } else {
    input = el("input", { type: kind === "number" ? "number" : "text", name: key, value: String(value), ...(limits || {}) });
    if (kind === "number") input.step = limits && limits.step ? String(limits.step) : "any";
  }
  return el("label", { className: kind === "bool" ? "check" : "" }, el("span", {}, el("code", {}, key), " ", help), input);
}

function draw() {
  const form = document.getElementById("config-form");
  form.replaceChildren(...Object.entries(values).map(([key, value]) => field(key, value)),
    el("button", { type: "submit", className: "primary", dataset: { testid: "config-save" } }, "Save configuration"));
}

function drawServer() {
  const status = state.status || {};
  const info = document.getElementById("server-info");
  const rows = [["Interface", status.interface], ["Account", status.userid], ["Trading day", status.trading_day],
    ["Subscribed", status.subscribed], ["Strategies running", (status.strategies_running || []).join(", ") || "none"],
    ["Version", status.version]];
  info.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? "")]));
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
    out.textContent = "nothing changed";
    out.className = "message";
    return;
  }
  try {
    values = await api("PUT", "/config", changed);
    draw();
    out.textContent = `saved: ${Object.keys(changed).join(", ")}`;
    out.className = "message ok";
  } catch (error) {
    out.textContent = error.message;
    out.className = "message error";
  }
}
