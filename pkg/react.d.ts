// Types of runwatch/react (pkg/react.js). The SDK's own types come from the generated
// declarations (./dist/runwatch.d.ts) through the package entry.
import type { ReactNode } from "react";
import type {
  ClientOptions,
  ClientStats,
  ConnState,
  Delivered,
  Diagnostic,
  LossReason,
  MonitorTypesArg,
  RocketRideClient,
  ScopeSpec,
  TaskRun,
  TaskSnapshot,
  TaskStore,
  TaskStoreOptions,
} from "./index.js";

/** A client, or `null`/`undefined` while there is none yet: every hook then returns its empty value. */
export type MaybeClient = RocketRideClient | null | undefined;

/** Makes `client` available to `useClient()` below it. */
export function RunwatchProvider(props: { client: MaybeClient; children?: ReactNode }): ReactNode;

/** The client of the nearest `RunwatchProvider`, or `null`. */
export function useClient(): RocketRideClient | null;

/** How {@link useRocketRideClient} runs its client. */
export interface ClientMode {
  /**
   * `true`: the client of `runwatch/worker`, with its socket, engine and task stores in a
   * dedicated Worker (README, "Worker mode"); that entry is loaded only then. Where Workers
   * are unavailable it runs on the main thread. Default `false`.
   */
  worker?: boolean;
}

/**
 * Creates a client once `init()` has loaded the WebAssembly module, and closes it when the
 * component unmounts or `options` or `mode` change (compared by value, except `auth`,
 * which is read at every connection attempt). `null` options: no client.
 *
 * @example
 * // Worker mode: the page pays for little but the components' own work.
 * const { client } = useRocketRideClient({ url, auth: apiKey }, { worker: true });
 */
export function useRocketRideClient(options: ClientOptions | null, mode?: ClientMode): {
  client: RocketRideClient | null;
  /** A `RunwatchError` from the constructor (bad URL, option), or a failed `init()`. */
  error: unknown;
};

/** Which task store a hook reads; components with equal options share one store. */
export interface TaskStoreSelect {
  /** Default `{ token: "*" }`. */
  scope?: ScopeSpec;
  /** Passed to `client.tasks(scope, store)`. */
  store?: TaskStoreOptions;
}

/** One level deep: arrays by element, plain objects by own key, else `Object.is`. */
export function shallowEqual(a: unknown, b: unknown): boolean;

/** Every run of the store (oldest first); re-renders when a run is added, removed or changed. */
export function useTasks(client: MaybeClient, selector?: null, options?: TaskStoreSelect): readonly TaskRun[];
/**
 * What `selector` picks from the store's snapshot; re-renders only when the selection
 * changes by `isEqual` (default `shallowEqual`).
 */
export function useTasks<T>(
  client: MaybeClient,
  selector: (snapshot: TaskSnapshot) => T,
  options?: TaskStoreSelect & { isEqual?: (a: T, b: T) => boolean },
): T;

/** One run by `runId`, or the latest run of a task id; `undefined` while there is none. */
export function useTask(client: MaybeClient, id: number | string | null | undefined, options?: TaskStoreSelect): TaskRun | undefined;

/** The shared store the hooks above read (for `stats()`), or `null` before it is open. */
export function useTaskStore(client: MaybeClient, options?: TaskStoreSelect): TaskStore | null;

/** A diagnostic with the time it arrived (`Date.now()` ms). */
export interface TimedDiagnostic<D extends Diagnostic = Diagnostic> {
  at: number;
  diagnostic: D;
}

/** The connection's health, as `useConnection` returns it. */
export interface ConnectionInfo {
  state: ConnState;
  /** Connection number (increases with every reconnect). */
  epoch: number;
  /** When `state` was entered (`Date.now()` ms). */
  since: number;
  /** Why the last connection was lost, while reconnecting. */
  reason?: LossReason;
  /** The server's message when the credential was rejected. */
  message?: string;
  reconnects: number;
  /** `gap` diagnostics and the frames they cover. */
  gaps: number;
  missing: number;
  /** Diagnostics heard since the hooks began listening. */
  diagnostics: number;
  lastResync?: TimedDiagnostic<Extract<Diagnostic, { kind: "resync" }>>;
  lastGap?: TimedDiagnostic<Extract<Diagnostic, { kind: "gap" }>>;
  lastReseeded?: TimedDiagnostic<Extract<Diagnostic, { kind: "reseeded" }>>;
  /** The newest diagnostics (at most 50), oldest first. */
  recent: readonly TimedDiagnostic[];
}

/** The connection's health; re-renders on every state change and diagnostic. */
export function useConnection(client: MaybeClient): ConnectionInfo;
/** What `selector` picks from the connection's health; re-renders only when it changes. */
export function useConnection<T>(
  client: MaybeClient,
  selector: (info: ConnectionInfo) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;

/** `client.stats()` polled every `intervalMs` (default 1000) with rates over the last interval. */
export function useClientStats(client: MaybeClient, intervalMs?: number):
  (ClientStats & { eventsPerSecond: number | null; framesPerSecond: number | null }) | null;

/**
 * Calls `onEvents` with every delivery of `scope` and `types` while mounted (the latest
 * callback; changing it does not resubscribe). Equal scopes and types share one subscription.
 */
export function useSubscription(
  client: MaybeClient,
  scope: ScopeSpec | null | undefined,
  types: MonitorTypesArg,
  onEvents: (events: Delivered[]) => void,
): void;

/** The resources the hooks hold open on `client` (task stores, subscriptions, listeners). */
export function openResources(client: MaybeClient): Array<{ key: string; refs: number }>;
