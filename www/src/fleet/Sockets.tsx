// Both fleet-rlm sockets' state, as badges, with reconnects and the last resync / stall.
import { useFleet, useFleetConnection, type FleetSocketInfo } from "runwatch/react/fleet-rlm";
import { duration } from "../format";
import { STATE_LABEL } from "../Health";

const SOCKET_LABEL = { chat: "chat socket", events: "events socket" } as const;

function why(info: FleetSocketInfo): string | null {
  if (info.state === "authFailed") return info.serverError?.message ?? info.serverError?.code ?? "refused";
  if (info.state !== "backoff" || !info.reason) return null;
  return info.reason.kind === "closed" ? `closed ${info.reason.code}` : info.reason.kind;
}

function SocketBadge({ socket, info }: { socket: "chat" | "events"; info: FleetSocketInfo | undefined }) {
  const state = info?.state ?? "closed";
  const reason = info ? why(info) : null;
  return (
    <div className={`conn-badge state-${state}`} role="status" data-testid={`fleet-${socket}-state`} data-state={state}>
      <span className="dot" aria-hidden="true" />
      {SOCKET_LABEL[socket]}: {info ? STATE_LABEL[state] ?? state : "starting"}
      {reason ? <span className="why"> ({reason})</span> : null}
      {info && info.reconnects > 0 ? <span className="why"> · {info.reconnects} reconnects</span> : null}
    </div>
  );
}

export function Sockets() {
  const conn = useFleetConnection(useFleet());
  const stalled = conn.lastStalled?.diagnostic;
  const resync = conn.lastResync?.diagnostic;
  return (
    <div className="fleet-sockets">
      <SocketBadge socket="chat" info={conn.chat} />
      <SocketBadge socket="events" info={conn.events} />
      {stalled ? <span className="warn" data-testid="fleet-stalled">events socket silent for {duration(stalled.silentMs)} during a turn</span> : null}
      {resync ? <span className="muted">events socket resynced after {duration(resync.offlineMs)} offline (steps of that time may be missing)</span> : null}
    </div>
  );
}
