// Add and remove subscriptions of the page's client, and see the server keys the SDK holds
// for them (`client.serverSubscriptions()`): equal keys merge, `*` with DASHBOARD is the
// cleanup watch the SDK keeps beside project keys.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { MonitorTypeName, RocketRideClient, ScopeSpec, Subscription } from "runwatch";
import { useTasks } from "runwatch/react";
import { clockMs } from "./format";
import { STORE } from "./store";

const TYPES: MonitorTypeName[] = ["TASK", "SUMMARY", "FLOW", "OUTPUT", "DETAIL", "SSE", "DASHBOARD"];
type Kind = "all" | "token" | "project" | "source";

interface Row {
  id: number;
  scope: ScopeSpec;
  types: MonitorTypeName[];
  sub: Subscription;
  events: number;
  lastType?: string;
  lastAt?: number;
}

/** The server keys a subscription's scope maps to, among those the SDK holds. */
function keysFor(scope: ScopeSpec, keys: Array<{ key: string }>): string[] {
  if (scope.token === "*") return keys.filter((k) => k.key === "*").map((k) => k.key);
  // Token keys are shown redacted ("t.tk_…"): match on the part the SDK shows.
  if (scope.token) return keys.filter((k) => k.key.startsWith("t.") && `t.${scope.token}`.startsWith(k.key.split("…")[0]!)).map((k) => k.key);
  const want = `p.${scope.projectId}.${scope.source}`;
  return keys.filter((k) => k.key === want || (k.key.startsWith(want) && scope.pipeId !== undefined)).map((k) => k.key);
}

function scopeText(s: ScopeSpec): string {
  if (s.token === "*") return "every task ({token:\"*\"})";
  if (s.token) return `token ${s.token.slice(0, 6)}…`;
  return `project ${s.projectId?.slice(0, 8)}… source ${s.source}${s.pipeId !== undefined ? ` pipe ${s.pipeId}` : ""}`;
}

interface Added {
  rows: Row[];
  add: (scope: ScopeSpec, types: MonitorTypeName[]) => void;
  remove: (row: Row) => void;
}

const AddedContext = createContext<Added>({ rows: [], add: () => {}, remove: () => {} });

/** The subscriptions added on the Subscriptions tab: they live while the client does, not
 * only while the tab is shown; a new client (Connect) starts without them. */
export function SubscriptionsProvider({ client, children }: { client: RocketRideClient | null; children: ReactNode }) {
  const [rows, setRows] = useState<Row[]>([]);
  const live = useRef<Row[]>([]);
  const nextId = useRef(1);
  useEffect(() => () => {
    for (const r of live.current) r.sub.unsubscribe();
    live.current = [];
    setRows([]);
  }, [client]);
  const add = useCallback((scope: ScopeSpec, types: MonitorTypeName[]) => {
    if (!client) return;
    const id = nextId.current++;
    // Throws a RunwatchError for a bad scope or type: the caller shows it.
    const sub = client.subscribe(scope, types, (events) => {
      const last = events[events.length - 1];
      setRows((old) => old.map((r) => r.id === id ? { ...r, events: r.events + events.length, lastType: last?.type ?? r.lastType, lastAt: Date.now() } : r));
    });
    const row: Row = { id, scope, types, sub, events: 0 };
    live.current.push(row);
    setRows((old) => [...old, row]);
  }, [client]);
  const remove = useCallback((row: Row) => {
    row.sub.unsubscribe();
    live.current = live.current.filter((r) => r.id !== row.id);
    setRows((old) => old.filter((r) => r.id !== row.id));
  }, []);
  const value = useMemo(() => ({ rows, add, remove }), [rows, add, remove]);
  return <AddedContext.Provider value={value}>{children}</AddedContext.Provider>;
}

export function SubscriptionsPage({ client }: { client: RocketRideClient | null }) {
  const { rows, add: addSubscription, remove } = useContext(AddedContext);
  const [keys, setKeys] = useState<Array<{ key: string; types: MonitorTypeName[] }>>([]);
  const [error, setError] = useState<string | null>(null);
  const [kind, setKind] = useState<Kind>("source");
  const [projectId, setProjectId] = useState("");
  const [source, setSource] = useState("");
  const [token, setToken] = useState("");
  const [pipeId, setPipeId] = useState("");
  const [types, setTypes] = useState<Set<MonitorTypeName>>(new Set(["TASK", "SUMMARY"]));
  const known = useTasks(client, (s) => {
    const seen = new Map<string, { projectId: string; source: string }>();
    for (const r of s.runs) if (r.projectId) seen.set(`${r.projectId}/${r.source}`, { projectId: r.projectId, source: r.source });
    return [...seen.values()];
  }, { ...STORE, isEqual: (a, b) => a.length === b.length && a.every((x, i) => x.projectId === b[i]!.projectId && x.source === b[i]!.source) });

  useEffect(() => {
    if (!projectId && known[0]) { setProjectId(known[0].projectId); setSource(known[0].source); }
  }, [known, projectId]);

  useEffect(() => {
    if (!client) return undefined;
    const read = () => { try { setKeys(client.serverSubscriptions()); } catch { /* closed */ } };
    read();
    const t = setInterval(read, 500);
    return () => clearInterval(t);
  }, [client, rows]);


  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!client) return;
    setError(null);
    let scope: ScopeSpec;
    switch (kind) {
      case "all": scope = { token: "*" }; break;
      case "token": scope = { token: token.trim() }; break;
      case "project": scope = { projectId: projectId.trim(), source: "*" }; break;
      case "source": scope = { projectId: projectId.trim(), source: source.trim() }; break;
    }
    if (pipeId.trim() !== "" && kind !== "all") scope.pipeId = Number(pipeId);
    const chosen = TYPES.filter((t) => types.has(t));
    try {
      addSubscription(scope, chosen);
    } catch (err) {
      setError(`${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`);
    }
  };

  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="sub-add-h">
        <h2 id="sub-add-h">Add a subscription</h2>
        <form className="form" onSubmit={add}>
          <label>Scope
            <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
              <option value="all">every task (token "*")</option>
              <option value="token">one task token</option>
              <option value="project">a project, every source</option>
              <option value="source">a project's source</option>
            </select>
          </label>
          {kind === "token" ? (
            <label>Task token<input value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" spellCheck={false} /></label>
          ) : null}
          {kind === "project" || kind === "source" ? (
            <>
              <label>Project id
                <input value={projectId} onChange={(e) => setProjectId(e.target.value)} list="known-projects" spellCheck={false} />
              </label>
              <datalist id="known-projects">{[...new Set(known.map((k) => k.projectId))].map((p) => <option key={p} value={p} />)}</datalist>
            </>
          ) : null}
          {kind === "source" ? (
            <>
              <label>Source<input value={source} onChange={(e) => setSource(e.target.value)} list="known-sources" spellCheck={false} /></label>
              <datalist id="known-sources">{known.filter((k) => k.projectId === projectId).map((k) => <option key={k.source} value={k.source} />)}</datalist>
            </>
          ) : null}
          {kind !== "all" ? (
            <label>Pipe id (optional; SSE only)<input value={pipeId} onChange={(e) => setPipeId(e.target.value)} inputMode="numeric" /></label>
          ) : null}
          <fieldset>
            <legend>Types</legend>
            <div className="checks">
              {TYPES.map((t) => (
                <label key={t} className="inline">
                  <input type="checkbox" checked={types.has(t)} onChange={(e) => {
                    const next = new Set(types);
                    if (e.target.checked) next.add(t); else next.delete(t);
                    setTypes(next);
                  }} /> {t}
                </label>
              ))}
            </div>
          </fieldset>
          <button type="submit" disabled={!client}>Subscribe</button>
          {error ? <p className="error" role="alert">{error}</p> : null}
        </form>
      </section>
      <section className="panel" aria-labelledby="sub-list-h">
        <h2 id="sub-list-h">This page's subscriptions</h2>
        {rows.length === 0 ? <p className="empty">None added. (The dashboard's own views subscribe too; their keys are below.)</p> : (
          <ul className="subs" data-testid="subscriptions">
            {rows.map((r) => (
              <li key={r.id} data-testid="subscription">
                <div><strong>{scopeText(r.scope)}</strong> <span className="muted">{r.types.join(", ")}</span></div>
                <div className="muted">{r.events} event(s){r.lastType ? `, last ${r.lastType} at ${clockMs(r.lastAt)}` : ""}</div>
                <div data-testid="maps-to">server key: {keysFor(r.scope, keys).map((k) => <code key={k}>{k}</code>)}{keysFor(r.scope, keys).length === 0 ? "—" : null}</div>
                <button type="button" onClick={() => remove(r)}>Unsubscribe</button>
              </li>
            ))}
          </ul>
        )}
        <h2>Server keys</h2>
        <p className="hint">What the SDK holds on the server for every subscription of this client (merged, ref-counted).</p>
        <table className="keys" data-testid="server-keys">
          <thead><tr><th scope="col">key</th><th scope="col">types</th></tr></thead>
          <tbody>
            {keys.map((k) => <tr key={k.key}><td><code>{k.key}</code></td><td>{k.types.join(", ")}</td></tr>)}
          </tbody>
        </table>
      </section>
    </div>
  );
}

