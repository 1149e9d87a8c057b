// The server's runtime as its HTTP probes tell it: /health, /ready, /api/v1/runtime/status
// and who the server thinks we are (/api/v1/auth/me), refreshed on demand; and the LM and
// Daytona connectivity tests, whose results the runtime status then counts.
import { useEffect } from "react";
import type { ConnectivityTest, FleetRlmClient } from "runwatch/fleet-rlm";
import { useFleet } from "runwatch/react/fleet-rlm";
import { clockMs, duration, text } from "../format";
import { useCall, type CallState } from "./useCall";

const yesNo = (v: boolean | undefined) => (v === undefined ? "—" : v ? "yes" : "no");

/** A probe's value through `show`, or why there is none. */
function shown<T>(state: CallState<T>, show: (v: T) => string): string {
  switch (state.status) {
    case "done": return show(state.value);
    case "failed": return `failed (${state.error})`;
    case "pending": return "…";
    default: return "—";
  }
}

function useProbe<T>(client: FleetRlmClient | null, call: (c: FleetRlmClient) => Promise<T>) {
  return useCall(() => (client ? call(client) : Promise.reject(new Error("no client"))));
}

function TestResult({ state }: { state: CallState<ConnectivityTest> }) {
  if (state.status === "idle") return null;
  if (state.status === "pending") return <p className="hint" role="status">testing…</p>;
  if (state.status === "failed") return <p className="error" role="alert">{state.error}</p>;
  const t = state.value;
  return (
    <p data-testid={`test-${t.kind}`} data-ok={String(t.ok)} role="status">
      <span className={`badge ${t.ok ? "o-ok" : "o-failed"}`}>{t.kind}: {t.ok ? "ok" : "failed"}</span>{" "}
      preflight {yesNo(t.preflightOk)}, latency {duration(t.latencyMs)}, checked {t.checkedAt ? clockMs(Date.parse(t.checkedAt)) : "—"}
      {t.error ? <span className="error"> · {t.error}</span> : null}
    </p>
  );
}

export function Runtime() {
  const client = useFleet();
  const [health, probeHealth] = useProbe(client, (c) => c.health());
  const [ready, probeReady] = useProbe(client, (c) => c.ready());
  const [status, probeStatus] = useProbe(client, (c) => c.runtimeStatus());
  const [me, probeMe] = useProbe(client, (c) => c.me());
  const [lm, testLm] = useProbe(client, (c) => c.testLm().finally(probeStatus));
  const [daytona, testDaytona] = useProbe(client, (c) => c.testDaytona().finally(probeStatus));
  const refresh = () => { probeHealth(); probeReady(); probeStatus(); probeMe(); };
  useEffect(() => { if (client) refresh(); }, [client]);
  const rs = status.status === "done" ? status.value : undefined;
  return (
    <section className="panel" aria-labelledby="fleet-runtime-h">
      <div className="panel-head">
        <h2 id="fleet-runtime-h">Runtime</h2>
        <button type="button" className="secondary" onClick={refresh} disabled={!client}>Refresh</button>
      </div>
      <dl className="fields" data-testid="fleet-probes">
        <div><dt>health</dt><dd data-testid="probe-health">{shown(health, (h) => `${h.ok ? "ok" : "not ok"}, version ${text(h.version)}`)}</dd></div>
        <div><dt>ready</dt><dd data-testid="probe-ready">{shown(ready, (r) => `${yesNo(r.ready)} (planner ${text(r.planner)}, database ${text(r.database)})`)}</dd></div>
        <div><dt>runtime ready</dt><dd data-testid="probe-runtime">{shown(status, (s) => `${yesNo(s.ready)} (${text(s.appEnv)})`)}</dd></div>
        <div><dt>identity</dt><dd data-testid="probe-me">{shown(me, (m) => `${m.tenantId} / ${m.userId}`)}</dd></div>
        <div><dt>planner model</dt><dd>{text(rs?.activeModels.planner)}</dd></div>
        <div><dt>sandbox</dt><dd>{text(rs?.sandboxProvider)}{rs ? `, Daytona configured ${yesNo(rs.daytona.configured)}` : ""}</dd></div>
        <div><dt>LLM startup</dt><dd>{text(rs?.llm.startupStatus)}</dd></div>
        <div><dt>MLflow</dt><dd>{rs ? `${rs.mlflow.enabled ? "enabled" : "disabled"}, ${text(rs.mlflow.startupStatus)}` : "—"}</dd></div>
        <div><dt>last LM test</dt><dd>{rs ? (rs.tests.lm ? (rs.tests.lm.ok ? "passed" : "failed") : "not run") : "—"}</dd></div>
        <div><dt>last Daytona test</dt><dd>{rs ? (rs.tests.daytona ? (rs.tests.daytona.ok ? "passed" : "failed") : "not run") : "—"}</dd></div>
      </dl>
      {rs?.guidance.length ? <ul className="issues">{rs.guidance.map((g) => <li key={g}>{g}</li>)}</ul> : null}
      <div className="buttons">
        <button type="button" onClick={testLm} disabled={!client || lm.status === "pending"}>Test LM</button>
        <button type="button" onClick={testDaytona} disabled={!client || daytona.status === "pending"}>Test Daytona</button>
      </div>
      <TestResult state={lm} />
      <TestResult state={daytona} />
      <p className="hint">Runtime ready needs both connectivity tests to have passed (fleet-rlm caches their results).</p>
    </section>
  );
}
