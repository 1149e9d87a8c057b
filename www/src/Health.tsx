import { useEffect, useState } from "react";
import type { RocketRideClient } from "runwatch";
import { useClientStats, useConnection } from "runwatch/react";
import { ago, duration, num } from "./format";

/** Pings the engine every few seconds while live; the round trip is the lag shown. */
function usePingLag(client: RocketRideClient | null, live: boolean): number | null {
  const [lag, setLag] = useState<number | null>(null);
  useEffect(() => {
    if (!client || !live) { setLag(null); return undefined; }
    let stopped = false;
    const run = async () => {
      const t0 = performance.now();
      try {
        await client.ping();
        if (!stopped) setLag(performance.now() - t0);
      } catch {
        if (!stopped) setLag(null);
      }
    };
    run();
    const timer = setInterval(run, 5000);
    return () => { stopped = true; clearInterval(timer); };
  }, [client, live]);
  return lag;
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export const STATE_LABEL: Record<string, string> = {
  connecting: "connecting",
  authenticating: "authenticating",
  subscribing: "subscribing",
  live: "live",
  backoff: "reconnecting",
  closed: "closed",
  authFailed: "auth failed",
};

export function Health({ client }: { client: RocketRideClient | null }) {
  const conn = useConnection(client);
  const stats = useClientStats(client, 1000);
  const live = conn.state === "live";
  const lag = usePingLag(client, live);
  const now = useNow();
  const resync = conn.lastResync;
  const gap = conn.lastGap;
  const reason = conn.reason
    ? conn.reason.kind === "closed" ? `closed ${conn.reason.code}` : conn.reason.kind
    : null;
  return (
    <section className="health" aria-label="Connection health">
      <div className={`state state-${conn.state}`} role="status" aria-live="polite" data-testid="conn-state" data-state={conn.state}>
        <span className="dot" aria-hidden="true" />
        {client ? STATE_LABEL[conn.state] ?? conn.state : "starting"}
        {conn.state === "backoff" && reason ? <span className="why"> ({reason})</span> : null}
        {conn.state === "authFailed" && conn.message ? <span className="why"> ({conn.message})</span> : null}
      </div>
      <dl className="kv">
        <div><dt>epoch</dt><dd data-testid="epoch">{conn.epoch}</dd></div>
        <div><dt>reconnects</dt><dd data-testid="reconnects">{conn.reconnects}</dd></div>
        <div><dt>events/s</dt><dd>{num(stats?.eventsPerSecond, 1)}</dd></div>
        <div><dt title="round trip of rrext_ping, every 5 s">lag</dt><dd>{lag === null ? "—" : `${Math.round(lag)} ms`}</dd></div>
        <div>
          <dt>last resync</dt>
          <dd data-testid="last-resync" title={resync ? JSON.stringify(resync.diagnostic) : undefined}>
            {resync ? `${ago(resync.at, now)}, offline ${duration(resync.diagnostic.offlineMs)}` : "—"}
          </dd>
        </div>
        <div>
          <dt>gaps</dt>
          <dd data-testid="gaps" title={gap ? JSON.stringify(gap.diagnostic) : undefined}>
            {conn.gaps === 0 ? "none" : `${conn.gaps} (${conn.missing} frames), last ${ago(gap?.at, now)}`}
          </dd>
        </div>
      </dl>
    </section>
  );
}
