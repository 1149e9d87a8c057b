// runwatch/react: React hooks over the runwatch client and its task store.
//
//   const { client } = useRocketRideClient({ url, auth });     // created after init(), closed on unmount
//   useRocketRideClient({ url, auth }, { worker: true });       // the same, in a Worker (runwatch/worker)
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
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import init, { RocketRideClient } from "./index.js";
import {
  clientContext, diagnosticPatch, entryOf, initialPerClient, holdOrNull as holdOn, identity, keyOf, noop, shallowEqual, sourceOf, useClientOf,
  useSelected, useSharedSource,
} from "./react-shared.js";

export { openResources, shallowEqual } from "./react-shared.js";

const isClosed = (client) => client.state === "closed";
/** `hold` on a RocketRide client, `null` when it is closed (see react-shared.js). */
const holdOrNull = (client, key, create) => holdOn(client, key, create, isClosed);

// ── client ────────────────────────────────────────────────────────────────────────────────

const context = clientContext();

/** Makes `client` available to `useClient()` below it. */
export const RunwatchProvider = context.Provider;

/** The client of the nearest `RunwatchProvider`, or `null`. */
export const useClient = context.useClient;

const mainThread = () => init().then(() => RocketRideClient);
// Worker mode's entry is imported only when a component asks for it: an app that never does
// downloads none of it (bundlers split it, with its Worker script, into chunks of their own).
const inWorker = () => import("./worker.js").then((worker) => worker.default().then(() => worker.RocketRideClient));

/**
 * Creates a client once `init()` has loaded the WebAssembly module, and closes it when the
 * component unmounts or `options` change (compared by value; `auth` is read at every
 * connection attempt, so a new credential function or string does not reconnect).
 * `{ worker: true }`: the client of `runwatch/worker`, its socket, engine and stores in a
 * Worker (a change of mode makes a new client). `null` options: no client. Returns
 * `{ client, error }`; `client` is `null` until ready.
 */
export function useRocketRideClient(options, mode) {
  return mode?.worker ? useClientOf(inWorker, options, "worker:") : useClientOf(mainThread, options);
}

// ── task store ────────────────────────────────────────────────────────────────────────────

const EMPTY = Object.freeze({ version: 0, runs: Object.freeze([]) });
const allRuns = (snapshot) => snapshot.runs;

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

/** The diagnostics the connection's health keeps the latest of, and under which name. */
const LAST_OF = { resync: "lastResync", gap: "lastGap", reseeded: "lastReseeded" };

function connectionSource(client) {
  return sourceOf(initialConnection(client), (get, set) => {
    const update = (patch) => {
      const snapshot = get();
      const stats = safeStats(client);
      const next = { ...snapshot, ...patch };
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k]; // absent, never undefined
      set(Object.freeze({
        ...next,
        reconnects: stats?.reconnects ?? snapshot.reconnects,
        gaps: stats?.gaps ?? snapshot.gaps,
        missing: stats?.missing ?? snapshot.missing,
        epoch: patch.epoch ?? stats?.epoch ?? snapshot.epoch,
      }));
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
    const offDiagnostic = client.onDiagnostic((d) => update(diagnosticPatch(get(), d, LAST_OF)));
    return () => { offState(); offDiagnostic(); };
  });
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

/**
 * The connection's health: `state`, `epoch`, `since` (ms), `reason`/`message` of the last
 * loss, `reconnects`, `gaps`, `missing`, and the last `resync`, `gap` and `reseeded`
 * diagnostics (`{at, diagnostic}`), plus the `recent` ones. Components share one pair of
 * listeners per client. Pass a selector to re-render only on the part you show.
 */
export function useConnection(client, selector, isEqual) {
  return useSharedSource(client, "connection", CONNECTION, selector ?? identity, isEqual ?? (selector ? shallowEqual : Object.is));
}

const CONNECTION = { create: connectionSource, isClosed, empty: initialPerClient(initialConnection) };

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
