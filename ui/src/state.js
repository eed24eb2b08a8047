// What the page knows, owned here; events change it and mark what needs drawing. The drawing
// happens at most RENDER_HZ times a second, however fast ticks arrive.

export const RENDER_HZ = 4;

export const state = {
  contracts: new Map(), // local_symbol -> contract
  ticks: new Map(), // local_symbol -> latest tick
  watch: [], // subscribed local_symbols, in the order they were added
  positions: [],
  activeOrders: [],
  orders: new Map(), // order_id -> order (every order of the day)
  trades: [],
  account: null,
  status: null,
  logs: [],
  strategies: [],
  risk: null, // the latest GET /risk
  riskEvents: [], // `risk` events seen by this page, newest first
  selected: "",
};

// Counters a test (or a curious trader, in the console: ctpdesk.stats) can read.
export const stats = { ticks: 0, frames: 0, drawn: 0 };
window.ctpdesk = { stats };

const dirty = new Set();
const dirtyTicks = new Set();
const renderers = new Map();

export function mark(...names) {
  for (const name of names) dirty.add(name);
}

export function tickChanged(symbol) {
  stats.ticks += 1;
  dirtyTicks.add(symbol);
}

export function onRender(name, draw) {
  renderers.set(name, draw);
}

// One frame: each marked view draws once; "ticks" gets the set of instruments that changed.
export function frame() {
  stats.frames += 1;
  if (dirtyTicks.size || dirty.size) stats.drawn += 1;
  if (dirtyTicks.size) {
    const changed = new Set(dirtyTicks);
    dirtyTicks.clear();
    const draw = renderers.get("ticks");
    if (draw) draw(changed);
  }
  const names = [...dirty];
  dirty.clear();
  for (const name of names) {
    const draw = renderers.get(name);
    if (draw) {
      try {
        draw();
      } catch (error) {
        console.error(`drawing ${name} failed`, error);
      }
    }
  }
}

export const MAX_LOGS = 500;
export const MAX_TRADES = 1000;

export function addLog(entry) {
  state.logs.push(entry);
  if (state.logs.length > MAX_LOGS) state.logs.splice(0, state.logs.length - MAX_LOGS);
  mark("logs");
}
