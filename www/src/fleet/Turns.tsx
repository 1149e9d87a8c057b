// The session's turns, newest first: the message, the answer as it streams, reasoning, tool
// calls and their results, questions, how it ended, its run's step tree, and feedback.
import { memo, useMemo } from "react";
import type { Run, ToolActivity, Turn } from "runwatch/fleet-rlm";
import { useFleet, useFleetRuns, useFleetTurns } from "runwatch/react/fleet-rlm";
import { clockMs, duration, preview } from "../format";
import { Feedback } from "./Feedback";
import { Hitl } from "./Hitl";
import { RunView, StatusBadge } from "./RunView";
import { runsByTurn } from "./session";

const live = (t: Turn) => t.state === "sent" || t.state === "running";

function Tools({ tools, dropped, running }: { tools: ToolActivity[]; dropped: number; running: boolean }) {
  return (
    <ol className="tools" aria-label="Tool calls" data-testid="tools">
      {tools.map((t, i) => (
        <li key={i} data-finished={String(t.finished)}>
          <code className="tool-name">{t.name}</code> <span className="muted">{t.kind}</span>{" "}
          <span className={t.finished ? "" : running ? "warn" : "muted"}>{t.finished ? "finished" : running ? "running…" : "no result"}</span>
          {t.args !== undefined ? <div className="tool-io"><span className="muted">args</span> <code>{preview(t.args)}</code></div> : null}
          {t.output !== undefined ? <div className="tool-io"><span className="muted">result</span> <code>{preview(t.output)}</code></div> : null}
        </li>
      ))}
      {dropped ? <li className="muted">{dropped} earlier tool calls not kept</li> : null}
    </ol>
  );
}

const TurnCard = memo(function TurnCard({ turn, run, latest }: { turn: Turn; run: Run | undefined; latest: boolean }) {
  const running = live(turn);
  return (
    <li className="turn" data-testid="turn" data-turn-id={turn.turnId} data-state={turn.state}>
      <div className="turn-head">
        <h3>Turn {turn.turnId}</h3>
        <StatusBadge status={turn.cancelRequested && running ? "cancelling" : turn.state} />
        {/* The SDK's clock is the page's performance.now(). */}
        <span className="muted">
          sent {clockMs(performance.timeOrigin + turn.startedAt)}
          {turn.endedAt !== undefined ? `, took ${duration(turn.endedAt - turn.startedAt)}` : ""}
        </span>
      </div>
      <p className="message"><span className="muted">You:</span> {turn.content}</p>
      {turn.status && running ? <p className="hint" data-testid="turn-status">{turn.status}</p> : null}
      {turn.reasoning ? (
        <details className="reasoning"><summary>Reasoning</summary><p>{turn.reasoning}</p></details>
      ) : null}
      {turn.tools.length ? <Tools tools={turn.tools} dropped={turn.toolsDropped} running={running} /> : null}
      {turn.hitl.map((h) => <Hitl key={h.messageId} prompt={h} />)}
      <div className="answer" data-testid="answer" aria-live={latest ? "polite" : "off"} aria-busy={running}>
        <span className="muted">Agent:</span> {turn.answer || (running ? "…" : "—")}
      </div>
      {turn.error ? (
        <p className="error" role="alert" data-testid="turn-error">
          {turn.error.code ?? "error"}{turn.error.message ? `: ${turn.error.message}` : ""}
        </p>
      ) : null}
      {run ? <RunView run={run} open={latest} /> : <p className="hint">Execution: {running ? "waiting for the run…" : "—"}</p>}
      {turn.state === "completed" ? <Feedback payload={turn.finalPayload} /> : null}
    </li>
  );
});

export function TurnList() {
  const client = useFleet();
  const turns = useFleetTurns(client);
  const runs = useFleetRuns(client);
  const paired = useMemo(() => runsByTurn(turns, runs), [turns, runs]);
  if (!turns.length) return <p className="empty" role="status">No turns yet: send a message above.</p>;
  const newest = [...turns].reverse();
  return (
    <ol className="turns" aria-label="Turns, newest first">
      {newest.map((t, i) => <TurnCard key={t.turnId} turn={t} run={paired.get(t.turnId)} latest={i === 0} />)}
    </ol>
  );
}
