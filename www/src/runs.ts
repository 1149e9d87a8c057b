import type { TaskRun } from "runwatch";

/** "run 2": the run's number among the runs of the same task (oldest first) the store holds. */
export function runNumbers(runs: readonly TaskRun[]): Map<number, number> {
  const count = new Map<string, number>();
  const numbers = new Map<number, number>();
  for (const r of runs) {
    const n = (count.get(r.taskId) ?? 0) + 1;
    count.set(r.taskId, n);
    numbers.set(r.runId, n);
  }
  return numbers;
}

export function displayName(run: TaskRun): string {
  const name = run.name ?? run.status?.name;
  if (!name) return run.taskId;
  // "<execute name>.<component>": the execute name is what people gave the run.
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

export type Outcome = "running" | "starting" | "stopping" | "ok" | "exited" | "failed" | "stale" | "unknown";

export function outcome(run: TaskRun): Outcome {
  if (run.stale && !run.lifecycle.ended) return "stale";
  if (run.lifecycle.ended || run.phase === "ended") {
    // Errors make a failure. A non-zero exit code alone is shown as such, not as a failure:
    // the server snapshot reports clean natural exits as exit code 1 (spec §4.2, "Bug").
    if (run.errors.length > 0) return "failed";
    const s = run.status;
    return s && s.completed && s.exitCode !== 0 ? "exited" : "ok";
  }
  if (run.phase === "running") return "running";
  if (run.phase === "starting" || run.phase === "restarting") return "starting";
  if (run.phase === "stopping") return "stopping";
  return "unknown";
}

export const OUTCOME_LABEL: Record<Outcome, string> = {
  running: "running",
  starting: "starting",
  stopping: "stopping",
  ok: "completed",
  exited: "exited",
  failed: "failed",
  stale: "stale",
  unknown: "unknown",
};

/** Live runs first (newest start first), then ended ones (latest end first). */
export function ordered(runs: readonly TaskRun[]): TaskRun[] {
  const key = (r: TaskRun) => (r.lifecycle.ended ? r.lifecycle.endedAt ?? r.updatedAt : (r.startTime ?? 0) * 1000);
  return [...runs].sort((a, b) => {
    if (a.lifecycle.ended !== b.lifecycle.ended) return a.lifecycle.ended ? 1 : -1;
    return key(b) - key(a) || b.runId - a.runId;
  });
}
