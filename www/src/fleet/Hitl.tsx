// A question the agent asked (`hitl_request`), answered with one of its options through
// `resolveHitl`; once the server recorded an answer, that answer.
import type { HitlPrompt } from "runwatch/fleet-rlm";
import { useFleet } from "runwatch/react/fleet-rlm";
import { useCall } from "./useCall";

/** What to offer when the agent gave no options (the server needs an action label). */
const FALLBACK_OPTIONS = ["Approve", "Reject"];

export function Hitl({ prompt }: { prompt: HitlPrompt }) {
  const client = useFleet();
  const [answer, send] = useCall((label: string) => client ? client.resolveHitl(prompt.messageId, label) : Promise.reject(new Error("no client")));
  const options = prompt.options.length ? prompt.options : FALLBACK_OPTIONS;
  const resolved = prompt.resolution !== undefined;
  return (
    <div className="hitl" role="group" aria-label="Question from the agent" data-testid="hitl" data-resolved={String(resolved)}>
      <p><strong>The agent asks:</strong> {prompt.text}</p>
      {resolved ? (
        <p data-testid="hitl-resolution">Answered: <strong>{prompt.resolution}</strong></p>
      ) : (
        <div className="buttons">
          {options.map((o) => (
            <button key={o} type="button" className="secondary" disabled={answer.status === "pending"} onClick={() => send(o)}>{o}</button>
          ))}
        </div>
      )}
      {answer.status === "failed" ? <p className="error" role="alert">Answer not accepted: {answer.error}</p> : null}
    </div>
  );
}
