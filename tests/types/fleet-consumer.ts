// A strict consumer of the fleet-rlm typings (checked with the other consumers by
// types.test.mjs): options, the stores in React's useSyncExternalStore shape, the frames
// narrowed by `type` and `kind`, state changes and diagnostics tagged by socket, commands,
// HITL, and the HTTP probes with their typed errors.
import init, {
  FleetRlmClient,
  type ConnectivityTest,
  type FeedbackResponse,
  type FleetChatDelivered,
  type FleetClientOptions,
  type FleetDiagnostic,
  type FleetExecutionDelivered,
  type FleetHttpError,
  type FleetStateChange,
  type FleetStore,
  type Health,
  type HitlResolution,
  type Identity,
  type Ready,
  type Run,
  type RunsSnapshot,
  type RunwatchError,
  type RunwatchHttpError,
  type RunwatchRequestError,
  type RuntimeStatus,
  type StepNode,
  type Turn,
  type TurnsSnapshot,
  type UsageErrorCode,
} from "runwatch/fleet-rlm";

declare function useSyncExternalStore<T>(subscribe: (onStoreChange: () => void) => () => void, getSnapshot: () => T): T;
declare function getToken(): Promise<string>;

const options: FleetClientOptions = {
  url: "https://fleet.example",
  sessionId: "sess-b",
  auth: () => getToken(),
  reconnect: { minDelayMs: 500, maxAttempts: 10 },
  batch: "frame",
  commandTimeoutMs: 60_000,
  stallAfterMs: 10_000,
  maxRuns: 20,
};
const dev: FleetClientOptions = { url: "http://localhost:8000", debugIdentity: { tenantId: "t", userId: "u" }, chat: false };

export async function open(): Promise<FleetRlmClient> {
  await init();
  const watcher = new FleetRlmClient(dev);
  watcher.close();
  return new FleetRlmClient(options);
}

const EMPTY_TURNS: TurnsSnapshot = { version: 0, turns: [] };
const idle: FleetStore<TurnsSnapshot> = { subscribe: () => () => {}, getSnapshot: () => EMPTY_TURNS };

export function useTurns(client: FleetRlmClient | undefined): TurnsSnapshot {
  const store = client?.turns ?? idle;
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

export function useRuns(client: FleetRlmClient): RunsSnapshot | undefined {
  const store = client.runs;
  return store && useSyncExternalStore(store.subscribe, store.getSnapshot);
}

export function describeTurn(turn: Turn): string {
  const tools = turn.tools.map((t) => `${t.name}${t.finished ? "✓" : "…"}`).join(" ");
  const trace: string | undefined = turn.finalPayload?.mlflowTraceId;
  const asked = turn.hitl.map((h) => `${h.messageId}:${h.options.join("/")}=${h.resolution ?? "?"}`);
  const error: string | undefined = turn.error?.code;
  switch (turn.state) {
    case "sent":
    case "running":
      return `${turn.turnId} … ${turn.answer} ${tools}`;
    case "completed":
      return `${turn.turnId} ${turn.answer} ${trace ?? ""} ${asked.join(",")}`;
    case "error":
      return `${turn.turnId} failed: ${error ?? turn.status ?? ""}`;
    case "cancelled":
    case "interrupted":
      return `${turn.turnId} ${turn.state}`;
  }
}

export function describeRun(run: Run): string[] {
  const lines: string[] = [];
  const visit = (node: StepNode, depth: number): void => {
    lines.push(`${"  ".repeat(depth)}${node.index ?? "?"} ${node.step.type} ${node.step.label}${node.parentMissing ? " (parent missing)" : ""}`);
    node.children.forEach((child) => visit(child, depth + 1));
  };
  run.tree.forEach((node) => visit(node, 0));
  const status: string = run.status;
  lines.push(`${run.runId} ${status} ${run.possiblyIncomplete ? "possibly incomplete" : ""} missing ${run.missingCount}`);
  return lines;
}

export function wire(client: FleetRlmClient): () => void {
  const offChat = client.onChat((frames: FleetChatDelivered[]) => {
    for (const f of frames) {
      if (f.type === "event") {
        switch (f.kind) {
          case "assistant_token": console.log(f.text, f.epoch); break;
          case "hitl_request": console.log(f.payload?.messageId, f.payload?.options); break;
          case "final": console.log(f.payload?.citations?.length); break;
          default: break;
        }
      } else if (f.type === "error") {
        const code: string | undefined = f.code;
        console.log(code, f.message, f.details?.errorType);
      }
    }
  });
  const offExec = client.onExecution((frames: FleetExecutionDelivered[]) => {
    for (const f of frames) {
      switch (f.type) {
        case "execution_started": console.log(f.runId); break;
        case "execution_step": console.log(f.step.id, f.step.parentId, f.step.type); break;
        case "execution_completed": console.log(f.summary?.status, f.step?.id); break;
        case "error": console.log(f.code); break;
        default: break;
      }
    }
  });
  const offState = client.onState((s: FleetStateChange) => {
    if (s.newState === "authFailed") console.log(s.socket, s.serverError?.code, s.serverError?.message, s.message);
  });
  const offDiag = client.onDiagnostic((d: FleetDiagnostic) => {
    if (d.kind === "resync") console.log(d.socket, d.unreplayable.map((u) => u.message));
    if (d.kind === "stalled") console.log(d.socket, d.silentMs, d.message);
  });
  return () => { offChat(); offExec(); offState(); offDiag(); };
}

export async function chat(client: FleetRlmClient): Promise<void> {
  try {
    const turnId: number = client.send("list the workspace files");
    client.send({ content: "with options", trace: false, executionMode: "rlm_only" });
    console.log(turnId, client.cancel(), client.sessionId, client.chatState, client.eventsState);
  } catch (e) {
    const code: UsageErrorCode = (e as RunwatchError).code;
    if (code === "turnInProgress" || code === "notConnected" || code === "invalidMessage") console.log(code);
  }
  try {
    const files: unknown = await client.command("list_files", { path: "." }, 30_000);
    const answer: HitlResolution = await client.resolveHitl("msg-1", "main");
    console.log(files, answer.status, answer.resolution);
  } catch (e) {
    const err = e as RunwatchRequestError;
    if (err.code === "timeout") console.log(err.timeoutMs);
  }
  const stats = client.stats();
  console.log(stats.chat?.framesReceived, stats.events?.reconnects, stats.runs?.duplicates);
}

export async function probes(client: FleetRlmClient): Promise<void> {
  const health: Health = await client.health();
  const ready: Ready = await client.ready();
  const status: RuntimeStatus = await client.runtimeStatus();
  const lm: ConnectivityTest = await client.testLm();
  const daytona: ConnectivityTest = await client.testDaytona();
  const me: Identity = await client.me();
  console.log(health.version, ready.ready, status.llm.modelSet, status.tests.lm?.ok, lm.ok, daytona.checks, me.tenantId);
  try {
    const thumbs: FeedbackResponse = await client.traceFeedback({ traceId: "tr-1", isCorrect: true, comment: "good" });
    console.log(thumbs.feedbackLogged);
  } catch (e) {
    const err = e as RunwatchHttpError;
    const kind: FleetHttpError["kind"] = err.kind;
    switch (err.kind) {
      case "unauthorized": console.log(err.status, kind); break;
      case "validation": console.log(err.detail); break;
      case "timeout": console.log(err.timeoutMs); break;
      case "decode": console.log(err.error.reason); break;
      default: console.log(err.message);
    }
  }
}
