// A strict consumer of the task store's typings (checked with consumer.ts by types.test.mjs):
// the README's useSyncExternalStore shape, with React's signature declared here (the
// package has no React dependency).
import init, { RocketRideClient, type TaskRun, type TaskSnapshot, type TaskStore, type EndCause, type RunPhase } from "runwatch";

declare function useSyncExternalStore<T>(subscribe: (onStoreChange: () => void) => () => void, getSnapshot: () => T): T;

const EMPTY: TaskSnapshot = { version: 0, runs: [] };
const idle = { subscribe: () => () => {}, getSnapshot: () => EMPTY };

export async function open(url: string): Promise<TaskStore> {
  await init();
  const client = new RocketRideClient({ url, auth: () => "key" });
  const all = client.tasks();
  all.close();
  return client.tasks({ projectId: "p", source: "*" }, { types: ["TASK", "SUMMARY"], maxRuns: 50, maxOutputLines: 20 });
}

export function useRuns(store: TaskStore | undefined): TaskSnapshot {
  const source = store ?? idle;
  return useSyncExternalStore(source.subscribe, source.getSnapshot);
}

export function describe(run: TaskRun): string {
  const phase: RunPhase = run.phase;
  const cause: EndCause | undefined = run.lifecycle.endedBy;
  const start: number | undefined = run.startTime;
  const done: number | undefined = run.status?.completedCount;
  const pipes = run.flow.map((p) => `${p.pipeId}:${p.stack.join(">")}:${p.lastOp}`).join(" ");
  const last: string | undefined = run.output.at(-1);
  const sse: string | undefined = run.lastSse?.kind;
  return `${run.runId} ${run.taskId}@${start ?? "?"} ${phase} ${cause ?? ""} ${done ?? 0} ${pipes} ${last ?? ""} ${sse ?? ""} ${run.errors.length}`;
}

export function watch(store: TaskStore): () => void {
  const off = store.subscribe(() => {
    const snap: TaskSnapshot = store.getSnapshot();
    snap.runs.forEach(describe);
  });
  const stats = store.stats();
  const n: number = stats.runsEvicted + stats.duplicates;
  void n;
  return off;
}
