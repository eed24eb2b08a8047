// How values are shown: prices on their instrument's tick, enum words as traders read them.

export const LABELS = {
  direction: { long: "Long", short: "Short" },
  offset: { open: "Open", close: "Close", closetoday: "Close today", closeyesterday: "Close yd" },
  type: { limit: "Limit", market: "Market", fak: "FAK", fok: "FOK" },
  status: {
    submitting: "Submitting", nottraded: "Working", parttraded: "Part filled",
    alltraded: "Filled", cancelled: "Cancelled", rejected: "Rejected",
  },
};

export function label(kind, value) {
  return (LABELS[kind] && LABELS[kind][value]) || value || "";
}

export function decimalsOf(tick) {
  if (!tick || tick >= 1) return 0;
  const text = String(tick);
  const exp = text.match(/e-(\d+)$/);
  if (exp) return Number(exp[1]);
  return (text.split(".")[1] || "").length;
}

export function price(value, decimals = 2) {
  if (value === null || value === undefined || value === "" || !Number.isFinite(Number(value))) return "";
  if (Number(value) === 0) return "–";
  return Number(value).toFixed(decimals);
}

export function money(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function integer(value) {
  if (value === null || value === undefined || value === "") return "";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 0 });
}

export function clock(iso) {
  if (!iso) return "";
  const match = String(iso).match(/T?(\d\d:\d\d:\d\d)/);
  return match ? match[1] : String(iso);
}

// Epoch seconds (strategy times) as the browser's local date and time.
export function when(epochSeconds) {
  if (!epochSeconds) return "";
  const moment = new Date(Number(epochSeconds) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`;
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
