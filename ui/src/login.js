// The login page. Presets fill what a counter needs besides the account; front addresses are never
// built in (they move: CTP.md §8) but remembered in this browser once typed. Passwords and the
// access code are never stored.

import { api, session } from "./api.js";
import { t } from "./i18n.js";

const REMEMBER_KEY = "ctpdesk.login";
const REMEMBERED = ["preset", "userid", "interface", "brokerid", "appid", "auth_code", "td_address", "md_address", "product_info"];

const PRESETS = { // hint: a key of the message table (i18n.js)
  sim: {
    hint: "login.hint.sim",
    fields: { interface: "sim", userid: "demo", brokerid: "", appid: "", auth_code: "", td_address: "", md_address: "" },
    fronts: false,
  },
  simnow: {
    hint: "login.hint.simnow",
    fields: { interface: "ctp", brokerid: "9999", appid: "simnow_client_test", auth_code: "0000000000000000" },
    fronts: true,
  },
  simnow724: {
    hint: "login.hint.simnow724",
    fields: { interface: "ctp", brokerid: "9999", appid: "simnow_client_test", auth_code: "0000000000000000" },
    fronts: true,
  },
  tts: {
    hint: "login.hint.tts",
    fields: { interface: "tts", brokerid: "", appid: "", auth_code: "" },
    fronts: true,
  },
  custom: {
    hint: "login.hint.custom",
    fields: { interface: "ctp" },
    fronts: true,
  },
};

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(REMEMBER_KEY) || "{}");
  } catch {
    return {};
  }
}

export function initLogin(onLoggedIn) {
  const form = document.getElementById("login-form");
  const presetSelect = document.getElementById("login-preset");
  const error = document.getElementById("login-error");

  function applyPreset(name, saved = {}) {
    const preset = PRESETS[name] || PRESETS.sim;
    document.getElementById("preset-hint").textContent = t(preset.hint);
    document.getElementById("front-fields").hidden = !preset.fronts;
    const sameTarget = saved.preset === name;
    for (const [key, value] of Object.entries(preset.fields)) {
      form.elements[key].value = sameTarget && saved[key] !== undefined ? saved[key] : value;
    }
    if (sameTarget) {
      for (const key of ["td_address", "md_address", "product_info", "userid"]) {
        if (saved[key] !== undefined) form.elements[key].value = saved[key];
      }
    }
  }

  const saved = remembered();
  presetSelect.value = PRESETS[saved.preset] ? saved.preset : "sim";
  applyPreset(presetSelect.value, saved);
  presetSelect.addEventListener("change", () => applyPreset(presetSelect.value, remembered()));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const fields = Object.fromEntries(new FormData(form).entries());
    delete fields.preset;
    for (const key of Object.keys(fields)) if (fields[key] === "") delete fields[key];
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = t("login.waiting");
    try {
      const token = await api("POST", "/login", fields);
      localStorage.setItem(REMEMBER_KEY, JSON.stringify(Object.fromEntries(
        REMEMBERED.map((key) => [key, key === "preset" ? presetSelect.value : (form.elements[key].value || "")]))));
      form.elements.password.value = "";
      form.elements.authorization.value = "";
      session.set(token);
      onLoggedIn();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
      button.textContent = t("login.submit");
    }
  });
}
