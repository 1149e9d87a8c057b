// The measured page of the benchmark (`node bench/run.mjs`). It runs one client per page and
// exposes `window.bench` for the harness, which drives it over a raw CDP session
// (Runtime.evaluate) and reads main-thread time with Performance.getMetrics.
//
// Clients (identical per-event work in the app callback: count, and, while a latency window
// is open, `now - eventTime`):
//   A  raw WebSocket + JSON.parse + a callback per event (the floor);
//   F  A, with each frame first copied into a wasm module's memory and read there once: the
//      least a design that checks frames in wasm adds to the floor;
//   B  bench/peer-client.mjs, what RocketRide's official TS client does for monitors;
//   C  runwatch on the main thread: RocketRideClient, subscribe({token:"*"}, ["ALL"], cb);
//   W  runwatch in Worker mode (see WORKER below; skipped when the package has none);
//   S  runwatch feeding its task store (client.tasks()), a selector read once per frame;
//   M  (= S "from memory") runwatch + task store on frames fed from memory through a fake
//      globalThis.WebSocket: decode + route + store without the network.
//
// Latency stamps: runwatch-sim's load scenario stamps `eventTime` (epoch seconds, float,
// µs resolution) on every task event; dashboard events carry `timestamp`. The page compares
// them with performance.timeOrigin + performance.now() (same machine clock).
import { PeerClient } from "./peer-client.mjs";

const now = () => performance.timeOrigin + performance.now();
const LAT_CAP = 1 << 20;

const B = (window.bench = {
  kind: null,
  count: 0,
  latOn: false,
  lat: new Float64Array(LAT_CAP),
  latN: 0,
  tNew: 0,
  tFirst: 0,
  longTasks: [],
  states: [],
  errors: [],
  client: null,
  wasm: null,
  available: true,
  reason: "",
  frames: 0,
  scanned: 0,
  calls: 0,
});

addEventListener("error", (e) => B.errors.push(String(e.message || e.error)));
addEventListener("unhandledrejection", (e) => B.errors.push(String(e.reason?.stack || e.reason)));
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) B.longTasks.push({ at: e.startTime, ms: e.duration });
  }).observe({ type: "longtask", buffered: true });
} catch (e) {
  B.errors.push(`longtask observer: ${e}`);
}

/** The app callback's per-event work, identical for every client. */
function onEvent(stamp) {
  if (B.count === 0) B.tFirst = now();
  B.count += 1;
  if (B.latOn && stamp) B.lat[B.latN++ & (LAT_CAP - 1)] = now() - stamp * 1000;
}

const AUTH = { type: "request", seq: 1, command: "auth", arguments: { auth: "sim-key", clientName: "bench" } };
const MONITOR = { type: "request", seq: 2, command: "rrext_monitor", arguments: { token: "*", types: ["ALL"] } };

/**
 * F: what any design that checks frames in wasm must add to the floor, at the least: each
 * frame's text copied into a module's memory (`TextEncoder.encodeInto`, as runwatch does)
 * and read there once, byte by byte (a 91-byte module whose `scan` sums the bytes: no check
 * can read less). Then the floor's own `JSON.parse` and callback.
 */
const SCAN_WASM = "AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBAAIHDgIDbWVtAgAEc2NhbgAACi8BLQECfyAAIAFqIQICQANAIAAgAk8NASADIAAtAABqIQMgAEEBaiEADAALCyADCw==";

function copyAndScan() {
  const bytes = Uint8Array.from(atob(SCAN_WASM), (c) => c.charCodeAt(0));
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const encoder = new TextEncoder();
  const view = new Uint8Array(exports.mem.buffer);
  return (text) => {
    const { written } = encoder.encodeInto(text, view);
    B.scanned = (B.scanned + exports.scan(0, written)) | 0;
  };
}

/** A: the floor, with a minimal reconnect so the outage measure has something to compare. */
function startRaw(url, { copy = null } = {}) {
  let closed = false;
  const open = () => {
    const ws = new WebSocket(url);
    B.states.push({ state: "connecting", at: now() });
    ws.onopen = () => {
      ws.send(JSON.stringify(AUTH));
      ws.send(JSON.stringify(MONITOR));
    };
    ws.onmessage = (e) => {
      copy?.(e.data);
      const m = JSON.parse(e.data);
      if (m.type === "event") {
        B.calls += 1;
        onEvent(m.body?.eventTime ?? m.body?.timestamp);
      }
      else if (m.type === "response" && m.command === "rrext_monitor") B.states.push({ state: "live", at: now() });
    };
    ws.onclose = () => {
      B.states.push({ state: "backoff", at: now() });
      if (!closed) setTimeout(open, 250);
    };
    B.ws = ws;
  };
  open();
  return { close() { closed = true; B.ws.close(); } };
}

/** B: the peer client (official-client behaviour), subscribed to every event name. */
function startPeer(url) {
  const client = new PeerClient({ url, auth: "sim-key", persist: true });
  client.onState = (state) => B.states.push({ state, at: now() });
  client.addMonitor({ token: "*" }, ["all"], (msg) => {
    B.calls += 1;
    onEvent(msg.body?.eventTime ?? msg.body?.timestamp);
  });
  client.connect();
  return client;
}

let runwatch; // the module, imported once

async function loadRunwatch(entry = "runwatch") {
  const mod = await import(entry);
  // The profile run loads the same module with its function names (bench/run.mjs `named`).
  B.wasm = await (B.wasmUrl ? mod.default({ module_or_path: B.wasmUrl }) : mod.default());
  return mod;
}

function trackStates(client) {
  client.onState((s) => B.states.push({ state: s.newState, at: now() }));
}

/** C: runwatch on the main thread. */
async function startRunwatch(url, options = {}) {
  runwatch ??= await loadRunwatch();
  const client = new runwatch.RocketRideClient({ url, auth: "sim-key", ...options });
  trackStates(client);
  client.subscribe({ token: "*" }, ["ALL"], (events) => {
    B.calls += 1;
    for (let i = 0; i < events.length; i += 1) {
      const ev = events[i];
      onEvent(ev.eventTime ?? ev.timestamp);
    }
  });
  return client;
}

// W: how Worker mode plugs in. The first variant that works is used; add one line here when
// the package grows its Worker entry or option. Each returns a client class whose instances
// behave like RocketRideClient, or throws/returns null when not available.
const WORKER = [
  // A separate entry: `import { RocketRideClient } from "runwatch/worker"` (needs "./worker"
  // in pkg/package.json "exports"; the harness builds the page's import map from it).
  async () => {
    if (!window.RUNWATCH_EXPORTS?.includes("./worker")) return null;
    const mod = await import("runwatch/worker");
    if (typeof mod.default === "function") B.wasm = await mod.default();
    return { make: (opts) => new mod.RocketRideClient(opts), via: "runwatch/worker" };
  },
  // An option on the main entry: `new RocketRideClient({ ..., worker: true })`. Today unknown
  // options throw `invalidOptions`, which is how absence shows.
  async () => {
    runwatch ??= await loadRunwatch();
    const probe = new runwatch.RocketRideClient({ url: "ws://127.0.0.1:9/", auth: "x", worker: true });
    probe.close();
    return { make: (opts) => new runwatch.RocketRideClient({ ...opts, worker: true }), via: "option worker: true" };
  },
];

async function startWorker(url) {
  const why = [];
  for (const variant of WORKER) {
    try {
      const found = await variant();
      if (!found) continue;
      const client = found.make({ url, auth: "sim-key" });
      B.via = found.via;
      trackStates(client);
      client.subscribe({ token: "*" }, ["ALL"], (events) => {
        B.calls += 1;
        for (let i = 0; i < events.length; i += 1) onEvent(events[i].eventTime ?? events[i].timestamp);
      });
      return client;
    } catch (e) {
      why.push(String(e?.message ?? e).split("\n")[0].split(";")[0]);
    }
  }
  B.available = false;
  B.reason = `the package has no Worker mode (no "./worker" export; ${why.join("; ") || "no variant matched"})`;
  return null;
}

/** S: the task store, with a selector read once per animation frame. */
async function startStore(url) {
  runwatch ??= await loadRunwatch();
  const client = new runwatch.RocketRideClient({ url, auth: "sim-key" });
  trackStates(client);
  const store = client.tasks({ token: "*" });
  let dirty = false;
  store.subscribe(() => { dirty = true; });
  B.selected = 0;
  const frame = () => {
    if (B.stopped) return;
    if (dirty) {
      dirty = false;
      const snap = store.getSnapshot();
      // The selector a dashboard row list would run: live runs and their progress.
      let live = 0;
      let done = 0;
      for (const run of snap.runs) {
        if (run.phase !== "ended") live += 1;
        done += run.status?.completedCount ?? 0;
      }
      B.selected = live + done;
      const events = store.stats().events;
      if (B.count === 0 && events > 0) B.tFirst = now();
      B.count = events;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  B.store = store;
  return client;
}

// ---- frames fed from memory (M) -------------------------------------------------------------

/** Records what a real socket brings, to replay it from memory: responses by command, events. */
function recordingWebSocket(Real, rec) {
  return class extends Real {
    constructor(...args) {
      super(...args);
      const sent = new Map();
      const send = this.send.bind(this);
      this.send = (data) => {
        try {
          const m = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
          if (m.type === "request") sent.set(m.seq, m.command);
        } catch { /* not JSON */ }
        return send(data);
      };
      this.addEventListener("message", (e) => {
        if (typeof e.data !== "string") return;
        if (e.data.startsWith('{"type":"event"')) {
          if (rec.events.length < rec.max) rec.events.push(e.data);
        } else if (e.data.startsWith('{"type":"response"')) {
          const m = JSON.parse(e.data);
          const command = sent.get(m.request_seq) ?? m.command;
          if (!rec.responses[command]) rec.responses[command] = e.data;
        }
      });
    }
  };
}

/**
 * A WebSocket that answers requests with recorded responses and then streams recorded events.
 * Its events are plain objects (`{ type, data }`, as bench/feed.mjs delivers them), not DOM
 * events built in script: a real socket's `MessageEvent` is made by the browser, outside the
 * page's script time, while `new MessageEvent` + `dispatchEvent` here cost more script per
 * frame than the count-only consumer does in all.
 */
function memoryWebSocket(rec, { total, chunk }) {
  const EVENT_HEAD = '{"type":"event","seq":';
  const tails = rec.events.map((t) => t.slice(t.indexOf(",", EVENT_HEAD.length)));
  return class MemoryWebSocket {
    static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
    constructor(url) {
      this.listeners = { open: [], message: [], close: [], error: [] };
      this.url = String(url);
      this.readyState = 0;
      this.binaryType = "blob";
      this.bufferedAmount = 0;
      this.protocol = "";
      this.extensions = "";
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      this.seq = 0;
      this.sent = 0;
      this.streaming = false;
      const ch = new MessageChannel();
      this.port = ch.port2;
      ch.port1.onmessage = () => this.pump();
      setTimeout(() => { this.readyState = 1; this.fire("open", { type: "open" }); }, 0);
    }
    addEventListener(type, fn) { this.listeners[type]?.push(fn); }
    removeEventListener(type, fn) { this.listeners[type] = this.listeners[type]?.filter((f) => f !== fn); }
    fire(type, ev) {
      for (const f of this.listeners[type]) f.call(this, ev);
      const h = this["on" + type];
      if (h) h.call(this, ev);
    }
    deliver(text) { this.fire("message", { type: "message", data: text }); }
    send(data) {
      const m = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
      if (m.type !== "request") return;
      const tpl = rec.responses[m.command];
      let text;
      if (tpl) {
        const r = JSON.parse(tpl);
        text = JSON.stringify({ ...r, seq: ++this.seq, request_seq: m.seq });
      } else {
        text = JSON.stringify({ type: "response", seq: ++this.seq, request_seq: m.seq, command: m.command, success: false, message: "Not running" });
      }
      queueMicrotask(() => {
        if (this.readyState !== 1) return;
        this.deliver(text);
        if (m.command === "rrext_monitor" && !this.streaming) {
          this.streaming = true;
          B.memStart = now();
          this.port.postMessage(0);
        }
      });
    }
    pump() {
      if (this.readyState !== 1) return;
      const end = Math.min(total, this.sent + chunk);
      for (; this.sent < end; this.sent += 1) {
        this.deliver(EVENT_HEAD + ++this.seq + tails[this.sent % tails.length]);
      }
      B.frames = this.sent;
      if (this.sent < total) this.port.postMessage(0);
      else B.memEnd = now();
    }
    close(code = 1000) {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      setTimeout(() => this.fire("close", { type: "close", code, reason: "", wasClean: true }), 0);
    }
  };
}

// ---- the harness's entry points ---------------------------------------------------------------

B.start = async ({ kind, url, record = 0, options = {}, wasmUrl = null }) => {
  B.kind = kind;
  B.wasmUrl = wasmUrl;
  B.tNew = now();
  if (record) {
    B.rec = { events: [], responses: {}, max: record };
    globalThis.WebSocket = recordingWebSocket(globalThis.WebSocket, B.rec);
  }
  switch (kind) {
    case "A": B.client = startRaw(url); break;
    case "F": B.client = startRaw(url, { copy: copyAndScan() }); break;
    case "B": B.client = startPeer(url); break;
    case "C": B.client = await startRunwatch(url, options); break;
    case "W": B.client = await startWorker(url); break;
    case "S": B.client = await startStore(url); break;
    default: throw new Error(`unknown client ${kind}`);
  }
  return { available: B.available, reason: B.reason, via: B.via ?? null };
};

/**
 * M: after an S run with `record`, the same page replays the recorded frames from memory, to
 * the task store (`consumer: "store"`) or to a listener that only counts them (`"count"`: what
 * the replay itself costs).
 */
B.startMemory = async ({ total, chunk = 64, consumer = "store" }) => {
  if (!B.rec?.events.length) throw new Error("nothing recorded");
  B.stop();
  B.stopped = false;
  B.count = 0;
  B.tFirst = 0;
  B.memEnd = undefined;
  globalThis.WebSocket = memoryWebSocket(B.rec, { total, chunk });
  B.client = consumer === "count" ? countFrames("ws://127.0.0.1:1/task/service") : await startStore("ws://127.0.0.1:1/task/service");
  return { recorded: B.rec.events.length, responses: Object.keys(B.rec.responses) };
};

/** The replay's own cost: a socket listener that asks for the stream and counts its frames. */
function countFrames(url) {
  const ws = new WebSocket(url);
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "request", seq: 1, command: "rrext_monitor", arguments: {} })));
  ws.addEventListener("message", (e) => { if (e.data.startsWith('{"type":"event"')) B.count += 1; });
  return { close: () => ws.close() };
}

B.latency = (on) => {
  if (on) B.latN = 0;
  B.latOn = on;
  return true;
};

/** The median latency of the last `k` events recorded since `latency(true)`, or null. */
B.recent = (k) => {
  const n = Math.min(B.latN, LAT_CAP, k);
  if (!n) return null;
  const xs = new Float64Array(n);
  for (let i = 1; i <= n; i++) xs[i - 1] = B.lat[(B.latN - i) & (LAT_CAP - 1)];
  return xs.sort()[n >> 1];
};

B.quantiles = (qs) => {
  const n = Math.min(B.latN, LAT_CAP);
  const xs = Float64Array.from(B.lat.subarray(0, n)).sort();
  return { n, q: qs.map((q) => (n ? xs[Math.min(n - 1, Math.floor(q * n))] : null)) };
};

B.snapshot = () => ({
  count: B.count,
  at: now(),
  tNew: B.tNew,
  tFirst: B.tFirst,
  frames: B.frames,
  calls: B.calls,
  memStart: B.memStart,
  memEnd: B.memEnd,
  longTasks: B.longTasks.length,
  longTaskMs: B.longTasks.reduce((s, t) => s + t.ms, 0),
  errors: B.errors.slice(0, 5),
  stats: B.client?.stats?.() ?? null,
  storeStats: B.store?.stats?.() ?? null,
  wasmBytes: B.wasm?.memory?.buffer?.byteLength ?? null,
});

B.memory = () => {
  if (typeof gc === "function") { gc(); gc(); }
  return { heap: performance.memory?.usedJSHeapSize ?? null, wasmBytes: B.wasm?.memory?.buffer?.byteLength ?? null };
};

B.statesSince = (at) => B.states.filter((s) => s.at >= at);

B.stop = () => {
  B.stopped = true;
  try { B.client?.close?.(); } catch (e) { B.errors.push(String(e)); }
  return true;
};

window.benchReady = true;
