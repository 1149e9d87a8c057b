// Fault injection against the built-in simulator's control API (/_sim/, proxied by the
// page's server), and what the SDK did about each fault.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { ClientStats, RocketRideClient } from "runwatch";
import { useConnection } from "runwatch/react";
import { clockMs, duration } from "./format";

interface FaultDef {
  id: string;
  label: string;
  help: string;
  specs: Array<Record<string, unknown>>;
  /** Standing faults are cleared after this long. */
  forMs?: number;
  reconnects: boolean;
}

const FAULTS: FaultDef[] = [
  { id: "kill", label: "Kill connections", help: "Close every socket without a close frame.", specs: [{ kind: "drop_all" }], reconnects: true },
  { id: "close", label: "Close with 1011", help: "Close every socket with code 1011 (server error).", specs: [{ kind: "drop_all", code: 1011 }], reconnects: true },
  { id: "half-open", label: "Half-open", help: "The server stops sending but keeps the socket open; the heartbeat must notice.", specs: [{ kind: "half_open", seconds: 60 }], reconnects: true },
  { id: "drop", label: "Drop 20 % of frames", help: "For 5 s, drop one outgoing frame in five: the SDK reports gaps.", specs: [{ kind: "drop", rate: 0.2 }], forMs: 5000, reconnects: false },
  { id: "duplicate", label: "Duplicate 30 %", help: "For 5 s, send frames twice: the SDK drops the copies.", specs: [{ kind: "duplicate", rate: 0.3 }], forMs: 5000, reconnects: false },
  { id: "reorder", label: "Reorder 30 %", help: "For 5 s, swap frames: the SDK puts them back in order.", specs: [{ kind: "reorder", rate: 0.3 }], forMs: 5000, reconnects: false },
  { id: "garbage", label: "Garbage frames", help: "Three frames that are not JSON: decode errors, nothing breaks.", specs: [{ kind: "garbage", count: 3 }], reconnects: false },
  { id: "nan", label: "NaN metrics", help: "A status with bare NaN values: shown as —.", specs: [{ kind: "nan" }], reconnects: false },
  { id: "refuse", label: "Outage 4 s", help: "Kill every socket and refuse new ones for 4 s.", specs: [{ kind: "refuse", seconds: 4 }, { kind: "drop_all" }], reconnects: true },
  { id: "restart", label: "Restart the engine", help: "Drop everything and forget all tasks, as a process restart would.", specs: [{ kind: "restart" }], reconnects: true },
];

type Status = "injecting" | "waiting" | "recovered" | "survived" | "failed";

interface Entry {
  id: number;
  def: FaultDef;
  at: number;
  epoch: number;
  stats: ClientStats | null;
  status: Status;
  detail: string;
}

async function control(path: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(`./_sim/${path}`, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${body}`);
  try { return JSON.parse(body); } catch { return body; }
}

const post = (path: string, body: unknown) =>
  control(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function stats(client: RocketRideClient | null): ClientStats | null {
  try { return client?.stats() ?? null; } catch { return null; }
}

function delta(before: ClientStats | null, after: ClientStats | null): string {
  if (!before || !after) return "";
  const parts: string[] = [];
  const d = (k: keyof ClientStats, label: string) => {
    const n = (after[k] as number) - (before[k] as number);
    if (n > 0) parts.push(`${n} ${label}`);
  };
  d("gaps", "gap(s)");
  d("missing", "frame(s) reported missing");
  d("duplicates", "duplicate(s) dropped");
  d("decodeErrors", "decode error(s)");
  d("reconnects", "reconnect(s)");
  d("reseeded", "re-seeded status(es)");
  return parts.length ? parts.join(", ") : "no loss";
}

/** A registry key and its types, as the simulator and `client.serverSubscriptions()` list them. */
interface KeyTypes { key: string; types: string[] }
interface SimConnection { id: number; clientName: string; authenticated: boolean; monitors: KeyTypes[] }

/** Keys and types in one canonical text, so two lists compare whatever their order. */
const keysText = (rows: KeyTypes[]) => rows.map((r) => `${r.key} ${[...r.types].sort().join(",")}`).sort().join("\n");

/** Whether the server's newest connection of this page holds exactly what the SDK believes
 * it holds: the SDK's own resubscribe, reassert and unsubscribe bookkeeping checked against
 * the registry the server really has. */
function agrees(client: RocketRideClient | null, ours: SimConnection[]): boolean {
  const live = ours.filter((c) => c.authenticated).at(-1);
  if (!client || !live) return false;
  try {
    return keysText(live.monitors) === keysText(client.serverSubscriptions());
  } catch {
    return false; // closed
  }
}

interface FaultLog {
  entries: Entry[];
  inject: (def: FaultDef) => Promise<void>;
}

const FaultContext = createContext<FaultLog>({ entries: [], inject: async () => {} });

/** Holds the fault log for the whole page, so it survives switching tabs, and decides, on
 * every connection change and twice a second, whether each fault is over. */
export function FaultProvider({ client, children }: { client: RocketRideClient | null; children: ReactNode }) {
  const conn = useConnection(client);
  const [entries, setEntries] = useState<Entry[]>([]);
  const nextId = useRef(1);
  const [tick, setTick] = useState(0);
  const waiting = entries.some((e) => e.status === "waiting");
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(() => setTick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [waiting]);
  useEffect(() => {
    const now = Date.now();
    setEntries((old) => {
      let changed = false;
      const next = old.map((e) => {
        if (e.status !== "waiting") return e;
        if (e.def.reconnects) {
          if (conn.state === "live" && conn.epoch > e.epoch) {
            changed = true;
            const r = conn.lastResync?.diagnostic;
            return { ...e, status: "recovered" as Status, detail: `back live in ${duration(now - e.at)} on epoch ${conn.epoch}` +
              (r ? `; resync: offline ${duration(r.offlineMs)}, ${r.resubscribed.length} key(s) resubscribed` : "") +
              `; ${delta(e.stats, stats(client))}` };
          }
          if (now - e.at > 60_000) { changed = true; return { ...e, status: "failed" as Status, detail: "not back live within 60 s" }; }
          return e;
        }
        if (now - e.at >= (e.def.forMs ?? 0) + 1500 && conn.state === "live") {
          changed = true;
          return { ...e, status: "survived" as Status, detail: `still live on epoch ${conn.epoch}; ${delta(e.stats, stats(client))}` };
        }
        if (now - e.at > 60_000) { changed = true; return { ...e, status: "failed" as Status, detail: "not live 60 s later" }; }
        return e;
      });
      return changed ? next : old;
    });
  }, [conn, tick, client]);

  const inject = useCallback(async (def: FaultDef) => {
    const id = nextId.current++;
    const entry: Entry = { id, def, at: Date.now(), epoch: conn.epoch, stats: stats(client), status: "injecting", detail: "" };
    setEntries((old) => [entry, ...old].slice(0, 50));
    const update = (patch: Partial<Entry>) => setEntries((old) => old.map((e) => (e.id === id ? { ...e, ...patch } : e)));
    try {
      for (const spec of def.specs) await post("faults", spec);
      update({ status: "waiting", detail: def.reconnects ? "waiting for the SDK to reconnect…" : "watching…" });
      if (def.forMs) setTimeout(() => { control("faults", { method: "DELETE" }).catch(() => {}); }, def.forMs);
    } catch (err) {
      update({ status: "failed", detail: `control API: ${(err as Error).message}` });
    }
  }, [client, conn.epoch]);

  const value = useMemo(() => ({ entries, inject }), [entries, inject]);
  return <FaultContext.Provider value={value}>{children}</FaultContext.Provider>;
}

export function FaultsPage({ client, simulator }: { client: RocketRideClient | null; simulator: boolean }) {
  const { entries, inject } = useContext(FaultContext);
  const [available, setAvailable] = useState<boolean | null>(null);
  const [conns, setConns] = useState<SimConnection[]>([]);

  useEffect(() => {
    if (!simulator) { setAvailable(false); return undefined; }
    let stop = false;
    const poll = async () => {
      try {
        const rows = (await control("connections")) as SimConnection[];
        if (!stop) { setAvailable(true); setConns(rows); }
      } catch {
        if (!stop) setAvailable(false);
      }
    };
    poll();
    const t = setInterval(poll, 2000);
    return () => { stop = true; clearInterval(t); };
  }, [simulator]);

  const clear = () => control("faults", { method: "DELETE" }).catch(() => {});

  if (available === false) {
    return (
      <section className="panel" aria-labelledby="faults-h">
        <h2 id="faults-h">Faults</h2>
        <p>Fault injection drives the built-in simulator's control API, which this page cannot reach
          {simulator ? " (is the simulator running?)" : " while connected to another server"}.</p>
      </section>
    );
  }
  const ours = conns.filter((c) => c.clientName === "runwatch-dashboard");
  const same = agrees(client, ours);
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="faults-h">
        <div className="panel-head">
          <h2 id="faults-h">Inject a fault</h2>
          <button type="button" className="secondary" onClick={clear}>Clear standing faults</button>
        </div>
        <ul className="faults">
          {FAULTS.map((f) => (
            <li key={f.id}>
              <button type="button" data-fault={f.id} onClick={() => inject(f)} disabled={!client || available === null}>{f.label}</button>
              <span className="hint">{f.help}</span>
            </li>
          ))}
        </ul>
        <h3>The server's view of this page</h3>
        <p className="hint">From the simulator (<code>/_sim/connections</code>, every 2 s): this dashboard's connections and the monitor keys they hold.</p>
        <ul className="server-conns" data-testid="sim-connections">
          {ours.map((c) => (
            <li key={c.id}>
              <strong>#{c.id}</strong> {c.authenticated ? "authenticated" : "not authenticated"}
              <ul>{c.monitors.map((m) => <li key={m.key}><code>{m.key}</code> {m.types.join(", ")}</li>)}</ul>
            </li>
          ))}
        </ul>
        <p data-testid="server-agrees" data-agree={same} className={same ? "agree" : "disagree"}>
          {same
            ? "The server holds exactly the keys and types the SDK believes it holds (client.serverSubscriptions())."
            : "The server's keys differ from what the SDK believes it holds (client.serverSubscriptions()): expected while it reconnects, resubscribes or re-asserts."}
        </p>
      </section>
      <section className="panel" aria-labelledby="fault-log-h">
        <h2 id="fault-log-h">What happened</h2>
        {entries.length === 0 ? <p className="empty">No fault injected yet.</p> : (
          <ol className="fault-log" data-testid="fault-log" aria-live="polite">
            {entries.map((e) => (
              <li key={e.id} data-fault={e.def.id} data-status={e.status} className={`fs-${e.status}`}>
                <time>{clockMs(e.at)}</time> <strong>{e.def.label}</strong>{" "}
                <span className="badge">{e.status}</span>
                <div className="detail">{e.detail}</div>
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}
