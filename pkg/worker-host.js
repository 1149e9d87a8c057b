// runwatch Worker mode, the Worker's side (started by ./worker.js; not an entry point).
//
// Runs the real clients — socket, wasm engine, task stores — off the page's main thread, and
// posts what the page needs to see in one message per batch (about one per animation frame
// by default). Everything arrives on the page in the order it happened here.
//
// Page → Worker: { op: "init", input } first, then arrays of { op, client, ... } or
// { op: "page", name } (see `handlers` below), each array what the page asked or saw in one
// task, handled in one go.
// Worker → page: an array of items, each [kind, client, ...]:
//   ["state", c, change] ["diag", c, diagnostic] ["events", c, sub, eventsJson]
//   ["store", c, store, view] ["reply", c, call, ok, value] ["meta", c, meta]
//   ["closed", c]    and, posted at once, ["cred", c, req] asking for a credential.
import init, { RocketRideClient } from "./index.js";

const clients = new Map(); // client id → { client, subs, stores, creds, nextCred, delay, dirty }
let outbox = [];
let flushTimer = 0;
let flushDelay = Infinity; // delay of the pending flush
// A batch goes out about once per frame; `batch: "task"`/`"microtask"` clients get theirs at once.
const FRAME_MS = 16;

function queue(item, delay) {
  outbox.push(item);
  schedule(delay);
}

function schedule(delay) {
  if (flushTimer && delay >= flushDelay) return;
  clearTimeout(flushTimer);
  flushDelay = delay;
  flushTimer = setTimeout(flush, delay);
}

function flush() {
  flushTimer = 0;
  flushDelay = Infinity;
  for (const [id, entry] of clients) {
    if (entry.dirty) {
      entry.dirty = false;
      outbox.push(["meta", id, meta(entry.client)]);
    }
  }
  if (outbox.length === 0) return;
  const items = outbox;
  outbox = [];
  postMessage(items);
}

// What the page's synchronous getters return: as of the last batch.
function meta(client) {
  return { state: client.state, stats: client.stats(), serverSubscriptions: client.serverSubscriptions() };
}

// Errors cross postMessage as plain objects: structured cloning keeps only `message` (and
// not `code`, `timeoutMs`, …) of an Error.
function plainError(e) {
  if (!(e instanceof Error)) return { name: "Error", message: String(e) };
  return { ...e, name: e.name, message: e.message };
}

// Something of client `id` happened: send it (and the client's getters' values) soon.
function send(id, item) {
  const entry = clients.get(id);
  if (item) push(item);
  if (entry) entry.dirty = true;
  schedule(entry ? entry.delay : 0);
}

// A subscription's batch that comes right after another of its batches joins it. The
// Worker's client flushes as its socket's frames come, a few events at a time on a steady
// stream (1 at 2k/s, ~6 at 10k/s, measured), and the page parses each batch and calls back
// once per batch: joined, the page does that once per subscription per message. Only
// neighbours join, so the order of everything posted stays as it happened.
function push(item) {
  const last = outbox[outbox.length - 1];
  if (item[0] === "events" && last?.[0] === "events" && last[1] === item[1] && last[2] === item[2]) {
    last[3] = joinArrays(last[3], item[3]);
  } else {
    outbox.push(item);
  }
}

/** Two JSON arrays' texts (as the client writes them: no spaces) as one array's. */
function joinArrays(a, b) {
  if (a === "[]") return b;
  if (b === "[]") return a;
  return `${a.slice(0, -1)},${b.slice(1)}`;
}

const handlers = {
  async init({ input }) {
    await (input === undefined ? init() : init(input));
  },

  new({ client: id, options, authFn }) {
    const delay = options.batch === "task" || options.batch === "microtask" ? 0 : FRAME_MS;
    const entry = { subs: new Map(), stores: new Map(), creds: new Map(), nextCred: 1, delay, dirty: true };
    const auth = authFn
      ? () => new Promise((resolve, reject) => {
          const req = entry.nextCred++;
          entry.creds.set(req, { resolve, reject });
          queue(["cred", id, req], 0);
        })
      : options.auth;
    // "task": what queued while the Worker was busy is flushed (and posted) as one batch.
    entry.client = new RocketRideClient({ ...options, auth, batch: "task" });
    clients.set(id, entry);
    entry.client.onState((change) => send(id, ["state", id, change]));
    entry.client.onDiagnostic((d) => send(id, ["diag", id, d]));
    send(id);
  },

  cred({ client: id, req, value, error }) {
    const pending = clients.get(id)?.creds.get(req);
    if (!pending) return;
    clients.get(id).creds.delete(req);
    if (error) pending.reject(Object.assign(new Error(error.message), error));
    else pending.resolve(value);
  },

  sub({ client: id, sub, scope, types }) {
    const entry = clients.get(id);
    if (!entry) return;
    entry.subs.set(sub, entry.client.__subscribeText(scope, types, (json) => send(id, ["events", id, sub, json])));
    send(id);
  },

  unsub({ client: id, sub }) {
    const entry = clients.get(id);
    entry?.subs.get(sub)?.unsubscribe();
    entry?.subs.delete(sub);
    send(id);
  },

  store({ client: id, store: storeId, scope, options }) {
    const entry = clients.get(id);
    if (!entry) return;
    const store = entry.client.tasks(scope, options);
    const shown = new Map(); // runId → version last posted
    const post = () => send(id, ["store", id, storeId, storeView(store, shown)]);
    entry.stores.set(storeId, store);
    store.subscribe(post);
    post();
  },

  storeClose({ client: id, store }) {
    const entry = clients.get(id);
    entry?.stores.get(store)?.close();
    entry?.stores.delete(store);
  },

  call({ client: id, call, method, args }) {
    const entry = clients.get(id);
    const closed = () => Promise.reject(Object.assign(new Error("the client is closed"), { name: "RunwatchRequestError", code: "closed" }));
    // Not awaited here: later messages must not wait for the server's answer.
    (entry ? entry.client[method](...args) : closed()).then(
      (value) => send(id, ["reply", id, call, true, value]),
      (e) => send(id, ["reply", id, call, false, plainError(e)]),
    );
  },

  // A page event (`online`, `visible`, `pagehide`, `pageshow`): every client hears it.
  page({ name }) {
    for (const { client } of clients.values()) client.__page(name);
  },

  close({ client: id }) {
    const entry = clients.get(id);
    if (!entry) return;
    entry.client.close();
    for (const { reject } of entry.creds.values()) reject(new Error("closed"));
    clients.delete(id);
    // After the close's own state change, so the page sees `closed` before the end: it comes
    // at once, or, for a client made in the same message, when it starts (on a microtask
    // queued before this one).
    queueMicrotask(() => {
      outbox.push(["meta", id, meta(entry.client)], ["closed", id]);
      schedule(0);
    });
  },
};

// The store's snapshot with runs unchanged since the last post sent as their `runId` alone,
// so the page reuses its object for them (React selectors see the same object) and the
// message carries only what changed.
function storeView(store, shown) {
  const snap = store.getSnapshot();
  const runs = snap.runs.map((run) => {
    if (shown.get(run.runId) === run.version) return run.runId;
    shown.set(run.runId, run.version);
    return run;
  });
  if (shown.size > runs.length) {
    const held = new Set(snap.runs.map((r) => r.runId));
    for (const runId of shown.keys()) if (!held.has(runId)) shown.delete(runId);
  }
  return { version: snap.version, runs, stats: store.stats() };
}

// Messages are handled in order, and only after `init` has loaded the module. The requests
// of one message are handled together, before any client made by them starts (on a
// microtask), so one closed in the tick it was made never opens a socket.
let loaded = Promise.resolve();
self.onmessage = ({ data }) => {
  if (data.op === "init") {
    loaded = handlers.init(data).then(
      () => postMessage([["ready"]]),
      (e) => postMessage([["ready", plainError(e)]]),
    );
    return;
  }
  loaded = loaded.then(() => {
    for (const request of data) {
      try {
        handlers[request.op](request);
      } catch (e) {
        console.error("runwatch worker:", e);
      }
    }
  });
};
