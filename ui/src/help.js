// The desk's help (帮助 / Help): a short guide in a dialog, in the desk's language (i18n.js's help.*
// texts; each body line is one point). Reachable from the login card and the top bar, so it also
// tells how to log in; it ends with a link to the API reference (/docs).

import { el } from "./format.js";
import { t } from "./i18n.js";

const SECTIONS = ["login", "watch", "ticket", "keys", "positions", "strategies", "lab", "api"];

// A line of help: the parts between backticks are code.
function point(line) {
  return el("li", {}, ...line.split("`").map((part, index) => (index % 2 ? el("code", {}, part) : part)));
}

function section(name) {
  const points = t(`help.${name}.body`).split("\n").map(point);
  const box = el("section", { className: "help-section", dataset: { help: name } },
    el("h3", {}, t(`help.${name}.title`)), el("ul", {}, ...points));
  if (name === "api") {
    // relative: /docs beside the desk, under a path prefix too
    box.append(el("a", { href: "docs", target: "_blank", rel: "noopener", dataset: { testid: "help-docs" } },
      t("help.api.link")));
  }
  return box;
}

function open(dialog) {
  dialog.querySelector(".help-body").replaceChildren(...SECTIONS.map(section));
  dialog.showModal();
}

export function initHelp() {
  const dialog = document.getElementById("help-dialog");
  for (const button of document.querySelectorAll(".help-open")) button.addEventListener("click", () => open(dialog));
  document.getElementById("help-close").addEventListener("click", () => dialog.close());
}
