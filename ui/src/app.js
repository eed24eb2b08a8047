// The desk's entry point: login or desk, the socket that feeds the state, the drawing loop.

import { api, session } from "./api.js";
import { applyOrder, applyTrade, initBlotter } from "./blotter.js";
import { chartBar, chartTick, initChart, showInstrument } from "./chart.js";
import { initConfig, loadConfig } from "./config.js";
import { el } from "./format.js";
import { refreshHealth, socketUp } from "./health.js";
import { initHelp } from "./help.js";
import { applyStatic, switchLang, t } from "./i18n.js";
import { applyLabEvent, initLab, loadLab } from "./lab.js";
import { initLogin } from "./login.js";
import { applyTick, bindDesk, initMarket, loadMarket, markSelectedRow } from "./market.js";
import { applyRiskEvent, initRisk, loadRisk } from "./risk.js";
import { addLog, frame, mark, MAX_TRADES, RENDER_HZ, state } from "./state.js";
import { applyStrategy, initStrategies, loadStrategies, refreshEditor } from "./strategies.js";
import { cancelAt, fillPrice, initTicket, ladderClick, ticketSymbol, ticketTick } from "./ticket.js";

const SELECTED_KEY = "ctpdesk.selected";
let socket = null;
let refreshTimer = null;
let toastTimer = null;
let deskLoads = 0; // each login's loading counts; a later login or a logout makes an earlier one's end stale

const desk = {
  select(symbol) {
    if (!symbol) return;
    state.selected = symbol;
    localStorage.setItem(SELECTED_KEY, symbol);
    ticketSymbol(symbol);
    showInstrument(symbol);
    markSelectedRow();
    mark("depth");
  },
  fillPrice,
  ladderClick, // a ladder level clicked: the ticket's price, or (Ctrl/⌘, 一键下单) an order sent at once
  cancelAt, // the ladder's × or right click: the instrument's working orders at a price
  ticketTick, // each drawn tick of the selected instrument: the ticket's price follows its mode
  toast(text, kind = "ok") {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.className = `toast ${kind}`;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 4000);
  },
  // The server's view of itself (subscriptions, trading day) after something changed it.
  refreshStatus() {
    loadStatus().catch(() => {});
  },
  // After an order: the socket brings every change; a REST refresh a moment later is a safety net.
  refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => loadOverview().catch(() => {}), 1500);
  },
};

async function loadOverview() {
  const overview = await api("GET", "/order_solve");
  state.positions = overview.position_list;
  state.activeOrders = overview.active_order_list;
  state.orders = new Map(overview.order_list.map((order) => [order.order_id, order]));
  state.trades = overview.trade_list.slice(-MAX_TRADES);
  state.logs = overview.log_history.slice();
  mark("positions", "orders", "history", "trades", "logs", "depth"); // depth: working orders on the ladder
}

async function loadStatus() {
  const [status, account] = await Promise.all([api("GET", "/status"), api("GET", "/account").catch(() => null)]);
  state.status = status;
  if (account) state.account = account;
  mark("status", "status-config", "account");
  refreshHealth();
}

function connectSocket() {
  socket = window.io({ auth: { token: session.token }, reconnectionDelayMax: 5000 });
  const takeTick = (tick) => {
    applyTick(tick);
    if (tick.local_symbol === state.selected) chartTick(tick);
  };
  socket.on("tick", (message) => takeTick(message.data));
  socket.on("ticks", (message) => message.data.forEach(takeTick)); // one message per server flush
  socket.on("bar", chartBar);
  socket.on("bars", (message) => message.data.forEach(chartBar)); // a batch socket's bars, one message per flush
  socket.on("order", (message) => applyOrder(message.data));
  socket.on("active_order", (message) => { state.activeOrders = message.data; mark("orders", "depth"); });
  socket.on("trade", (message) => applyTrade(message.data));
  socket.on("position", (message) => { state.positions = message.data; mark("positions", "depth"); }); // depth: the ticket's held line
  socket.on("account", (message) => { state.account = message.data; mark("account"); });
  socket.on("status", (status) => { state.status = status; mark("status", "status-config"); refreshHealth(); });
  socket.on("log", addLog);
  socket.on("strategy", applyStrategy);
  socket.on("contract", () => loadMarket().catch(() => {}));
  socket.on("risk", (message) => applyRiskEvent(desk, message));
  socket.on("backtest", applyLabEvent); // the lab's runs: progress and endings
  socket.on("connect", () => {
    document.body.classList.remove("offline");
    socketUp(true);
    socket.emit("watch", { batch: true }); // every subscribed instrument, one message per flush
    if (socket.recovered === false && socket.wasConnected) {
      loadOverview().catch(() => {});
      loadRisk().catch(() => {}); // risk events may have been missed meanwhile
    }
    socket.wasConnected = true;
  });
  socket.on("connect_error", () => {
    document.body.classList.add("offline");
    socketUp(false);
    api("GET", "/status").catch(() => {}); // a refused token shows here as 401: back to login
  });
  socket.on("disconnect", (reason) => {
    document.body.classList.add("offline");
    socketUp(false);
    if (reason === "io server disconnect") {
      // The server dropped us on purpose (logout, revoked token): ask whether the token still holds.
      api("GET", "/status").then(() => socket.connect()).catch(() => {});
    }
  });
}

function showPage(name) {
  for (const button of document.querySelectorAll("#pages button")) button.classList.toggle("active", button.dataset.page === name);
  for (const page of document.querySelectorAll("#desk-view .page")) page.hidden = page.id !== `page-${name}`;
  if (name === "strategies") {
    refreshEditor();
    loadStrategies().catch(() => {});
  }
  if (name === "config") loadConfig().catch((error) => desk.toast(t("toast.error", { msg: error.message }), "error"));
  if (name === "risk") loadRisk().catch(() => {});
  if (name === "lab") loadLab().catch((error) => desk.toast(t("toast.error", { msg: error.message }), "error"));
}

function showLogin() {
  if (socket) {
    socket.removeAllListeners();
    socket.disconnect();
    socket = null;
  }
  session.set("");
  const view = document.getElementById("desk-view");
  view.hidden = true;
  delete view.dataset.loaded;
  deskLoads += 1; // a login still loading stops where it is
  document.getElementById("login-view").hidden = false;
}

async function showDesk() {
  const view = document.getElementById("desk-view");
  document.getElementById("login-view").hidden = true;
  view.hidden = false;
  delete view.dataset.loaded;
  const mine = ++deskLoads;
  try {
    await Promise.all([loadMarket(), loadOverview(), loadStatus(), loadStrategies()]);
  } catch (error) {
    if (!session.token) return; // the token was refused: the login page is showing
    desk.toast(t("toast.error", { msg: error.message }), "error");
  }
  // Logged out, or logged in again, while this loaded (a first login's default list can take seconds): the
  // newer session connects its own socket; this one would open a second and get every push twice.
  if (mine !== deskLoads) return;
  loadRisk().catch(() => {}); // the kill switch's state shows in the top bar on every page
  connectSocket();
  // The instrument picked last (one picked while the desk loaded too: select() remembers it, and the default
  // list keeps it in the watch), or the watch's first.
  const remembered = localStorage.getItem(SELECTED_KEY);
  desk.select(state.watch.includes(remembered) ? remembered : state.watch[0] || "");
  view.dataset.loaded = "true"; // for scripts and tests: the desk has what it shows on arrival
}

async function logout(event) {
  event.preventDefault();
  const form = event.target;
  const out = document.getElementById("logout-message");
  try {
    await api("POST", "/logout", { authorization: form.elements.authorization.value });
    form.reset();
    out.textContent = "";
    showLogin();
  } catch (error) {
    out.textContent = error.message;
    out.className = "message error";
  }
}

function start() {
  for (const button of document.querySelectorAll(".lang-switch")) button.addEventListener("click", switchLang);
  initHelp();
  bindDesk(desk);
  initLogin(showDesk);
  initMarket(desk);
  initChart();
  initTicket(desk);
  initBlotter(desk);
  initStrategies(desk);
  initConfig();
  initRisk(desk);
  initLab(desk);
  session.onExpired = showLogin;
  document.getElementById("pages").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-page]");
    if (button) showPage(button.dataset.page);
  });
  document.getElementById("logout-form").addEventListener("submit", logout);
  document.getElementById("leave").addEventListener("click", showLogin);
  setInterval(frame, 1000 / RENDER_HZ);
  if (session.token) showDesk();
  else showLogin();
}

applyStatic();
if (!window.io || !window.LightweightCharts || !window.CodeMirror) {
  document.body.replaceChildren(el("p", { className: "fatal" }, t("app.libraries")));
} else {
  start();
}
