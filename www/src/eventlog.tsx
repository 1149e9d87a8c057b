// Dashboard events (connections, monitor changes, task errors and removals) and the SDK's
// diagnostics, newest first, bounded. Collected from mount on, whichever tab is open.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import type { Delivered, Diagnostic, RocketRideClient } from "runwatch";
import { useSubscription } from "runwatch/react";

export interface LogItem {
  id: number;
  at: number;
  source: "dashboard" | "sdk";
  kind: string;
  summary: string;
  severity: "info" | "warn" | "error";
}

const MAX_ITEMS = 300;
const EventLogContext = createContext<LogItem[]>([]);

function describeDashboard(ev: Extract<Delivered, { type: "dashboard" }>): Omit<LogItem, "id" | "at" | "source"> {
  switch (ev.action) {
    case "connection_added":
      return { kind: "connection added", summary: `#${ev.connectionId} ${ev.clientName ?? ""}`.trim(), severity: "info" };
    case "connection_removed":
      return { kind: "connection removed", summary: `#${ev.connectionId} ${ev.clientName ?? ""}`.trim(), severity: "info" };
    case "monitor_changed":
      return { kind: `monitor ${ev.change}`, summary: `#${ev.connectionId} ${ev.clientName ?? ""} → ${ev.key}`, severity: "info" };
    case "auth_failed":
      return { kind: "auth failed", summary: JSON.stringify(ev), severity: "warn" };
    case "task_removed":
      return { kind: "task removed", summary: ev.taskId, severity: "info" };
    case "task_error":
      return { kind: "task error", summary: `${ev.taskId}: exit ${ev.exitCode}${ev.exitMessage ? ` — ${ev.exitMessage}` : ""}`, severity: "error" };
  }
}

export function describeDiagnostic(d: Diagnostic): Omit<LogItem, "id" | "at" | "source"> {
  switch (d.kind) {
    case "resync":
      return {
        kind: "resync",
        summary: `epoch ${d.epoch}: offline ${Math.round(d.offlineMs)} ms, resubscribed ${d.resubscribed.length} key(s)` +
          (d.lost.length ? `, lost after seq ${d.lost.map((l) => `${l.lastSeq} (epoch ${l.epoch})`).join(", ")}` : ""),
        severity: "warn",
      };
    case "gap":
      return { kind: "gap", summary: `epoch ${d.epoch}: seq ${d.first}–${d.last} missing (${d.missing})`, severity: "warn" };
    case "duplicate":
      return { kind: "duplicate", summary: `epoch ${d.epoch}: seq ${d.seq} dropped`, severity: "info" };
    case "reseeded":
      return { kind: "reseeded", summary: `${d.statuses.length} status(es), ${d.ended.length} ended offline`, severity: "info" };
    case "decodeError":
      return { kind: "decode error", summary: `${d.event ?? "frame"}${d.seq !== undefined ? ` seq ${d.seq}` : ""}: ${JSON.stringify(d.error)}`, severity: "warn" };
    default:
      return { kind: d.kind, summary: JSON.stringify(d), severity: d.kind === "callbackError" || d.kind === "subscribeError" ? "error" : "info" };
  }
}

export function EventLogProvider({ client, children }: { client: RocketRideClient | null; children: ReactNode }) {
  const [items, setItems] = useState<LogItem[]>([]);
  const nextId = useRef(1);
  const add = useCallback((source: LogItem["source"], entries: Array<Omit<LogItem, "id" | "at" | "source">>) => {
    if (!entries.length) return;
    const at = Date.now();
    const made = entries.map((e) => ({ ...e, source, at, id: nextId.current++ }));
    setItems((old) => [...made.reverse(), ...old].slice(0, MAX_ITEMS));
  }, []);
  useSubscription(client, { token: "*" }, ["DASHBOARD"], (events) => {
    add("dashboard", events.flatMap((ev) => (ev.type === "dashboard" ? [describeDashboard(ev)] : [])));
  });
  useEffect(() => {
    if (!client) return undefined;
    return client.onDiagnostic((d) => add("sdk", [describeDiagnostic(d)]));
  }, [client, add]);
  return <EventLogContext.Provider value={items}>{children}</EventLogContext.Provider>;
}

export function useEventLog(): LogItem[] {
  return useContext(EventLogContext);
}
