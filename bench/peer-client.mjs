// The peer to beat (benchmark client B): a plain-JS RocketRide monitor client that does per
// frame what the engine's official TypeScript client does for monitors, written here from its
// description (spec §6, `packages/client-typescript/src/client/core/*` at the spec's snapshot):
//
// - transport: `new WebSocket(url)` with `binaryType = "arraybuffer"`; every message becomes a
//   tracked task (a Promise added to a Set, removed when it settles); text frames go through
//   `JSON.parse`, binary ones through a fresh TextDecoder (header up to the first newline);
// - a debug-protocol hook the client always binds, which serialises each received message
//   (`JSON.stringify`) and drops it when no debug sink is set; `traceProtocol: false` turns it
//   off (the newer client also walks the message to redact credentials first; not done here,
//   so this peer is if anything cheaper than the real one);
// - async layers: transport receive → client receive (responses resolve pending requests by
//   `request_seq`) → event handler → per-subscription callbacks, each awaited, exceptions
//   swallowed;
// - subscriptions: `addMonitor(key, types, cb)`, ref-counted per key, sent as `rrext_monitor`
//   with the type names; replayed after a reconnect before the client reports "connected";
// - reconnect (`persist`): linear backoff 250 ms, +250 ms per failure, capped at 15 s;
// - no ordering, no dedupe, no gap detection, no buffering, no heartbeat in the browser.
//
// Dispatch is by event name: each subscription's types are turned into the set of event names
// they deliver, and a frame goes to every subscription whose key matches and whose set holds
// its name (the official client hands every event to one app callback; a dashboard then
// switches on the name, which is what this does for it).

const TYPE_EVENTS = {
  summary: ["apaevt_status_update"],
  task: ["apaevt_task"],
  flow: ["apaevt_flow"],
  output: ["output"],
  sse: ["apaevt_sse"],
  dashboard: ["apaevt_dashboard"],
  detail: [
    "apaevt_status_object", "apaevt_status_counts", "apaevt_status_error", "apaevt_status_warning",
    "apaevt_status_message", "apaevt_status_download", "apaevt_status_metrics", "apaevt_status_user",
    "apaevt_status_info",
  ],
  debugger: [],
};

export class PeerClient {
  constructor({ url, auth, persist = true, traceProtocol = true }) {
    this.url = url;
    this.auth = auth;
    this.persist = persist;
    this.traceProtocol = traceProtocol;
    this.seq = 0;
    this.pending = new Map();
    this.monitors = new Map(); // key string → { key, types: Map<type, refs>, subs: Set<sub> }
    this.byEvent = new Map(); // event name → Set<sub>
    this.subs = new Set();
    this.messageTasks = new Set();
    this.failures = 0;
    this.closed = false;
    this.connected = false;
    this.onState = null;
    this.onDebugProtocol = null; // the app's debug sink (none by default)
  }

  state(s) {
    try { this.onState?.(s); } catch { /* swallowed */ }
  }

  connect() {
    if (this.closed) return;
    this.state("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (event) => this.handleMessage(ws, event.data);
    ws.onerror = () => {};
    ws.onclose = () => this.onClose(ws);
  }

  async onOpen(ws) {
    if (ws !== this.ws) return;
    try {
      const resp = await this.request("auth", { auth: this.auth, clientName: "peer", clientVersion: "1.0.0" });
      if (!resp.success) { this.closed = true; ws.close(); this.state("authFailed"); return; }
      this.failures = 0;
      this.connected = true;
      for (const m of this.monitors.values()) await this.sendMonitor(m); // replayed before "connected"
      this.state("live");
    } catch { /* the close handler reconnects */ }
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.connected = false;
    for (const p of this.pending.values()) p.reject(new Error("Connection lost"));
    this.pending.clear();
    if (this.closed || !this.persist) { this.state("closed"); return; }
    this.failures += 1;
    this.state("backoff");
    setTimeout(() => this.connect(), Math.min(15_000, 250 * this.failures));
  }

  handleMessage(ws, data) {
    if (ws !== this.ws) return;
    if (typeof data !== "string" && !(data instanceof ArrayBuffer)) return;
    let settle;
    const task = new Promise((resolve) => { settle = resolve; });
    this.messageTasks.add(task);
    this.receiveData(data).then(settle, settle);
    task.finally(() => this.messageTasks.delete(task));
  }

  async receiveData(data) {
    try {
      if (typeof data === "string") {
        await this.transportReceive(JSON.parse(data));
        return;
      }
      const bytes = new Uint8Array(data);
      const nl = bytes.indexOf(10);
      if (nl === -1) {
        await this.transportReceive(JSON.parse(new TextDecoder().decode(bytes)));
        return;
      }
      const message = JSON.parse(new TextDecoder().decode(bytes.slice(0, nl)));
      message.arguments ??= {};
      message.arguments.data = bytes.slice(nl + 1);
      await this.transportReceive(message);
    } catch { /* logged by the real client */ }
  }

  async transportReceive(message) {
    if (this.traceProtocol) this.debugProtocol(`RECV: ${JSON.stringify(message)}`);
    await this.onReceive(message);
  }

  debugProtocol(text) {
    if (this.onDebugProtocol) this.onDebugProtocol(text);
  }

  async onReceive(message) {
    if (message.type === "response") {
      const p = this.pending.get(message.request_seq);
      if (p) { this.pending.delete(message.request_seq); p.resolve(message); }
    } else if (message.type === "event") {
      await this.onEvent(message);
    }
  }

  async onEvent(message) {
    const subs = this.byEvent.get(message.event);
    if (!subs) return;
    const body = message.body;
    for (const sub of subs) {
      if (!matches(sub.key, body)) continue;
      try { await sub.callback(message); } catch { /* swallowed, like the official client */ }
    }
  }

  request(command, args) {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      try {
        this.ws.send(JSON.stringify({ type: "request", seq, command, arguments: args }));
      } catch (e) {
        this.pending.delete(seq);
        reject(e);
      }
    });
  }

  sendMonitor(m) {
    const types = [...m.types.keys()];
    return this.request("rrext_monitor", { ...m.key, types });
  }

  /** Subscribes `callback(message)` to `types` (names, or "all") for `key` ({token} or {projectId, source}). */
  addMonitor(key, types, callback) {
    const names = types.flatMap((t) => (t.toLowerCase() === "all" ? Object.keys(TYPE_EVENTS) : [t.toLowerCase()]));
    const id = JSON.stringify(key);
    let m = this.monitors.get(id);
    if (!m) this.monitors.set(id, (m = { key, types: new Map(), subs: new Set() }));
    for (const t of names) m.types.set(t, (m.types.get(t) ?? 0) + 1);
    const sub = { key, names, callback };
    m.subs.add(sub);
    for (const t of names) {
      for (const ev of TYPE_EVENTS[t] ?? []) {
        if (!this.byEvent.has(ev)) this.byEvent.set(ev, new Set());
        this.byEvent.get(ev).add(sub);
      }
    }
    if (this.connected) this.sendMonitor(m).catch(() => {});
    return () => this.removeMonitor(id, sub);
  }

  removeMonitor(id, sub) {
    const m = this.monitors.get(id);
    if (!m || !m.subs.delete(sub)) return;
    for (const set of this.byEvent.values()) set.delete(sub);
    for (const t of sub.names) {
      const n = (m.types.get(t) ?? 1) - 1;
      if (n > 0) m.types.set(t, n); else m.types.delete(t);
    }
    if (this.connected) this.sendMonitor(m).catch(() => {});
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}

function matches(key, body) {
  if (key.token === "*") return true;
  if (key.token !== undefined) return body?.__id !== undefined && key.token === body.__token;
  if (key.source === "*") return body?.project_id === key.projectId || body?.projectId === key.projectId;
  return (body?.project_id ?? body?.projectId) === key.projectId && body?.source === key.source;
}
