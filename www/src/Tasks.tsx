import { memo, useMemo, useRef, useState } from "react";
import type { RocketRideClient, TaskRun } from "runwatch";
import { useTasks } from "runwatch/react";
import { bytes, clock, num } from "./format";
import { displayName, ordered, outcome, OUTCOME_LABEL, runNumbers } from "./runs";
import { STORE } from "./store";
import { Progress } from "./Progress";
import { TaskView } from "./TaskView";

export function TasksPage({ client, runId }: { client: RocketRideClient | null; runId?: number | undefined }) {
  const runs = useTasks(client, (s) => s.runs, STORE);
  const [showEnded, setShowEnded] = useState(true);
  const [allEnded, setAllEnded] = useState(false);
  const numbers = useMemo(() => runNumbers(runs), [runs]);
  const sorted = useMemo(() => ordered(runs), [runs]);
  const live = runs.filter((r) => !r.lifecycle.ended).length;
  const ended = sorted.length - live;
  const list = useMemo(() => sorted.filter((r, i) => !r.lifecycle.ended || (showEnded && (allEnded || i < live + ENDED_SHOWN))), [sorted, showEnded, allEnded, live]);
  // Without a run in the URL, show a running one, and keep showing it while it is held
  // (new runs starting elsewhere do not swap the view under the reader).
  const auto = useRef<number | undefined>(undefined);
  const held = auto.current !== undefined && runs.some((r) => r.runId === auto.current);
  const selected = runId ?? (held ? auto.current
    : (list.find((r) => r.phase === "running") ?? list.find((r) => !r.lifecycle.ended) ?? list[0])?.runId);
  auto.current = selected;
  return (
    <div className={`tasks-layout${runId !== undefined ? " has-selection" : ""}`}>
      <section className="panel task-list" aria-labelledby="tasks-h">
        <div className="panel-head">
          <h2 id="tasks-h">Tasks <span className="count">{live} live · {runs.length} runs</span></h2>
          <label className="inline">
            <input type="checkbox" checked={showEnded} onChange={(e) => setShowEnded(e.target.checked)} /> ended runs
          </label>
        </div>
        {list.length === 0 ? (
          <p className="empty" role="status">{client ? "Waiting for tasks…" : "Connecting…"}</p>
        ) : (
          <ul className="runs" data-testid="runs">
            {list.map((r) => (
              <RunRow key={r.runId} run={r} number={numbers.get(r.runId) ?? 1} selected={r.runId === selected} />
            ))}
          </ul>
        )}
        {showEnded && ended > ENDED_SHOWN ? (
          <button type="button" className="secondary more" onClick={() => setAllEnded(!allEnded)}>
            {allEnded ? `Show the latest ${ENDED_SHOWN} ended runs` : `Show all ${ended} ended runs`}
          </button>
        ) : null}
      </section>
      {selected !== undefined ? <TaskView client={client} runId={selected} number={numbers.get(selected) ?? 1} /> : null}
    </div>
  );
}

const ENDED_SHOWN = 8;

const RunRow = memo(function RunRow({ run, number, selected }: { run: TaskRun; number: number; selected: boolean }) {
  const s = run.status;
  const o = outcome(run);
  return (
    <li className={`run ${selected ? "selected" : ""}`} data-testid="run" data-run-id={run.runId} data-task-id={run.taskId} data-outcome={o} data-done={s?.completedCount ?? 0}>
      <a href={`#/tasks/${run.runId}`} aria-current={selected ? "true" : undefined}>
        <span className="run-name">
          <strong data-testid="run-name">{displayName(run)}</strong>
          <span className="muted"> · run {number} · {run.startTime ? `started ${clock(run.startTime)}` : "pending"}</span>
        </span>
        <span className={`badge o-${o}`}>{OUTCOME_LABEL[o]}{o === "exited" ? ` ${s?.exitCode}` : ""}{s?.status && !run.lifecycle.ended && s.status.toLowerCase() !== OUTCOME_LABEL[o] ? ` · ${s.status}` : ""}</span>
        <span className="run-progress">
          <Progress value={s?.completedCount ?? 0} total={s?.totalCount ?? 0} label={`${displayName(run)} run ${number}: objects`} />
          <Progress value={s?.completedSize ?? 0} total={s?.totalSize ?? 0} label={`${displayName(run)} run ${number}: bytes`} format={(v) => bytes(v)} />
        </span>
        <span className="run-rates">
          <span data-testid="rate">{num(s?.rateCount, 1)} obj/s</span>
          <span>{bytes(s?.rateSize)}/s</span>
          <span>CPU {s ? (s.metrics.cpuPercent === null ? "—" : `${num(s.metrics.cpuPercent, 1)} %`) : "—"}</span>
        </span>
        <span className="run-issues">
          <span className={run.errors.length ? "err" : "muted"}>{run.errors.length} error{run.errors.length === 1 ? "" : "s"}</span>
          <span className={run.warnings.length ? "warn" : "muted"}>{run.warnings.length} warning{run.warnings.length === 1 ? "" : "s"}</span>
          {run.stale ? <span className="warn">stale</span> : null}
        </span>
      </a>
    </li>
  );
});
