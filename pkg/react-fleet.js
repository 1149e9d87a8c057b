// runwatch/react/fleet-rlm: React hooks over a FleetRlmClient (runwatch/fleet-rlm) and its
// turns and runs stores. It imports only the fleet-rlm module, so a fleet-rlm app never
// downloads the RocketRide one (and runwatch/react never pulls in this one).
//
//   const { client } = useFleetClient({ url, auth });            // created after init(), closed on unmount
//   const turns = useFleetTurns(client);                          // every turn of the session, live
//   const turn = useFleetTurn(client, turnId);                    // one turn
//   const runs = useFleetRuns(client);                            // every run, each with its step tree
//   const run = useFleetRun(client, runKey);                      // one run (or the latest run of a run id)
//   const conn = useFleetConnection(client);                      // both sockets' state, reconnects, diagnostics
//
// Every hook reads through `useSyncExternalStore`; what a hook opens on the client (one
// listener per store, one pair of state and diagnostic listeners) is shared by the
// components that read it, counted, and let go of shortly after the last one unmounts
// (react-shared.js), so StrictMode's double mount opens nothing twice and an unmounted tree
// leaves nothing behind. No hook has a side effect during render.
import { useCallback } from "react";
import init, { FleetRlmClient } from "./fleet-rlm.js";
import {
  clientContext, diagnosticPatch, identity, initialPerClient, shallowEqual, sourceOf, useClientOf, useSharedSource,
} from "./react-shared.js";

export { openResources, shallowEqual } from "./react-shared.js";

// ── client ────────────────────────────────────────────────────────────────────────────────

/** A client with no open socket left (or freed: its getters throw) is closed. */
function isClosed(client) {
  return [client.chatState, client.eventsState].every((s) => s === undefined || s === "closed");
}

function safe(read, fallback) {
  try { return read(); } catch { return fallback; }
}

const context = clientContext();

/** Makes `client` available to `useFleet()` below it. */
export const FleetProvider = context.Provider;

/** The client of the nearest `FleetProvider`, or `null`. */
export const useFleet = context.useClient;

const loaded = () => init().then(() => FleetRlmClient);

/**
 * Creates a `FleetRlmClient` once `init()` has loaded the fleet-rlm module, and closes it
 * when the component unmounts or `options` change (compared by value; `auth` is read at
 * every connection attempt and HTTP call, so a new token function does not reconnect).
 * `null` options: no client. Returns `{ client, error }`; `client` is `null` until ready.
 */
export function useFleetClient(options) {
  return useClientOf(loaded, options);
}

// ── stores ────────────────────────────────────────────────────────────────────────────────

const NO_TURNS = Object.freeze({ version: 0, turns: Object.freeze([]) });
const NO_RUNS = Object.freeze({ version: 0, runs: Object.freeze([]) });

/** The shared-source description of the client's store `name` ("turns" | "runs"). */
function storeSource(name, none) {
  return {
    isClosed,
    // The store lives on the client (and keeps its last snapshot after close()), so its
    // snapshot is readable before any component subscribed.
    empty: (client) => (client ? safe(() => client[name]?.getSnapshot(), undefined) ?? none : none),
    create(client) {
      const store = client[name];
      const read = () => (store ? safe(() => store.getSnapshot(), none) : none);
      return sourceOf(read(), (_, set) => (store ? store.subscribe(() => set(read())) : () => {}));
    },
  };
}

const TURNS = storeSource("turns", NO_TURNS);
const RUNS = storeSource("runs", NO_RUNS);
const allTurns = (snapshot) => snapshot.turns;
const allRuns = (snapshot) => snapshot.runs;

/**
 * The turns of the session (oldest first), or what `selector(snapshot)` picks from the
 * turns snapshot; re-renders only when the selection changes by `isEqual` (default
 * `shallowEqual`: an array of unchanged turns is unchanged).
 */
export function useFleetTurns(client, selector, isEqual) {
  return useSharedSource(client ?? null, "fleet:turns", TURNS, selector ?? allTurns, isEqual ?? shallowEqual);
}

/** One turn by `turnId` (what `send()` returned); `undefined` while there is none. */
export function useFleetTurn(client, turnId) {
  const selector = useCallback((snapshot) =>
    turnId === undefined || turnId === null ? undefined : snapshot.turns.find((t) => t.turnId === turnId), [turnId]);
  return useSharedSource(client ?? null, "fleet:turns", TURNS, selector, Object.is);
}

/**
 * The runs of the session (oldest first), each with its step tree, or what `selector`
 * picks from the runs snapshot; re-renders only when the selection changes.
 */
export function useFleetRuns(client, selector, isEqual) {
  return useSharedSource(client ?? null, "fleet:runs", RUNS, selector ?? allRuns, isEqual ?? shallowEqual);
}

/**
 * One run: by `runKey` (a number, the store's key of a run instance), or the latest
 * instance of a server `runId` (a string; run ids repeat). `undefined` while there is none.
 */
export function useFleetRun(client, id) {
  const selector = useCallback((snapshot) => {
    if (id === undefined || id === null) return undefined;
    const runs = snapshot.runs;
    if (typeof id === "number") return runs.find((r) => r.runKey === id);
    for (let i = runs.length - 1; i >= 0; i--) if (runs[i].runId === id) return runs[i];
    return undefined;
  }, [id]);
  return useSharedSource(client ?? null, "fleet:runs", RUNS, selector, Object.is);
}

// ── connection ────────────────────────────────────────────────────────────────────────────

/** The diagnostics the connection snapshot keeps the latest of, and under which name. */
const LAST_OF = { resync: "lastResync", stalled: "lastStalled" };
const SOCKETS = ["chat", "events"];

/** One socket's part of the snapshot, or `undefined` for a socket the client does not open. */
function socketInfo(state, stats, patch) {
  if (state === undefined) return undefined;
  const info = { state, epoch: stats?.epoch ?? 0, since: Date.now(), reconnects: stats?.reconnects ?? 0, ...patch };
  for (const k of Object.keys(info)) if (info[k] === undefined) delete info[k]; // absent, never undefined
  return Object.freeze(info);
}

function initialConnection(client) {
  const stats = client ? safe(() => client.stats(), undefined) : undefined;
  const snapshot = { sessionId: client ? safe(() => client.sessionId, "") : "", diagnostics: 0, recent: Object.freeze([]) };
  for (const socket of SOCKETS) {
    const state = client ? safe(() => client[`${socket}State`], "closed") : undefined;
    const info = socketInfo(state, stats?.[socket]);
    if (info) snapshot[socket] = info;
  }
  return Object.freeze(snapshot);
}

function connectionSource(client) {
  return sourceOf(initialConnection(client), (get, set) => {
    const update = (patch) => set(Object.freeze({ ...get(), ...patch }));
    const offState = client.onState((change) => {
      const stats = safe(() => client.stats(), undefined)?.[change.socket];
      update({
        [change.socket]: socketInfo(change.newState, stats, {
          epoch: change.epoch, reason: change.reason, message: change.message, serverError: change.serverError,
        }),
      });
    });
    const offDiagnostic = client.onDiagnostic((d) => update(diagnosticPatch(get(), d, LAST_OF)));
    return () => { offState(); offDiagnostic(); };
  });
}

const CONNECTION = { create: connectionSource, isClosed, empty: initialPerClient(initialConnection) };

/**
 * Both sockets' health: `sessionId`; `chat` and `events` (absent for a socket the client
 * does not open), each `{state, epoch, since, reconnects, reason?, message?, serverError?}`;
 * the count of diagnostics, the `recent` ones (`{at, diagnostic}`, each tagged with its
 * `socket`) and the last `resync` and `stalled`. Components share one pair of listeners
 * per client. Pass a selector to re-render only on the part you show.
 */
export function useFleetConnection(client, selector, isEqual) {
  return useSharedSource(client ?? null, "fleet:connection", CONNECTION, selector ?? identity,
    isEqual ?? (selector ? shallowEqual : Object.is));
}
