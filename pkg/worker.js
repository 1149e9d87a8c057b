// runwatch/worker: the same API as "runwatch", with the socket, the wasm engine and the task
// stores running in a dedicated Worker (./worker-host.js). The page receives already-decoded
// deliveries in one message per batch (about one per animation frame; `batch: "task"` or
// `"microtask"` sends each as soon as it is ready), so the main thread pays for almost
// nothing but the app's own callbacks.
//
//   import init, { RocketRideClient } from "runwatch/worker";
//   await init();
//   const client = new RocketRideClient({ url, auth: () => getKey() }); // as on the main thread
//
// Differences from the main-thread classes, all documented in the README ("Worker mode"):
// - `state`, `stats()`, `serverSubscriptions()` and a store's `stats()` show the Worker's
//   values as of the last batch (at most about one frame old);
// - calls take effect in the Worker after the current batch, as calls made from callbacks do
//   on the main thread;
// - the objects are plain JavaScript objects, not instances of the generated classes.
// Where `Worker` is missing (or the Worker fails to start) `init()` falls back to the main
// thread, and `RocketRideClient` is the main-thread class.
//
// The module is also instantiated on the page, for argument checks only, so that invalid
// arguments throw the same `RunwatchError`, synchronously, from the same code.
import mainInit, * as main from "./index.js";
import { argsText } from "./json-args.js";
import { runwatchError } from "./entry.js";

export * from "./index.js";

let ready; // Promise of the first successful (or in-flight) init
let worker; // the Worker, once it has loaded the module; undefined on the main-thread fallback
let initialized = false;
let views; // the getters' values before the Worker's first report

/** Loads the module on the page and in a Worker; falls back to the main thread without one. */
export default function init(input) {
  ready ??= start(input).catch((err) => { ready = undefined; throw err; });
  return ready;
}

/** Instantiates the module synchronously; a Worker cannot start synchronously, so clients
 * created after `initSync` alone run on the main thread. */
export function initSync(module) {
  const exports = main.initSync(module);
  views = main.__initialViews();
  initialized = true;
  ready ??= Promise.resolve(exports);
  return exports;
}

// The Worker starts (and loads and compiles its copy of the module) while the page compiles
// its own: the two run side by side, not one after the other.
async function start(input) {
  const starting = startWorker(input);
  let exports;
  try {
    exports = await (input === undefined ? mainInit() : mainInit(input));
  } catch (err) {
    starting.then((w) => w?.terminate()); // not awaited: the page's failure is the answer
    throw err;
  }
  views = main.__initialViews();
  worker = await starting;
  initialized = true;
  return exports;
}

async function startWorker(input) {
  if (typeof Worker === "undefined") return undefined;
  let w;
  try {
    w = new Worker(new URL("./worker-host.js", import.meta.url), { type: "module", name: "runwatch" });
  } catch {
    return undefined; // e.g. a Content-Security-Policy without worker-src
  }
  const failed = await new Promise((resolve) => {
    w.onmessage = ({ data: [[kind, error]] }) => resolve(kind === "ready" ? error : "no ready message");
    w.onerror = (e) => { e.preventDefault?.(); resolve(e.message || "the Worker failed to load"); };
    w.postMessage({ op: "init", input: transferableInput(input) });
  });
  if (failed) {
    w.terminate();
    console.warn("runwatch: Worker mode unavailable, running on the main thread:", failed.message ?? failed);
    return undefined;
  }
  w.onmessage = ({ data }) => receive(data);
  w.onerror = null;
  forwardPageEvents();
  return w;
}

// A Worker sees nothing of the page's lifecycle: the page tells it, so that its clients
// reconnect at once when the page is back online, visible or shown from the back/forward
// cache, and close their sockets cleanly when it is hidden (`pagehide`), as on the main thread.
function forwardPageEvents() {
  const tell = (name) => post({ op: "page", name });
  for (const name of ["online", "pagehide", "pageshow"]) addEventListener(name, () => tell(name));
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") tell("visible"); });
}

// What the Worker can load the module from: a URL (as a string) or a compiled module; other
// inputs (a Response, raw bytes) cannot be shared, so the Worker fetches its default.
function transferableInput(input) {
  const given = input && typeof input === "object" && "module_or_path" in input ? input.module_or_path : input;
  if (given instanceof URL) return { module_or_path: given.href };
  if (typeof given === "string" || given instanceof WebAssembly.Module) return { module_or_path: given };
  return undefined;
}

const clients = new Map(); // id → WorkerClient (open, or closing until the Worker says "closed")
let nextId = 1;

/** A request refused before sending, as the main-thread classes refuse it. */
function invalidArguments(message) {
  return Object.assign(new Error(message), { name: "RunwatchRequestError", code: "invalid" });
}

/** Calls `call` with what `JSON.stringify` makes of a request's arguments, which is what the
 * main-thread classes send (a `toJSON` function could not cross to the Worker as it is), and
 * refuses a Map or a Set in them as they do (./json-args.js). */
function withJsonArgs(args, call) {
  if (args === undefined || args === null) return call(args);
  let text;
  try {
    text = argsText(args);
  } catch (e) {
    return Promise.reject(invalidArguments(`the arguments are not JSON: ${e.message}`));
  }
  return text === undefined ? Promise.reject(invalidArguments("the arguments are not JSON")) : call(JSON.parse(text));
}

// What the page asks of the Worker in one task goes as one message, at the end of the task's
// microtasks: the Worker then handles it all before its clients start, so a client closed
// in the tick it was made (an effect, its cleanup, the effect again) never opens a socket.
// Each entry is [message, uncloneable?]: as the posting comes later, a message holding a
// value the structured clone refuses is left out, and `uncloneable(error)` tells its sender.
let outgoing = [];

function post(message, uncloneable) {
  if (outgoing.length === 0) queueMicrotask(sendOutgoing);
  outgoing.push([message, uncloneable]);
}

function sendOutgoing() {
  const entries = outgoing;
  outgoing = [];
  try {
    worker.postMessage(entries.map(([message]) => message));
  } catch {
    // Rare (an argument such as a function): the others still go, in order.
    const sendable = [];
    for (const [message, uncloneable] of entries) {
      try {
        structuredClone(message);
        sendable.push(message);
      } catch (e) {
        uncloneable?.(e);
      }
    }
    worker.postMessage(sendable);
  }
}

function receive(items) {
  for (const [kind, id, ...rest] of items) clients.get(id)?.receive(kind, rest);
}

// Runs an app callback; a throw becomes a `callbackError` diagnostic, as on the main thread.
function guarded(client, fn, arg) {
  try {
    fn(arg);
  } catch (e) {
    const message = e instanceof Error ? e.message : typeof e === "string" ? e : "a non-Error value was thrown";
    client.diagnose({ kind: "callbackError", message });
  }
}

function rebuiltError(plain) {
  return Object.assign(new Error(plain.message), plain);
}

/** What a request of a closed client rejects with, as on the main thread. */
const closedError = () => rebuiltError({ name: "RunwatchRequestError", code: "closed", message: "the client is closed" });

class WorkerClient {
  #id = nextId++;
  #auth;
  #stateListeners = new Set();
  #diagListeners = new Set();
  #subs = new Map(); // sub id → callback
  #stores = new Map(); // store id → WorkerTaskStore
  #calls = new Map(); // call id → { resolve, reject }
  #nextId = 1;
  #meta = structuredClone(views.client);
  #closing = false;

  constructor(options) {
    main.__checkClientOptions(options);
    this.#auth = options.auth;
    const authFn = typeof options.auth === "function";
    clients.set(this.#id, this);
    post({ op: "new", client: this.#id, options: { ...options, auth: authFn ? undefined : options.auth }, authFn });
  }

  subscribe(scope, types, callback) {
    main.__checkSubscription(scope, types);
    if (typeof callback !== "function") throw runwatchError("invalidListener", "subscribe(scope, types, callback) needs a function");
    const sub = this.#nextId++;
    this.#subs.set(sub, callback);
    if (!this.#closing) post({ op: "sub", client: this.#id, sub, scope, types });
    return new WorkerSubscription(sub, () => {
      if (this.#subs.delete(sub) && !this.#closing) post({ op: "unsub", client: this.#id, sub });
    });
  }

  tasks(scope, options) {
    main.__checkTaskStore(scope, options);
    const id = this.#nextId++;
    const store = new WorkerTaskStore(() => {
      if (this.#stores.delete(id) && !this.#closing) post({ op: "storeClose", client: this.#id, store: id });
    });
    this.#stores.set(id, store);
    if (this.#closing) store.close(); // never fed
    else post({ op: "store", client: this.#id, store: id, scope, options });
    return store;
  }

  onState(callback) { return listen(this.#stateListeners, callback); }
  onDiagnostic(callback) { return listen(this.#diagListeners, callback); }

  request(command, args, timeoutMs) { return withJsonArgs(args, (json) => this.#call("request", [command, json, timeoutMs])); }
  getTaskStatus(token) { return this.#call("getTaskStatus", [token]); }
  getToken(projectId, source) { return this.#call("getToken", [projectId, source]); }
  dashboard() { return this.#call("dashboard", []); }
  ping() { return this.#call("ping", []); }
  execute(args, timeoutMs) { return withJsonArgs(args, (json) => this.#call("execute", [json, timeoutMs])); }
  terminate(token) { return this.#call("terminate", [token]); }

  get state() { return this.#meta.state; }
  // A new object at each call, as on the main thread: the app may change what it got.
  stats() { return structuredClone(this.#meta.stats); }
  serverSubscriptions() { return structuredClone(this.#meta.serverSubscriptions); }

  close() {
    if (this.#closing) return;
    this.#closing = true;
    post({ op: "close", client: this.#id });
  }

  free() { this.close(); }
  [Symbol.dispose ?? Symbol.for("Symbol.dispose")]() { this.close(); }

  #call(method, args) {
    if (this.#closing) return Promise.reject(closedError()); // as the closed engine refuses it
    const call = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(call, { resolve, reject });
      post({ op: "call", client: this.#id, call, method, args }, (e) => {
        this.#calls.delete(call);
        reject(invalidArguments(`invalid arguments: ${e.message}`));
      });
    });
  }

  diagnose(d) {
    for (const listener of [...this.#diagListeners]) {
      try { listener(d); } catch { /* a diagnostic listener that throws on its own report */ }
    }
  }

  receive(kind, rest) {
    switch (kind) {
      case "state": for (const l of [...this.#stateListeners]) guarded(this, l, rest[0]); break;
      case "diag": for (const l of [...this.#diagListeners]) guarded(this, l, rest[0]); break;
      case "events": {
        const callback = this.#closing ? undefined : this.#subs.get(rest[0]);
        if (callback) guarded(this, callback, JSON.parse(rest[1]));
        break;
      }
      case "store": if (!this.#closing) this.#stores.get(rest[0])?.update(rest[1], this); break;
      case "reply": {
        const [call, ok, value] = rest;
        const pending = this.#calls.get(call);
        this.#calls.delete(call);
        if (pending) ok ? pending.resolve(value) : pending.reject(rebuiltError(value));
        break;
      }
      case "meta": this.#meta = rest[0]; break;
      case "cred": this.#credential(rest[0]); break;
      case "closed": this.#closed(); break;
    }
  }

  async #credential(req) {
    const failed = (e) => post({ op: "cred", client: this.#id, req, error: { name: e?.name ?? "Error", message: e?.message ?? String(e) } });
    let value;
    try {
      value = await this.#auth();
    } catch (e) {
      return failed(e);
    }
    post({ op: "cred", client: this.#id, req, value }, failed);
  }

  #closed() {
    clients.delete(this.#id);
    for (const { reject } of this.#calls.values()) reject(closedError());
    this.#calls.clear();
    this.#stateListeners.clear();
    this.#diagListeners.clear();
    this.#subs.clear();
    for (const store of this.#stores.values()) store.close();
  }
}

function listen(set, callback) {
  const entry = (change) => callback(change); // its own identity: adding one callback twice adds two
  set.add(entry);
  return () => { set.delete(entry); };
}

class WorkerSubscription {
  #id;
  #end;
  constructor(id, end) { this.#id = id; this.#end = end; }
  /** The subscription's id (unique per client), as on the main thread. */
  get id() { return this.#id; }
  unsubscribe() { this.#end(); }
  free() { this.#end(); }
  [Symbol.dispose ?? Symbol.for("Symbol.dispose")]() { this.#end(); }
}

const freeze = Object.freeze;

class WorkerTaskStore {
  #snapshot = freeze({ version: 0, runs: freeze([]) });
  #stats = structuredClone(views.store.stats);
  #runs = new Map(); // runId → the frozen run object last shown
  #listeners = new Set();
  #end;
  #closed = false;

  constructor(end) {
    this.#end = end;
    this.getSnapshot = () => this.#snapshot;
    this.subscribe = (listener) => {
      if (typeof listener !== "function") throw runwatchError("invalidListener", "subscribe(listener) needs a function");
      const entry = () => listener();
      this.#listeners.add(entry);
      return () => { this.#listeners.delete(entry); };
    };
  }

  stats() { return this.#stats; }
  get closed() { return this.#closed; }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#end();
  }

  free() { this.close(); }
  [Symbol.dispose ?? Symbol.for("Symbol.dispose")]() { this.close(); }

  // `view.runs` holds a run object where it changed, and the run's id where it did not.
  update(view, client) {
    const runs = new Map();
    const list = view.runs.map((run) => {
      const shown = typeof run === "number" ? this.#runs.get(run) : freeze(run);
      runs.set(shown.runId, shown);
      return shown;
    });
    this.#runs = runs;
    this.#stats = view.stats;
    if (view.version === this.#snapshot.version) return;
    this.#snapshot = freeze({ version: view.version, runs: freeze(list) });
    for (const listener of [...this.#listeners]) guarded(client, listener);
  }
}


/** A client of one RocketRide engine, running in the Worker (see the module comment). */
export const RocketRideClient = function RocketRideClient(options) {
  if (!new.target) throw new TypeError("Class constructor RocketRideClient cannot be invoked without 'new'");
  if (!initialized) throw new Error("runwatch: call `await init()` before creating a client");
  return worker ? new WorkerClient(options) : new main.RocketRideClient(options);
};
