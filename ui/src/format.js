// How values are shown: prices on their instrument's tick, times in exchange time (Asia/Shanghai,
// whatever the browser's zone), enum words from the message table (i18n.js).

import { label, weekday } from "./i18n.js";

export { label };

export const EXCHANGE_ZONE = "Asia/Shanghai";

export function decimalsOf(tick) {
  if (!tick || tick >= 1) return 0;
  const text = String(tick);
  const exp = text.match(/e-(\d+)$/);
  if (exp) return Number(exp[1]);
  return (text.split(".")[1] || "").length;
}

const isNumber = (value) => value !== null && value !== undefined && value !== "" && Number.isFinite(Number(value));

// A fixed-decimals text that never reads "-0.00": a value that rounds to zero shows unsigned.
function fixed(value, decimals) {
  const text = Number(value).toFixed(decimals);
  return Number(text) === 0 ? text.replace("-", "") : text;
}

export function price(value, decimals = 2) {
  if (!isNumber(value)) return "";
  if (Number(value) === 0) return "–";
  return fixed(value, decimals);
}

// An average price: on the tick's decimals when it sits on them (rb "3169", i "767.5"), else two
// more (an average of different fills, "3169.33"), never more than it needs.
export function averagePrice(value, decimals = 2) {
  if (!isNumber(value)) return "";
  const onTick = fixed(value, decimals);
  if (Math.abs(Number(onTick) - Number(value)) < 1e-9) return price(value, decimals);
  const finer = fixed(value, decimals + 2).replace(/0+$/, "");
  return finer.endsWith(".") ? finer.slice(0, -1) : finer;
}

// A signed change in percent: "+0.35%", "-1.20%", and "0.00%" for what rounds to nothing.
export function percent(value) {
  if (!isNumber(value)) return "";
  const text = fixed(value, 2);
  return `${Number(text) > 0 ? "+" : ""}${text}%`;
}

export function money(value) {
  if (!isNumber(value)) return "";
  const rounded = Number(fixed(value, 2));
  return rounded.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function integer(value) {
  if (value === null || value === undefined || value === "") return "";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 0 });
}

const SHANGHAI = new Intl.DateTimeFormat("en-CA", {
  timeZone: EXCHANGE_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

// A moment (ISO text, epoch seconds or a Date) in exchange time: {day: "2026-12-05", time: "21:05:03"}.
export function exchangeTime(value) {
  if (value === null || value === undefined || value === "") return null;
  const moment = value instanceof Date ? value : typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(moment.getTime())) return null;
  const parts = Object.fromEntries(SHANGHAI.formatToParts(moment).map((part) => [part.type, part.value]));
  return { day: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}:${parts.second}` };
}

// Today's calendar day at the exchange, "2026-12-05".
export function exchangeToday() {
  return exchangeTime(new Date()).day;
}

// A time as the desk shows it: exchange time, "HH:MM:SS" today, "MM-DD HH:MM:SS" on another
// calendar day (last night's session seen the next morning, a strategy stopped days ago).
export function when(value) {
  const stamp = exchangeTime(value);
  if (!stamp) return typeof value === "string" ? value : "";
  return stamp.day === exchangeToday() ? stamp.time : `${stamp.day.slice(5)} ${stamp.time}`;
}

export const clock = when;

// A trading day ("20261207" or "2026-12-07") as "12-07 周一"; "" when there is none.
export function tradingDay(day) {
  const match = String(day || "").match(/^(\d{4})-?(\d\d)-?(\d\d)$/);
  if (!match) return day || "";
  const [, year, month, date] = match;
  const index = new Date(Date.UTC(Number(year), Number(month) - 1, Number(date))).getUTCDay();
  return `${month}-${date} ${weekday(index)}`;
}

// The trading day as a calendar day "2026-12-07", to compare with exchangeToday().
export function tradingDayIso(day) {
  const match = String(day || "").match(/^(\d{4})-?(\d\d)-?(\d\d)$/);
  return match ? `${match[1]}-${match[2]}-${match[3]}` : "";
}

export function signClass(value) {
  if (value > 0) return "up";
  if (value < 0) return "down";
  return "";
}

// Build an element: el("td", {className: "num"}, "text", child...)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}
