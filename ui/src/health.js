// Is what the desk shows live, and can an order go out? (issue 17 item 6)
//
// Three plain rules, each with its reason shown to the trader:
// - market data is down (every price greyed and the watch says why) while the socket to the server is
//   disconnected or the server's market-data session is not logged in (GET /status, `status` events);
// - one instrument is stale when its last tick is STALE_SECONDS (exchange time) behind the latest tick of
//   another watched instrument of the same exchange: that exchange is trading, this one is not updating.
//   Out of trading hours nothing ticks, so nothing is marked;
// - Send is disabled while the socket is disconnected or the trader session is not logged in, and
//   enabled again on recovery. The kill switch (risk.js) locks it too: the kill reason comes first.

import { t } from "./i18n.js";
import { mark, state } from "./state.js";
import { lockTicket } from "./ticket.js";

export const STALE_SECONDS = 60;
const LOGGED_IN = new Set(["logged_in", "ready"]);

const link = { socket: false, started: false };
const locks = { kill: "", link: "" };

// The socket's state: called by app.js on connect and disconnect.
export function socketUp(connected) {
  link.socket = connected;
  link.started = true;
  refreshHealth();
}

// Why market data is down ("" when it is up).
export function marketDown() {
  if (!link.started) return "";
  if (!link.socket) return t("link.socket");
  const md = (state.status && state.status.md && state.status.md.state) || "disconnected";
  return LOGGED_IN.has(md) ? "" : t("link.md", { state: md });
}

// Why no order can be sent ("" when one can).
export function tradingDown() {
  if (!link.started) return "";
  if (!link.socket) return t("link.socket");
  const td = (state.status && state.status.td && state.status.td.state) || "disconnected";
  return LOGGED_IN.has(td) ? "" : t("link.td", { state: td });
}

// The lock on Send, by source ("kill": the kill switch's reason, "link": the connection's).
export function lockSend(source, reason) {
  locks[source] = reason || "";
  const active = locks.kill || locks.link;
  lockTicket(active);
  const button = document.querySelector("#ticket-form button[type=submit]");
  if (button && !locks.kill && locks.link) button.title = t("link.sendTitle", { reason: locks.link });
  if (button) button.dataset.lock = locks.kill ? "kill" : locks.link ? "link" : "";
}

// Apply both rules now (a status event, the socket's state): the body's class, the banner, Send.
export function refreshHealth() {
  const down = marketDown();
  document.body.classList.toggle("md-down", Boolean(down));
  const banner = document.getElementById("md-state");
  if (banner) {
    banner.hidden = !down;
    banner.textContent = down ? t("link.stale", { reason: down }) : "";
  }
  const depth = document.getElementById("depth");
  if (depth) depth.title = down ? t("link.stale", { reason: down }) : "";
  lockSend("link", tradingDown());
  mark("ticks-stale");
}

// The watched instruments whose ticks stopped while their exchange's others go on: local_symbol -> seconds behind.
export function staleSymbols(ticks = state.ticks, symbols = state.watch) {
  const latest = new Map(); // exchange -> the newest tick time (ms, exchange time)
  const times = new Map();
  for (const symbol of symbols) {
    const tick = ticks.get(symbol);
    const moment = tick ? Date.parse(tick.datetime) : NaN;
    if (Number.isNaN(moment)) continue;
    const exchange = symbol.slice(symbol.lastIndexOf(".") + 1);
    times.set(symbol, [exchange, moment]);
    latest.set(exchange, Math.max(latest.get(exchange) || 0, moment));
  }
  const stale = new Map();
  for (const [symbol, [exchange, moment]] of times) {
    const behind = (latest.get(exchange) - moment) / 1000;
    if (behind >= STALE_SECONDS) stale.set(symbol, Math.round(behind));
  }
  return stale;
}
