// runwatch/react: React hooks over the runwatch client and its task store.
//
//   const { client } = useRocketRideClient({ url, auth });     // created after init(), closed on unmount
//   const runs = useTasks(client);                              // every run, live
//   const names = useTasks(client, (s) => s.runs.map((r) => r.name));  // re-renders only when the names change
//   const run = useTask(client, runId);                         // one run (or the latest run of a task id)
//   const conn = useConnection(client);                         // state, epoch, reconnects, last resync / gap
//   useSubscription(client, { token: "*" }, ["DASHBOARD"], (events) => ...);
//
// Every hook reads through `useSyncExternalStore`. What a hook opens on the client (a task
// store, a subscription, state and diagnostic listeners) is shared by every component that
// asks for the same thing, counted, and closed shortly after the last one lets go, so
// StrictMode's mount → unmount → mount opens one server subscription, not two, and an
// unmounted tree leaves nothing behind. No hook has a side effect during render.
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import init, { RocketRideClient } from "./index.js";

// ── shared resources ──────────────────────────────────────────────────────────────────────

/** How long a resource nobody holds stays open (StrictMode re-subscribes synchronously). */
const RELEASE_DELAY_MS = 50;

/** client → Map<key, {value, refs, timer, dispose}> */
const resources = new WeakMap();

function entryOf(client, key) {
  return resources.get(client)?.get(key);
}

/** Holds the resource `key` of `client`, creating it with `create()` if needed. */
function hold(client, key, create) {
  let table = resources.get(client);
  if (!table) resources.set(client, (table = new Map()));
  let entry = table.get(key);
  if (entry && entry.isDead?.()) {
    entry.dispose();
    table.delete(key);
    entry = undefined;
  }
  if (!entry) {
    entry = { refs: 0, timer: undefined, ...create() };
    table.set(key, entry);
  }
  entry.refs += 1;
  if (entry.timer !== undefined) {
    clearTimeout(entry.timer);
    entry.timer = undefined;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.refs -= 1;
    if (entry.refs > 0 || entry.timer !== undefined) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (entry.refs > 0) return;
      if (table.get(key) === entry) table.delete(key);
      entry.dispose();
    }, RELEASE_DELAY_MS);
  };
}

/**
 * `hold`, except that a client closed (or freed) under a component that is still mounting
 * yields `null` instead of throwing out of React's commit: the hook then shows its empty
 * value until the app hands it a new client. Argument errors (a bad scope or type name)
 * still throw, so they surface where the hook is used.
 */
function holdOrNull(client, key, create) {
  let closed = false;
  try { closed = client.state === "closed"; } catch { closed = true; }
  return closed ? null : hold(client, key, create);
}

/** A key that is the same for equal plain values (object keys sorted). */
function keyOf(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v);
}

/**
 * How many resources the hooks hold open on `client` right now (task stores, shared
 * subscriptions, connection listeners), by key. For tests and leak checks.
 */
export function openResources(client) {
  const table = client ? resources.get(client) : undefined;
  return table ? [...table].map(([key, e]) => ({ key, refs: e.refs })) : [];
}

// ── selectors (the algorithm of use-sync-external-store/with-selector) ─────────────────────

/** One level deep: equal arrays by element, plain objects by own key, else `Object.is`. */
export function shallowEqual(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !Object.is(a[k], b[k])) return false;
  return true;
}

function useSelected(subscribe, getSnapshot, selector, isEqual) {
  const inst = useRef(null);
  if (inst.current === null) inst.current = { hasValue: false, value: undefined };
  const getSelection = useMemo(() => {
    let hasMemo = false;
    let memoSnapshot;
    let memoSelection;
    const select = (snapshot) => {
      if (!hasMemo) {
        hasMemo = true;
        memoSnapshot = snapshot;
        const next = selector(snapshot);
        if (inst.current.hasValue && isEqual(inst.current.value, next)) return (memoSelection = inst.current.value);
        return (memoSelection = next);
      }
      if (Object.is(memoSnapshot, snapshot)) return memoSelection;
      const next = selector(snapshot);
      memoSnapshot = snapshot;
      if (isEqual(memoSelection, next)) return memoSelection;
      return (memoSelection = next);
    };
    return () => select(getSnapshot());
  }, [getSnapshot, selector, isEqual]);
  const value = useSyncExternalStore(subscribe, getSelection, getSelection);
  useEffect(() => {
    inst.current.hasValue = true;
    inst.current.value = value;
  }, [value]);
  return value;
}

// ── client ────────────────────────────────────────────────────────────────────────────────

const ClientContext = createContext(null);

/** Makes `client` available to `useClient()` below it. */
export function RunwatchProvider({ client, children }) {
  return createElement(ClientContext.Provider, { value: client ?? null }, children);
}

/** The client of the nearest `RunwatchProvider`, or `null`. */
export function useClient() {
  return useContext(ClientContext);
}

/**
 * Creates a client once `init()` has loaded the WebAssembly module, and closes it when the
 * component unmounts or `options` change (compared by value; `auth` is read at every
 * connection attempt, so a new credential function or string does not reconnect).
 * `null` options: no client. Returns `{ client, error }`; `client` is `null` until ready.
 */
export function useRocketRideClient(options) {
  const latest = useRef(options);
  latest.current = options;
  const key = options ? keyOf({ ...options, auth: undefined }) : null;
  const [state, setState] = useState({ client: null, error: null, key: null });
  useEffect(() => {
    if (key === null) return undefined;
    let cancelled = false;
    let client = null;
    init().then(
      () => {
        if (cancelled) return; // StrictMode's first mount: already cleaned up
        const { auth: _auth, ...rest } = latest.current;
        const auth = () => {
          const a = latest.current?.auth;
          return typeof a === "function" ? a() : a;
        };
        try {
          client = new RocketRideClient({ ...rest, auth });
          setState({ client, error: null, key });
        } catch (error) {
          setState({ client: null, error, key });
        }
      },
      (error) => { if (!cancelled) setState({ client: null, error, key }); },
    );
    return () => {
      cancelled = true;
      client?.close();
      setState((s) => (s.key === key ? { client: null, error: null, key: null } : s));
    };
  }, [key]);
  return state.key === key ? { client: state.client, error: state.error } : { client: null, error: null };
}

// ── task store ────────────────────────────────────────────────────────────────────────────

const EMPTY = Object.freeze({ version: 0, runs: Object.freeze([]) });
const allRuns = (snapshot) => snapshot.runs;
const noop = () => {};

function storeKey(scope, storeOptions) {
  return "tasks:" + keyOf([scope ?? { token: "*" }, storeOptions ?? {}]);
}

/** `useSyncExternalStore` arguments for the shared store of (client, scope, options). */
function useStoreSource(client, scope, storeOptions) {
  const key = storeKey(scope, storeOptions);
  const args = useRef({ scope, storeOptions });
  args.current = { scope, storeOptions };
  const subscribe = useCallback((onChange) => {
    if (!client) return noop;
    const release = holdOrNull(client, key, () => {
      const { scope: s, storeOptions: o } = args.current;
      const store = o ? client.tasks(s ?? { token: "*" }, o) : client.tasks(s ?? { token: "*" });
      return { store, isDead: () => store.closed, dispose: () => store.close() };
    });
    if (!release) return noop;
    const off = entryOf(client, key).store.subscribe(onChange);
    // The store may have changed between render and subscribe (it is seeded on creation).
    onChange();
    return () => { off(); release(); };
  }, [client, key]);
  const getSnapshot = useCallback(() => {
    const entry = client ? entryOf(client, key) : undefined;
    return entry ? entry.store.getSnapshot() : EMPTY;
  }, [client, key]);
  return [subscribe, getSnapshot];
}

/**
 * The runs of the task store for `options.scope` (default `{token:"*"}`), or what
 * `selector(snapshot)` picks from it. The component re-renders only when the selection
 * changes (`options.isEqual`, default `shallowEqual`: an array of unchanged runs is unchanged).
 * Components asking for the same scope and store options share one store.
 */
export function useTasks(client, selector, options) {
  const [subscribe, getSnapshot] = useStoreSource(client ?? null, options?.scope, options?.store);
  return useSelected(subscribe, getSnapshot, selector ?? allRuns, options?.isEqual ?? shallowEqual);
}

/**
 * One run: by `runId` (a number), or the latest run of a task id (a string). `undefined`
 * while there is none. Re-renders only when that run changes.
 */
export function useTask(client, id, options) {
  const selector = useCallback((snapshot) => {
    if (id === undefined || id === null) return undefined;
    const runs = snapshot.runs;
    if (typeof id === "number") return runs.find((r) => r.runId === id);
    for (let i = runs.length - 1; i >= 0; i--) if (runs[i].taskId === id) return runs[i];
    return undefined;
  }, [id]);
  const [subscribe, getSnapshot] = useStoreSource(client ?? null, options?.scope, options?.store);
  return useSelected(subscribe, getSnapshot, selector, Object.is);
}

/** The shared task store itself (e.g. for `stats()`), or `null` before it is open. */
export function useTaskStore(client, options) {
  const [subscribe] = useStoreSource(client ?? null, options?.scope, options?.store);
  const key = storeKey(options?.scope, options?.store);
  const get = useCallback(() => (client ? entryOf(client, key)?.store ?? null : null), [client, key]);
  return useSyncExternalStore(subscribe, get, get);
}

// ── connection ────────────────────────────────────────────────────────────────────────────

const RECENT_DIAGNOSTICS = 50;

function connectionSource(client) {
  let snapshot = initialConnection(client);
  const listeners = new Set();
  const update = (patch) => {
    const stats = safeStats(client);
    const next = { ...snapshot, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k]; // absent, never undefined
    snapshot = Object.freeze({
      ...next,
      reconnects: stats?.reconnects ?? snapshot.reconnects,
      gaps: stats?.gaps ?? snapshot.gaps,
      missing: stats?.missing ?? snapshot.missing,
      epoch: patch.epoch ?? stats?.epoch ?? snapshot.epoch,
    });
    for (const l of [...listeners]) l();
  };
  const offState = client.onState((change) => {
    update({
      state: change.newState,
      epoch: change.epoch,
      since: Date.now(),
      reason: change.reason,
      message: change.message,
    });
  });
  const offDiagnostic = client.onDiagnostic((d) => {
    const at = Date.now();
    const item = Object.freeze({ at, diagnostic: d });
    const patch = {
      diagnostics: snapshot.diagnostics + 1,
      recent: Object.freeze([...snapshot.recent.slice(-(RECENT_DIAGNOSTICS - 1)), item]),
    };
    if (d.kind === "resync") patch.lastResync = item;
    else if (d.kind === "gap") patch.lastGap = item;
    else if (d.kind === "reseeded") patch.lastReseeded = item;
    update(patch);
  });
  return {
    listeners,
    get: () => snapshot,
    dispose: () => { offState(); offDiagnostic(); listeners.clear(); },
  };
}

function safeStats(client) {
  try { return client.stats(); } catch { return undefined; }
}

function initialConnection(client) {
  const stats = client ? safeStats(client) : undefined;
  let state = "closed";
  try { if (client) state = client.state; } catch { /* freed */ }
  return Object.freeze({
    state: client ? state : "closed",
    epoch: stats?.epoch ?? 0,
    since: Date.now(),
    reconnects: stats?.reconnects ?? 0,
    gaps: stats?.gaps ?? 0,
    missing: stats?.missing ?? 0,
    diagnostics: 0,
    recent: Object.freeze([]),
  });
}

const NO_CONNECTION = initialConnection(null);

/**
 * The connection's health: `state`, `epoch`, `since` (ms), `reason`/`message` of the last
 * loss, `reconnects`, `gaps`, `missing`, and the last `resync`, `gap` and `reseeded`
 * diagnostics (`{at, diagnostic}`), plus the `recent` ones. Components share one pair of
 * listeners per client. Pass a selector to re-render only on the part you show.
 */
export function useConnection(client, selector, isEqual) {
  const subscribe = useCallback((onChange) => {
    if (!client) return noop;
    const release = holdOrNull(client, "connection", () => {
      const src = connectionSource(client);
      return { src, dispose: src.dispose };
    });
    if (!release) return noop;
    const { src } = entryOf(client, "connection");
    src.listeners.add(onChange);
    onChange();
    return () => { src.listeners.delete(onChange); release(); };
  }, [client]);
  const getSnapshot = useCallback(() => entryOf(client, "connection")?.src.get() ?? (client ? initialFor(client) : NO_CONNECTION), [client]);
  return useSelected(subscribe, getSnapshot, selector ?? identity, isEqual ?? (selector ? shallowEqual : Object.is));
}

const identity = (x) => x;
const initialCache = new WeakMap();
function initialFor(client) {
  let s = initialCache.get(client);
  if (!s) initialCache.set(client, (s = initialConnection(client)));
  return s;
}

/**
 * `client.stats()` every `intervalMs` (default 1000), with `eventsPerSecond` and
 * `framesPerSecond` over the last interval. `null` without a client.
 */
export function useClientStats(client, intervalMs = 1000) {
  const [value, setValue] = useState(null);
  useEffect(() => {
    if (!client) { setValue(null); return undefined; }
    let prev = null;
    const tick = () => {
      const stats = safeStats(client);
      if (!stats) return;
      const now = performance.now();
      const dt = prev ? (now - prev.at) / 1000 : 0;
      const rate = (k) => (prev && dt > 0 ? Math.max(0, (stats[k] - prev.stats[k]) / dt) : null);
      setValue({ ...stats, eventsPerSecond: rate("eventsDelivered"), framesPerSecond: rate("framesReceived") });
      prev = { at: now, stats };
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    return () => clearInterval(timer);
  }, [client, intervalMs]);
  return value;
}

// ── raw events ────────────────────────────────────────────────────────────────────────────

/**
 * Calls `onEvents(events)` with every delivery of `scope` and `types` while mounted.
 * Components asking for the same scope and types share one SDK subscription; the callback
 * may change on every render without resubscribing. `scope` `null` (or no client): nothing.
 */
export function useSubscription(client, scope, types, onEvents) {
  const callback = useRef(onEvents);
  useEffect(() => { callback.current = onEvents; });
  const key = client && scope ? "sub:" + keyOf([scope, types]) : null;
  const args = useRef({ scope, types });
  args.current = { scope, types };
  useEffect(() => {
    if (!key) return undefined;
    const release = holdOrNull(client, key, () => {
      const targets = new Set();
      const sub = client.subscribe(args.current.scope, args.current.types, (events) => {
        let failure;
        for (const t of [...targets]) {
          try { t(events); } catch (e) { failure ??= e; }
        }
        if (failure !== undefined) throw failure; // reported by the SDK as a callbackError
      });
      return { targets, dispose: () => sub.unsubscribe() };
    });
    if (!release) return undefined;
    const { targets } = entryOf(client, key);
    const target = (events) => callback.current(events);
    targets.add(target);
    return () => { targets.delete(target); release(); };
  }, [client, key]);
}
