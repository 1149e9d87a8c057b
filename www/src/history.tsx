// Metrics over time, per run: the store holds only each run's latest TASK_STATUS, so this
// records a point whenever a run's status object changes (bounded per run).
import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";
import type { RocketRideClient, TaskRun } from "runwatch";
import { useTasks } from "runwatch/react";
import { STORE } from "./store";

export const SERIES = ["t", "rateCount", "rateSize", "cpu", "mem", "gpuMem", "tokens", "completed"] as const;
export type SeriesName = (typeof SERIES)[number];
export type Series = Record<SeriesName, (number | null)[]> & { version: number };

const MAX_POINTS = 900;

export class History {
  private byRun = new Map<number, Series>();
  private seen = new Map<number, TaskRun["status"]>();
  private listeners = new Set<() => void>();

  record(runs: readonly TaskRun[]): void {
    let changed = false;
    const live = new Set<number>();
    for (const run of runs) {
      live.add(run.runId);
      const status = run.status;
      if (!status || this.seen.get(run.runId) === status) continue;
      this.seen.set(run.runId, status);
      let s = this.byRun.get(run.runId);
      if (!s) {
        s = { t: [], rateCount: [], rateSize: [], cpu: [], mem: [], gpuMem: [], tokens: [], completed: [], version: 0 };
        this.byRun.set(run.runId, s);
      }
      const m = status.metrics;
      s.t.push(run.updatedAt / 1000);
      s.rateCount.push(status.rateCount);
      s.rateSize.push(status.rateSize);
      s.cpu.push(m.cpuPercent);
      s.mem.push(m.cpuMemoryMb);
      s.gpuMem.push(m.gpuMemoryMb);
      s.tokens.push(status.tokens.total);
      s.completed.push(status.completedCount);
      if (s.t.length > MAX_POINTS) for (const k of SERIES) s[k].splice(0, s.t.length - MAX_POINTS);
      s.version++;
      changed = true;
    }
    for (const id of [...this.byRun.keys()]) if (!live.has(id)) { this.byRun.delete(id); this.seen.delete(id); }
    if (changed) for (const l of this.listeners) l();
  }

  get(runId: number): Series | undefined {
    return this.byRun.get(runId);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const HistoryContext = createContext<History | null>(null);

export function HistoryProvider({ client, children }: { client: RocketRideClient | null; children: ReactNode }) {
  const history = useRef<History | null>(null);
  if (!history.current) history.current = new History();
  const runs = useTasks(client, null, STORE);
  useEffect(() => { history.current!.record(runs); }, [runs]);
  return <HistoryContext.Provider value={history.current}>{children}</HistoryContext.Provider>;
}

export function useHistory(): History {
  const h = useContext(HistoryContext);
  if (!h) throw new Error("useHistory outside HistoryProvider");
  return h;
}
