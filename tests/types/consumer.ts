// A strict TypeScript consumer of "runwatch", type-checked only (never run) by
// tests/types/types.test.mjs. It narrows the generated unions the way an app would, so a
// typing regression (an `any`, a lost discriminant, a renamed field) fails `tsc`.
import init, { initSync, RocketRideClient, Subscription } from "runwatch";
import type {
  Delivered, Diagnostic, StateChange, TaskStatus, TaskState, ConnState, ExecuteResult, ClientStats, DashboardSnapshot,
  RunwatchError, RunwatchRequestError,
} from "runwatch";

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
        void (ev.pipes satisfies string[]);
        // The trace is typed by op.
        if (ev.op === "enter" || ev.op === "leave") {
          void (ev.trace.lane satisfies string | undefined);
          const result: string | undefined = ev.trace.result;
          void result;
        } else {
          void (ev.trace satisfies Record<string, unknown>);
        }
        void (ev.component satisfies string | undefined);
        break;
      case "sse":
        void (ev.kind satisfies string), ev.pipeId satisfies number;
        break;
      case "output": {
        void (ev.output satisfies string);
        // Newer servers' stamps, and fields no SDK version declares.
        const logSeq: number | undefined = ev.logSeq;
        const extra: Record<string, unknown> | undefined = ev.extra;
        void logSeq, extra?.["someNewField"];
        break;
      }
      case "statusObject":
      case "statusCounts":
      case "statusError":
      case "statusWarning":
      case "statusMessage":
      case "statusDownload":
      case "statusMetrics":
      case "statusInfo":
        void (ev.taskId satisfies string);
        break;
      case "statusUser":
        for (const note of ev.notes) void (typeof note === "string" ? note : note["token"]);
        break;
      case "dashboard":
        if (ev.action === "task_removed") void (ev.taskId satisfies string);
        // Absent, never null.
        if (ev.action === "task_error") void (ev.exitMessage satisfies string | undefined);
        break;
      case "account":
        void (ev.body satisfies unknown);
        break;
      case "unknown":
        void (ev.raw satisfies string), ev.event satisfies string;
        break;
      default: {
        // Exhaustive: a new event type in the union is a compile error here.
        const unhandled: never = ev;
        void unhandled;
      }
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
  void (status.state satisfies TaskState);
  const run: ExecuteResult = await client.execute({ pipeline: { components: [{ id: "chat_1", provider: "chat" }] }, pipelineTraceLevel: "summary" });
  void (run.token satisfies string);
  // @ts-expect-error: pipelineTraceLevel is a union, not any string.
  void client.execute({ pipeline: { components: [] }, pipelineTraceLevel: "verbose" });
  // `env` is a plain object: the arguments travel as JSON, where a Map would arrive as `{}`.
  void client.execute({ pipeline: { components: [] }, env: { ROCKETRIDE_REGION: "eu" } });
  // @ts-expect-error: a Map is not accepted.
  void client.execute({ pipeline: { components: [] }, env: new Map([["ROCKETRIDE_REGION", "eu"]]) });
  const snapshot: DashboardSnapshot = await client.dashboard();
  for (const t of snapshot.tasks ?? []) void (t.state satisfies TaskState | undefined), t.metrics?.cpuPercent;
  for (const c of snapshot.connections ?? []) void (c.clientInfo?.name satisfies string | undefined), c.attachedTasks satisfies string[] | undefined;
  try {
    await client.ping();
  } catch (e) {
    const err = e as RunwatchRequestError;
    if (err.code === "timeout") void (err.timeoutMs satisfies number);
    if (err.code === "server") void (err.trace?.lineno satisfies number | undefined);
  }
  try {
    client.subscribe({ token: "*" }, ["TASK"], onEvents);
  } catch (e) {
    void ((e as RunwatchError).code satisfies "invalidOptions" | "invalidUrl" | "invalidAuth" | "invalidScope" | "invalidTypes"
      | "invalidListener" | "invalidMessage" | "turnInProgress" | "notConnected" | "unavailable"); // the last four are fleet-rlm's
  }
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
