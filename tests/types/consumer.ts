// A strict TypeScript consumer of "runwatch", type-checked only (never run) by
// tests/types/types.test.mjs. It narrows the generated unions the way an app would, so a
// typing regression (an `any`, a lost discriminant, a renamed field) fails `tsc`.
import init, { initSync, RocketRideClient, Subscription } from "runwatch";
import type { Delivered, Diagnostic, StateChange, TaskStatus, ConnState, ExecuteResult, ClientStats } from "runwatch";

const ready: Promise<unknown> = init();
void init({ module_or_path: new URL("runwatch_bg.wasm", import.meta.url) });
void initSync;

function onEvents(events: Delivered[]): void {
  for (const ev of events) {
    const epoch: number = ev.epoch;
    const seq: number | undefined = ev.seq;
    void epoch, seq;
    switch (ev.type) {
      case "task":
        if (ev.action === "running") {
          for (const t of ev.tasks) void (t.projectId satisfies string);
        } else {
          const id: string = ev.taskId;
          void id;
        }
        break;
      case "taskStatus": {
        const s: TaskStatus = ev.status;
        const done: number = s.completedCount;
        // A metric the engine sent as NaN arrives as null.
        const cpu: number | null = s.metrics.cpuPercent;
        // @ts-expect-error: nullable metrics must be narrowed before use as a number.
        const strict: number = s.metrics.cpuPercent;
        void strict;
        const pipes: string[] | undefined = s.pipeflow.byPipe["0"];
        void done, cpu, pipes;
        break;
      }
      case "flow":
        void (ev.op satisfies "begin" | "enter" | "leave" | "end");
        void (ev.pipes satisfies string[]);
        break;
      case "sse":
        void (ev.kind satisfies string), ev.pipeId satisfies number;
        break;
      case "output":
        void (ev.output satisfies string);
        break;
      case "dashboard":
        if (ev.action === "task_removed") void (ev.taskId satisfies string);
        break;
      case "unknown":
        void (ev.raw satisfies string), ev.event satisfies string;
        break;
      default:
        break;
    }
  }
}

function onDiagnostic(d: Diagnostic): void {
  switch (d.kind) {
    case "gap":
      void (d.missing satisfies number);
      break;
    case "resync":
      void (d.offlineMs satisfies number), d.resubscribed satisfies string[];
      break;
    case "decodeError":
      void (d.error.reason satisfies string);
      break;
    default:
      break;
  }
}

export async function main(): Promise<void> {
  await ready;
  const client = new RocketRideClient({
    url: "ws://127.0.0.1:5565",
    auth: async () => "sim-key",
    batch: "frame",
    reconnect: { minDelayMs: 100, maxAttempts: 10 },
  });
  const sub: Subscription = client.subscribe({ projectId: "p", source: "*" }, ["SUMMARY", "TASK"], onEvents);
  client.subscribe({ token: "*" }, 4 | 32, onEvents);
  const offState: () => void = client.onState((s: StateChange) => {
    const now: ConnState = s.newState;
    if (now === "authFailed") console.log(s.message);
  });
  const offDiag: () => void = client.onDiagnostic(onDiagnostic);

  const status: TaskStatus = await client.getTaskStatus("tk_0");
  void (status.state satisfies TaskStatus["state"]);
  const run: ExecuteResult = await client.execute({ pipeline: {}, pipelineTraceLevel: "summary" });
  void (run.token satisfies string);
  const reply: unknown = await client.request("rrext_dashboard", {});
  void reply;
  const state: ConnState = client.state;
  const stats: ClientStats = client.stats();
  void state, stats.gaps satisfies number;

  sub.unsubscribe();
  offState();
  offDiag();
  client.close();
  client.free();
}
