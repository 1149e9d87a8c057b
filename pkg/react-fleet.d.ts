// Types of runwatch/react/fleet-rlm (pkg/react-fleet.js). The SDK's own types come from
// the generated declarations (./dist/fleet/runwatch.d.ts) through the fleet-rlm entry.
import type { ReactNode } from "react";
import type {
  ConnState,
  FleetClientOptions,
  FleetDiagnostic,
  FleetRlmClient,
  LossReason,
  Run,
  RunsSnapshot,
  ServerError,
  Turn,
  TurnsSnapshot,
} from "./fleet-rlm.js";

/** A client, or `null`/`undefined` while there is none yet: every hook then returns its empty value. */
export type MaybeFleetClient = FleetRlmClient | null | undefined;

/** Makes `client` available to `useFleet()` below it. */
export function FleetProvider(props: { client: MaybeFleetClient; children?: ReactNode }): ReactNode;

/** The client of the nearest `FleetProvider`, or `null`. */
export function useFleet(): FleetRlmClient | null;

/**
 * Creates a `FleetRlmClient` once `init()` has loaded the fleet-rlm module, and closes it
 * when the component unmounts or `options` change (compared by value, except `auth`, which
 * is read at every connection attempt and HTTP call). `null` options: no client.
 */
export function useFleetClient(options: FleetClientOptions | null): {
  client: FleetRlmClient | null;
  /** A `RunwatchError` from the constructor (bad URL, option), or a failed `init()`. */
  error: unknown;
};

/** One level deep: arrays by element, plain objects by own key, else `Object.is`. */
export function shallowEqual(a: unknown, b: unknown): boolean;

/** Every turn of the session (oldest first); re-renders when a turn is added or changes. */
export function useFleetTurns(client: MaybeFleetClient, selector?: null): readonly Turn[];
/** What `selector` picks from the turns snapshot; re-renders only when it changes by `isEqual` (default `shallowEqual`). */
export function useFleetTurns<T>(
  client: MaybeFleetClient,
  selector: (snapshot: TurnsSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;

/** One turn by `turnId` (what `send()` returned); `undefined` while there is none. */
export function useFleetTurn(client: MaybeFleetClient, turnId: number | null | undefined): Turn | undefined;

/** Every run of the session (oldest first), each with its step tree. */
export function useFleetRuns(client: MaybeFleetClient, selector?: null): readonly Run[];
/** What `selector` picks from the runs snapshot; re-renders only when it changes by `isEqual` (default `shallowEqual`). */
export function useFleetRuns<T>(
  client: MaybeFleetClient,
  selector: (snapshot: RunsSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;

/** One run by `runKey`, or the latest instance of a server `runId` (a string); `undefined` while there is none. */
export function useFleetRun(client: MaybeFleetClient, id: number | string | null | undefined): Run | undefined;

/** A diagnostic with the time it arrived (`Date.now()` ms). */
export interface TimedFleetDiagnostic<D extends FleetDiagnostic = FleetDiagnostic> {
  at: number;
  diagnostic: D;
}

/** One socket's health. */
export interface FleetSocketInfo {
  state: ConnState;
  /** Connection number of the socket (increases with every reconnect). */
  epoch: number;
  /** When `state` was entered (`Date.now()` ms). */
  since: number;
  reconnects: number;
  /** Why the last connection was lost, while reconnecting. */
  reason?: LossReason;
  message?: string;
  /** The error frame the server sent before it closed the socket (`auth_failed`, …). */
  serverError?: ServerError;
}

/** Both sockets' health, as `useFleetConnection` returns it. */
export interface FleetConnectionInfo {
  sessionId: string;
  /** Absent when the client was made with `chat: false`. */
  chat?: FleetSocketInfo;
  /** Absent when the client was made with `events: false`. */
  events?: FleetSocketInfo;
  /** Diagnostics heard since the hooks began listening. */
  diagnostics: number;
  lastResync?: TimedFleetDiagnostic<Extract<FleetDiagnostic, { kind: "resync" }>>;
  lastStalled?: TimedFleetDiagnostic<Extract<FleetDiagnostic, { kind: "stalled" }>>;
  /** The newest diagnostics (at most 50), oldest first. */
  recent: readonly TimedFleetDiagnostic[];
}

/** Both sockets' health; re-renders on every state change and diagnostic. */
export function useFleetConnection(client: MaybeFleetClient): FleetConnectionInfo;
/** What `selector` picks from the sockets' health; re-renders only when it changes. */
export function useFleetConnection<T>(
  client: MaybeFleetClient,
  selector: (info: FleetConnectionInfo) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;

/** The resources the hooks hold open on `client` (store listeners, connection listeners). */
export function openResources(client: MaybeFleetClient): Array<{ key: string; refs: number }>;
