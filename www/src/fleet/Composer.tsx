// The message box: send a message (one turn at a time), cancel the running one, and the
// simulator's scripted markers a new user can try.
import { useState, type FormEvent, type KeyboardEvent } from "react";
import { useFleet, useFleetConnection, useFleetTurns } from "runwatch/react/fleet-rlm";
import { errorText } from "./useCall";

/** The simulator's scripted turns (README "fleet-rlm" of the simulator). */
const MARKERS: ReadonlyArray<{ tag: string; does: string }> = [
  { tag: "#long", does: "a long answer, streamed token by token" },
  { tag: "#error", does: "the agent fails mid-turn (llm_timeout; #code=llm_rate_limited for another)" },
  { tag: "#hitl_wait", does: "the agent asks you a question and waits for the answer" },
  { tag: "#hitl", does: "the agent asks a question but finishes without waiting (as fleet-rlm 0.5.0 does)" },
  { tag: "#cancel", does: "the turn cancels itself a third of the way in (or press Cancel)" },
];

const withMarker = (text: string, tag: string) => (text.includes(tag) ? text : `${text.trim()} ${tag}`.trim());

export function Composer() {
  const client = useFleet();
  const chat = useFleetConnection(client, (c) => c.chat?.state);
  const running = useFleetTurns(client, (s) => {
    const last = s.turns.at(-1);
    return last !== undefined && (last.state === "sent" || last.state === "running");
  });
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const live = chat === "live" && client !== null;

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    if (!client || !text.trim()) return;
    try {
      client.send(text);
      setText("");
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) send(e);
  };
  return (
    <section className="panel composer" aria-labelledby="fleet-compose-h">
      <h2 id="fleet-compose-h">Chat</h2>
      <form className="form" onSubmit={send}>
        <label htmlFor="fleet-message">Message</label>
        <textarea id="fleet-message" rows={2} value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKey}
          placeholder="list the workspace files" spellCheck={false} />
        <div className="buttons">
          <button type="submit" disabled={!live || running || !text.trim()}>Send</button>
          <button type="button" className="secondary" disabled={!running} onClick={() => client?.cancel()}>Cancel</button>
          {!live ? <span className="hint" role="status">waiting for the chat socket…</span> : running ? <span className="hint">one turn at a time: this one is running</span> : null}
        </div>
        {error ? <p className="error" role="alert" data-testid="send-error">{error}</p> : null}
      </form>
      <details className="markers" open>
        <summary>Try the simulator's scripted turns</summary>
        <p className="hint">Add a marker to any message (Enter sends, Shift+Enter adds a line):</p>
        <ul>
          {MARKERS.map((m) => (
            <li key={m.tag}>
              <button type="button" className="chip" aria-label={`Add ${m.tag} to the message`} onClick={() => setText((t) => withMarker(t, m.tag))}>{m.tag}</button>
              <span>{m.does}</span>
            </li>
          ))}
        </ul>
      </details>
    </section>
  );
}
