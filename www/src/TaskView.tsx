import { useSyncExternalStore } from "react";
import type { RocketRideClient, TaskRun, TaskStatus } from "runwatch";
import { useTask } from "runwatch/react";
import { bytes, clock, clockMs, mb, num, pct, text } from "./format";
import { displayName, outcome, OUTCOME_LABEL } from "./runs";
import { STORE } from "./store";
import { useHistory } from "./history";
import { Chart } from "./Chart";
import { FlowTimeline } from "./FlowTimeline";
import { OutputTail } from "./OutputTail";
import { Progress } from "./Progress";

export function TaskView({ client, runId, number }: { client: RocketRideClient | null; runId: number; number: number }) {
  const run = useTask(client, runId, STORE);
  if (!run) {
    return (
      <section className="panel task-view" aria-label="Task">
        <p className="empty">This run is not in the store (any more). <a href="#/tasks">Back to the list</a></p>
      </section>
    );
  }
  const o = outcome(run);
  return (
    <section className="panel task-view" aria-labelledby="task-h" data-testid="task-view" data-run-id={run.runId}>
      <a className="back" href="#/tasks">← All tasks</a>
      <div className="panel-head">
        <h2 id="task-h">{displayName(run)} <span className="count">run {number}</span></h2>
        <span className={`badge o-${o}`}>{OUTCOME_LABEL[o]}{o === "exited" ? ` ${run.status?.exitCode}` : ""}</span>
      </div>
      <p className="ids">
        <span>task <code>{run.taskId}</code></span>
        <span>project <code>{text(run.projectId)}</code></span>
        <span>source <code>{run.source}</code></span>
        <span>started {clock(run.startTime)}</span>
        {run.lifecycle.ended ? <span>ended {clockMs(run.lifecycle.endedAt)} ({run.lifecycle.endedBy ?? "?"})</span> : null}
        {run.lifecycle.restarts ? <span>{run.lifecycle.restarts} restart(s)</span> : null}
        {run.stale ? <span className="warn">stale since the reconnect</span> : null}
      </p>
      {run.status ? <StatusFields status={run.status} /> : <p className="hint">No TASK_STATUS yet.</p>}
      <Plots runId={run.runId} />
      <h3>Flow</h3>
      <FlowTimeline client={client} run={run} />
      <Issues run={run} />
      <h3>Output</h3>
      <OutputTail lines={run.output} total={run.outputTotal} dropped={run.outputDropped} />
    </section>
  );
}

function StatusFields({ status: s }: { status: TaskStatus }) {
  const m = s.metrics;
  const t = s.tokens;
  const rows: Array<[string, string]> = [
    ["state", String(s.state)],
    ["status", text(s.status)],
    ["current object", s.currentObject ? `${s.currentObject} (${bytes(s.currentSize)})` : "—"],
    ["objects", `${num(s.completedCount)} of ${num(s.totalCount)}, ${num(s.failedCount)} failed`],
    ["bytes", `${bytes(s.completedSize)} of ${bytes(s.totalSize)}, ${bytes(s.failedSize)} failed`],
    ["words", `${num(s.wordsCount)} (${bytes(s.wordsSize)})`],
    ["rate", `${num(s.rateCount, 1)} obj/s, ${bytes(s.rateSize)}/s`],
    ["service", s.serviceUp ? "up" : "down"],
    ["CPU", `${pct(m.cpuPercent)} (avg ${pct(m.avgCpuPercent)}, peak ${pct(m.peakCpuPercent)})`],
    ["memory", `${mb(m.cpuMemoryMb)} (avg ${mb(m.avgCpuMemoryMb)}, peak ${mb(m.peakCpuMemoryMb)})`],
    ["GPU memory", `${mb(m.gpuMemoryMb)} (peak ${mb(m.peakGpuMemoryMb)})`],
    ["tokens", `${num(t.total, 1)} total · CPU ${num(t.cpuUtilization, 1)} · mem ${num(t.cpuMemory, 1)} · GPU ${num(t.gpuMemory, 1)} / ${num(t.gpuInference, 1)}`],
    ["exit", s.completed ? `${s.exitCode}${s.exitMessage ? ` — ${s.exitMessage}` : ""}` : "—"],
    ["end time", clock(s.endTime)],
    ["debugger", s.debuggerAttached ? "attached" : "no"],
  ];
  const notes = s.notes.map((n) => (typeof n === "string" ? n : JSON.stringify(n)));
  return (
    <>
      <div className="progress-pair">
        <Progress value={s.completedCount} total={s.totalCount} label="Objects completed" />
        <Progress value={s.completedSize} total={s.totalSize} label="Bytes completed" format={(v) => bytes(v)} />
      </div>
      <dl className="fields" data-testid="status-fields">
        {rows.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}
        {notes.length ? <div className="wide"><dt>notes</dt><dd>{notes.join(" · ")}</dd></div> : null}
      </dl>
    </>
  );
}

function Plots({ runId }: { runId: number }) {
  const history = useHistory();
  useSyncExternalStore(
    (cb) => history.subscribe(cb),
    () => history.get(runId)?.version ?? 0,
  );
  const s = history.get(runId);
  const times = (s?.t ?? []) as number[];
  return (
    <div className="plots" data-testid="plots">
      <Chart title="Rate" testId="chart-rate" times={times} lines={[
        { label: "objects/s", color: "#3b82f6", values: s?.rateCount ?? [], format: (v) => num(v, 1) },
        { label: "bytes/s", color: "#f59e0b", scale: "b", values: s?.rateSize ?? [], format: (v) => bytes(v) },
      ]} />
      <Chart title="CPU and memory" testId="chart-resources" times={times} lines={[
        { label: "CPU %", color: "#10b981", values: s?.cpu ?? [], format: (v) => pct(v) },
        { label: "memory MB", color: "#8b5cf6", scale: "mb", values: s?.mem ?? [], format: (v) => mb(v) },
        { label: "GPU MB", color: "#ec4899", scale: "mb", values: s?.gpuMem ?? [], format: (v) => mb(v) },
      ]} />
      <Chart title="Tokens" testId="chart-tokens" times={times} lines={[
        { label: "tokens", color: "#ef4444", values: s?.tokens ?? [], format: (v) => num(v, 1) },
      ]} />
    </div>
  );
}

function Issues({ run }: { run: TaskRun }) {
  if (!run.errors.length && !run.warnings.length && !run.message) return null;
  return (
    <>
      <h3>Errors and warnings</h3>
      {run.message ? <p className="hint">Latest message: {run.message}</p> : null}
      <ul className="issues">
        {run.errors.map((e, i) => <li key={`e${i}`} className="err">{e}</li>)}
        {run.warnings.map((w, i) => <li key={`w${i}`} className="warn">{w}</li>)}
      </ul>
      {run.errorsDropped || run.warningsDropped ? (
        <p className="hint">{run.errorsDropped} older error(s) and {run.warningsDropped} warning(s) dropped.</p>
      ) : null}
    </>
  );
}
