import { useState } from "react";
import { clockMs } from "./format";
import { useEventLog } from "./eventlog";

export function EventsPage() {
  const items = useEventLog();
  const [filter, setFilter] = useState<"all" | "dashboard" | "sdk">("all");
  const shown = filter === "all" ? items : items.filter((i) => i.source === filter);
  return (
    <section className="panel" aria-labelledby="events-h">
      <div className="panel-head">
        <h2 id="events-h">Events</h2>
        <label className="inline">
          Show{" "}
          <select value={filter} onChange={(e) => setFilter(e.target.value as typeof filter)}>
            <option value="all">everything</option>
            <option value="dashboard">dashboard events</option>
            <option value="sdk">SDK diagnostics</option>
          </select>
        </label>
      </div>
      <p className="hint">Server-wide dashboard events (connections, monitor changes, task errors and removals) and the SDK's diagnostics, newest first.</p>
      {shown.length === 0 ? <p className="empty">Nothing yet.</p> : (
        <ol className="log" data-testid="event-log">
          {shown.map((i) => (
            <li key={i.id} className={`sev-${i.severity}`}>
              <time>{clockMs(i.at)}</time>
              <span className={`tag tag-${i.source}`}>{i.source === "sdk" ? "SDK" : "server"}</span>
              <strong>{i.kind}</strong>
              <span className="summary">{i.summary}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
