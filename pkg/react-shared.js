// What the React entries of the package ("runwatch/react" for RocketRide,
// "runwatch/react/fleet-rlm" for fleet-rlm) share. It imports React and nothing of the
// SDK, so either entry pulls in only its own protocol's module. Not an entry point itself.
//
// - Shared, counted resources per client (`hold`): what a hook opens on a client (a store,
//   a subscription, a pair of listeners) is shared by every component that asks for the
//   same key and closed shortly after the last one lets go, so StrictMode's
//   mount → unmount → mount opens it once, and an unmounted tree leaves nothing behind.
// - `useSelected`: `useSyncExternalStore` with a selector and an equality function.
// - `useClientOf`: a client made once its module is loaded, closed on unmount.
// - `useSharedSource`: a hook reading a shared `{listeners, get, dispose}` source.
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";

// ── shared resources ──────────────────────────────────────────────────────────────────────

/** How long a resource nobody holds stays open (StrictMode re-subscribes synchronously). */
const RELEASE_DELAY_MS = 50;

/** client → Map<key, {refs, timer, dispose, ...}> */
const resources = new WeakMap();

export const noop = () => {};
export const identity = (x) => x;

export function entryOf(client, key) {
  return resources.get(client)?.get(key);
}

/** Holds the resource `key` of `client`, creating it with `create()` if needed; returns its release. */
export function hold(client, key, create) {
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
 * value until the app hands it a new client. `isClosed(client)` says whether it is closed
 * (it may throw for a freed client, which counts as closed). Argument errors still throw.
 */
export function holdOrNull(client, key, create, isClosed) {
  let closed = false;
  try { closed = isClosed(client); } catch { closed = true; }
  return closed ? null : hold(client, key, create);
}

/** A key that is the same for equal plain values (object keys sorted). */
export function keyOf(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v);
}

/**
 * How many resources the hooks hold open on `client` right now (stores, shared
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

export function useSelected(subscribe, getSnapshot, selector, isEqual) {
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

// ── a client of one protocol ──────────────────────────────────────────────────────────────

/**
 * `{ Provider, useClient }` of a context of its own: `<Provider client={c}>` makes `c` (or
 * `null`) what `useClient()` returns below it.
 */
export function clientContext() {
  const Context = createContext(null);
  return {
    Provider: ({ client, children }) => createElement(Context.Provider, { value: client ?? null }, children),
    useClient: () => useContext(Context),
  };
}

/**
 * Creates `new Client(options)` once `load()` has given the class (having loaded its module),
 * and closes it when the component unmounts or `options` change (compared by value; `auth`
 * is read at every connection attempt, so a new credential function or string does not
 * reconnect). `variant` names how the class is loaded (e.g. "worker"): a change makes a new
 * client too. `null` options: no client. Returns `{ client, error }`; `client` is `null`
 * until ready.
 */
export function useClientOf(load, options, variant = "") {
  const latest = useRef(options);
  latest.current = options;
  // Whether there is an `auth` is part of the key (it decides how the client authenticates);
  // its value is not.
  const key = options ? variant + keyOf({ ...options, auth: options.auth === undefined ? undefined : "given" }) : null;
  const [state, setState] = useState({ client: null, error: null, key: null });
  useEffect(() => {
    if (key === null) return undefined;
    let cancelled = false;
    let client = null;
    load().then(
      (Client) => {
        if (cancelled) return; // StrictMode's first mount: already cleaned up
        const { auth: given, ...rest } = latest.current;
        const auth = () => {
          const a = latest.current?.auth;
          return typeof a === "function" ? a() : a;
        };
        try {
          client = new Client(given === undefined ? rest : { ...rest, auth });
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

// ── diagnostics ───────────────────────────────────────────────────────────────────────────

/** How many diagnostics a connection snapshot keeps in `recent`. */
export const RECENT_DIAGNOSTICS = 50;

/**
 * The part of a connection snapshot that changes when diagnostic `d` arrives: the count,
 * `recent` (the newest, `{at, diagnostic}`, oldest first) and, for a kind named in
 * `lastOf` (`{kind: field}`), that field.
 */
export function diagnosticPatch(snapshot, d, lastOf) {
  const item = Object.freeze({ at: Date.now(), diagnostic: d });
  const patch = {
    diagnostics: snapshot.diagnostics + 1,
    recent: Object.freeze([...snapshot.recent.slice(-(RECENT_DIAGNOSTICS - 1)), item]),
  };
  if (Object.hasOwn(lastOf, d.kind)) patch[lastOf[d.kind]] = item;
  return patch;
}

// ── a shared source of snapshots ──────────────────────────────────────────────────────────

/**
 * A source for `useSharedSource`: its snapshot starts as `initial`; `listen(get, set)`
 * starts whatever feeds it (calling `set(next)` with each new snapshot, which notifies the
 * listeners) and returns the function that stops it.
 */
export function sourceOf(initial, listen) {
  let snapshot = initial;
  const listeners = new Set();
  const get = () => snapshot;
  const set = (next) => {
    snapshot = next;
    for (const l of [...listeners]) l();
  };
  const stop = listen(get, set);
  return { listeners, get, dispose: () => { stop(); listeners.clear(); } };
}

/**
 * An `empty(client)` for `useSharedSource` that returns `initial(client)`, computed once per
 * client (and once for no client), so the snapshot before the first subscribe is stable.
 */
export function initialPerClient(initial) {
  const none = initial(null);
  const cache = new WeakMap();
  return (client) => {
    if (!client) return none;
    let s = cache.get(client);
    if (!s) cache.set(client, (s = initial(client)));
    return s;
  };
}

/**
 * Reads the shared source `key` of `client` through `useSelected`. `create()` returns
 * `{ listeners: Set, get: () => snapshot, dispose }` (the source calls every listener when
 * its snapshot changes); it is opened when the first component subscribes and closed after
 * the last one lets go. `empty()` is the snapshot while there is no source (no client yet,
 * or before the first subscribe); it must return the same object for the same client.
 */
export function useSharedSource(client, key, { create, empty, isClosed }, selector, isEqual) {
  const make = useRef(create);
  make.current = create;
  const subscribe = useCallback((onChange) => {
    if (!client) return noop;
    const release = holdOrNull(client, key, () => {
      const src = make.current(client);
      return { src, isDead: src.isDead, dispose: src.dispose };
    }, isClosed);
    if (!release) return noop;
    const { src } = entryOf(client, key);
    src.listeners.add(onChange);
    // The source may have changed between render and subscribe.
    onChange();
    return () => { src.listeners.delete(onChange); release(); };
  }, [client, key, isClosed]);
  const getSnapshot = useCallback(() => entryOf(client, key)?.src.get() ?? empty(client), [client, key, empty]);
  return useSelected(subscribe, getSnapshot, selector, isEqual);
}
