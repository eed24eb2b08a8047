// A strategy's declared params as a form (issue 17 item 10): one labelled input per parameter, typed
// by its default's JSON type as GET /strategy's `declared_params` gives it (integer and number: number
// inputs; boolean: a checkbox; string: text; array, object and null defaults: JSON text), prefilled
// with the values the next start would use, checked here before anything is sent (the messages in the
// desk's language), with "恢复默认". The Strategies page starts with it; the Lab tab runs with it.
//
// What a form gives is the overrides: the values that differ from the class's defaults (the server
// keeps those, so a parameter left at its default follows the code's default if that changes).

import { el } from "./format.js";
import { t } from "./i18n.js";

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export class ParamsForm {
  // declared: [{name, type, default}]; values: {name: value} to show (missing ones: the default).
  constructor(declared, values = {}) {
    this.declared = declared || [];
    this.inputs = new Map(); // name -> {item, input, error}
    this.element = el("div", { className: "params-form", dataset: { testid: "params-form" } });
    if (!this.declared.length) this.element.append(el("p", { className: "muted" }, t("params.none")));
    for (const item of this.declared) this.element.append(this.field(item));
    this.set(values);
  }

  field(item) {
    const input = inputFor(item);
    input.name = item.name;
    input.dataset.param = item.name;
    input.dataset.type = item.type;
    input.addEventListener("input", () => this.mark(item.name, ""));
    const error = el("small", { className: "field-error", role: "alert", dataset: { error: item.name } });
    const hint = el("small", { className: "param-hint" }, `${t(`params.type.${item.type}`)} · ${t("params.default", { value: JSON.stringify(item.default) })}`);
    this.inputs.set(item.name, { item, input, error });
    if (item.type === "boolean") {
      return el("label", { className: "param check" }, input, el("span", {}, el("b", {}, item.name), " ", hint), error);
    }
    return el("label", { className: "param" }, el("span", {}, el("b", {}, item.name), " ", hint), input, error);
  }

  // Show these values (a parameter not given shows its default).
  set(values) {
    for (const { item, input } of this.inputs.values()) {
      const value = values && item.name in values ? values[item.name] : item.default;
      if (item.type === "boolean") input.checked = Boolean(value);
      else if (item.type === "integer" || item.type === "number" || item.type === "string") input.value = value ?? "";
      else input.value = JSON.stringify(value);
      this.mark(item.name, "");
    }
  }

  reset() {
    this.set({});
  }

  mark(name, text) {
    const entry = this.inputs.get(name);
    entry.error.textContent = text;
    entry.input.classList.toggle("invalid", Boolean(text));
    entry.input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  // Every value as typed, checked: {ok: true, values, overrides} or {ok: false} with each bad field marked
  // (and the first one focused).
  read() {
    const values = {};
    let first = null;
    for (const { item, input } of this.inputs.values()) {
      const [value, problem] = valueOf(item, input);
      this.mark(item.name, problem);
      if (problem) first = first || input;
      else values[item.name] = value;
    }
    if (first) {
      first.focus();
      return { ok: false };
    }
    const overrides = Object.fromEntries(Object.entries(values).filter(([name, value]) => !same(value, this.defaultOf(name))));
    return { ok: true, values, overrides };
  }

  defaultOf(name) {
    return this.inputs.get(name).item.default;
  }
}

function inputFor(item) {
  if (item.type === "boolean") return el("input", { type: "checkbox" });
  if (item.type === "integer") return el("input", { type: "number", step: "1", inputMode: "numeric" });
  if (item.type === "number") return el("input", { type: "number", step: "any", inputMode: "decimal" });
  if (item.type === "string") return el("input", { type: "text", spellcheck: false });
  return el("textarea", { rows: 2, spellcheck: false, className: "json" }); // array, object, null: JSON
}

// [value, ""] or [undefined, what is wrong], by the same rules as the server's check_params.
function valueOf(item, input) {
  const text = input.value === undefined ? "" : String(input.value).trim();
  switch (item.type) {
    case "boolean":
      return [input.checked, ""];
    case "string":
      return [input.value, ""];
    case "integer": {
      if (input.validity && input.validity.badInput) return [undefined, t("params.notNumber")];
      if (text === "") return [undefined, t("params.required")];
      const number = Number(text);
      if (!Number.isFinite(number)) return [undefined, t("params.notNumber")];
      if (!Number.isInteger(number)) return [undefined, t("params.notInteger")];
      if (!Number.isSafeInteger(number)) return [undefined, t("params.tooLarge")];
      return [number, ""];
    }
    case "number": {
      if (input.validity && input.validity.badInput) return [undefined, t("params.notNumber")];
      if (text === "") return [undefined, t("params.required")];
      const number = Number(text);
      return Number.isFinite(number) ? [number, ""] : [undefined, t("params.notNumber")];
    }
    default: {
      let value;
      try {
        value = JSON.parse(text);
      } catch {
        return [undefined, t("params.notJson")];
      }
      if (item.type === "array" && !Array.isArray(value)) return [undefined, t("params.notArray")];
      if (item.type === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
        return [undefined, t("params.notObject")];
      }
      return [value, ""];
    }
  }
}
