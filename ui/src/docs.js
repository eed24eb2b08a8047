// The API reference page (/docs): Swagger UI (from the npm lockfile, served at vendor/) renders
// openapi.json; the Socket.IO events of asyncapi.json are listed below it by this module, since
// Swagger UI reads only OpenAPI. Every URL is relative to the page, so a path prefix works too.

import { el } from "./format.js";
import { applyStatic, switchLang, t } from "./i18n.js";

function showError(text) {
  const box = document.getElementById("docs-error");
  box.textContent = text;
  box.hidden = false;
}

function renderRest() {
  if (typeof window.SwaggerUIBundle !== "function") {
    showError(t("docs.missing"));
    return;
  }
  window.SwaggerUIBundle({
    url: "openapi.json",
    domNode: document.getElementById("swagger-ui"),
    validatorUrl: null, // never send the document to an outside validator
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
  });
}

// A schema as a short type text; $refs become links to the schema's own table below.
function typeOf(schema) {
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return el("a", { href: `#schema-${name}`, className: "type" }, name);
  }
  if ("const" in schema) return el("code", { className: "type" }, JSON.stringify(schema.const));
  if (schema.enum) return el("code", { className: "type" }, schema.enum.join(" | "));
  if (schema.anyOf) return joined(schema.anyOf.map(typeOf), " | ");
  if (schema.prefixItems) return joined(["[", joined(schema.prefixItems.map(typeOf), ", "), "]"], "");
  if (schema.type === "array") return joined(["[", typeOf(schema.items || {}), ", …]"], "");
  return el("code", { className: "type" }, schema.type || "any");
}

function joined(parts, separator) {
  const span = el("span");
  parts.forEach((part, index) => {
    if (index) span.append(separator);
    span.append(part);
  });
  return span;
}

function fields(schema) {
  if (schema.type !== "object" || !schema.properties) return el("p", {}, typeOf(schema));
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties).map(([name, property]) => el("tr", {},
    el("td", {}, el("code", {}, name), required.has(name) ? "" : el("span", { className: "required" }, ` ${t("docs.optional")}`)),
    el("td", {}, typeOf(property)),
    el("td", {}, property.description || "")));
  return el("table", { className: "schema" }, el("tbody", {}, ...rows));
}

function eventBlock(spec, operation) {
  const message = resolve(spec, operation.messages[0]);
  const sent = operation.action === "send";
  const block = el("div", { className: `event ${sent ? "sent" : "received"}`, dataset: { event: message.name } },
    el("span", { className: "event-name" }, message.name),
    el("span", { className: "event-way" }, t(sent ? "docs.sent" : "docs.received")),
    el("p", {}, message.summary || ""),
    fields(message.payload));
  if (operation.reply) {
    const reply = resolve(spec, operation.reply.messages[0]);
    block.append(el("p", {}, t("docs.reply")), fields(reply.payload));
  }
  return block;
}

function resolve(spec, reference) {
  return reference.$ref.slice(2).split("/").reduce((node, key) => node[key], spec);
}

async function renderEvents() {
  const response = await fetch("asyncapi.json");
  if (!response.ok) throw new Error(`asyncapi.json: HTTP ${response.status}`);
  const spec = await response.json();
  const operations = Object.values(spec.operations);
  const schemas = Object.entries(spec.components.schemas).map(([name, schema]) =>
    el("div", { className: "event", id: `schema-${name}` },
      el("span", { className: "event-name" }, name), el("p", {}, schema.description || ""), fields(schema)));
  document.getElementById("events").replaceChildren(
    el("h3", {}, t("docs.serverEvents")),
    ...operations.filter((operation) => operation.action === "send").map((operation) => eventBlock(spec, operation)),
    el("h3", {}, t("docs.clientEvents")),
    ...operations.filter((operation) => operation.action !== "send").map((operation) => eventBlock(spec, operation)),
    el("h3", {}, t("docs.schemas")),
    ...schemas);
}

applyStatic();
for (const button of document.querySelectorAll(".lang-switch")) button.addEventListener("click", switchLang);
renderRest();
renderEvents().catch((error) => showError(`${t("docs.eventsFailed")} ${error.message}`));
