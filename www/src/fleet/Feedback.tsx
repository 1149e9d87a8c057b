// Thumbs up / down for a finished turn: `traceFeedback` with the trace ids of its `final`
// payload, and what the server said.
import type { FinalPayload } from "runwatch/fleet-rlm";
import { useFleet } from "runwatch/react/fleet-rlm";
import { useCall } from "./useCall";

/** A thumb icon (not an emoji: those need a font the page cannot count on). */
function Thumb({ down = false }: { down?: boolean }) {
  return (
    <svg className="thumb-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" style={down ? { transform: "rotate(180deg)" } : undefined}>
      <path fill="currentColor" d="M2 21h4V9H2v12zm20-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L13.17 1 6.59 7.59C6.22 7.95 6 8.45 6 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z" />
    </svg>
  );
}

export function Feedback({ payload }: { payload: FinalPayload | undefined }) {
  const client = useFleet();
  const traceId = payload?.mlflowTraceId;
  const clientRequestId = payload?.mlflowClientRequestId;
  const [sent, send] = useCall((isCorrect: boolean) => {
    if (!client) return Promise.reject(new Error("no client"));
    return client.traceFeedback({ ...(traceId ? { traceId } : {}), ...(clientRequestId ? { clientRequestId } : {}), isCorrect })
      .then((r) => ({ ...r, isCorrect }));
  });
  if (!traceId && !clientRequestId) return <p className="hint">Feedback: — (the answer carries no trace id)</p>;
  return (
    <div className="feedback" role="group" aria-label="Was this answer right?">
      <span className="hint">Was this right?</span>
      <button type="button" className="secondary thumb" aria-label="Thumbs up: the answer was right" disabled={sent.status === "pending"} onClick={() => send(true)}>
        <Thumb /> right
      </button>
      <button type="button" className="secondary thumb" aria-label="Thumbs down: the answer was wrong" disabled={sent.status === "pending"} onClick={() => send(false)}>
        <Thumb down /> wrong
      </button>
      <span data-testid="feedback-result" data-status={sent.status} role="status">
        {sent.status === "done" ? `thumbs ${sent.value.isCorrect ? "up" : "down"} recorded${sent.value.feedbackLogged ? "" : " (not logged)"} for trace ${sent.value.traceId ?? sent.value.clientRequestId ?? "—"}`
          : sent.status === "failed" ? <span className="error">not recorded: {sent.error}</span>
          : sent.status === "pending" ? "sending…" : null}
      </span>
    </div>
  );
}
