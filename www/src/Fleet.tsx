// The fleet-rlm tab: one session of a fleet-rlm server (the built-in simulator's, by
// default) through runwatch/fleet-rlm and runwatch/react/fleet-rlm. Loaded on demand (App
// imports it lazily), so the RocketRide dashboard never downloads the fleet-rlm module
// until this tab is opened; it then stays mounted (hidden) so the session survives tab
// switches.
import { useMemo } from "react";
import { FleetProvider, useFleet, useFleetClient, useFleetConnection } from "runwatch/react/fleet-rlm";
import type { ServerConfig } from "./settings";
import { Composer } from "./fleet/Composer";
import { Runtime } from "./fleet/Runtime";
import { fleetOptions, fleetServer, simToken } from "./fleet/session";
import { Sockets } from "./fleet/Sockets";
import { TurnList } from "./fleet/Turns";
import { errorText } from "./fleet/useCall";

function SessionHead({ url, builtIn }: { url: string; builtIn: boolean }) {
  const session = useFleetConnection(useFleet(), (c) => c.sessionId);
  return (
    <section className="panel fleet-head" aria-labelledby="fleet-h">
      <div className="panel-head">
        <h2 id="fleet-h">fleet-rlm session</h2>
        <Sockets />
      </div>
      <p className="hint ids">
        <span>server <code>{url}</code>{builtIn ? " (the built-in simulator, dev token)" : ""}</span>
        <span>session <code data-testid="fleet-session">{session || "—"}</code></span>
      </p>
    </section>
  );
}

export default function FleetPage({ config, hidden }: { config: ServerConfig; hidden: boolean }) {
  const server = useMemo(() => fleetServer(config), [config]);
  const options = useMemo(() => fleetOptions(server.url, server.builtIn ? simToken() : null), [server]);
  const { client, error } = useFleetClient(options);
  return (
    <FleetProvider client={client}>
      <div className="fleet" hidden={hidden} data-testid="fleet">
        <SessionHead url={server.url} builtIn={server.builtIn} />
        {error ? <p className="banner error" role="alert">Cannot start the fleet-rlm client: {errorText(error)}</p> : null}
        <div className="fleet-layout">
          <div className="fleet-main">
            <Composer />
            <section className="panel" aria-labelledby="fleet-turns-h">
              <h2 id="fleet-turns-h">Turns</h2>
              <TurnList />
            </section>
          </div>
          <aside className="fleet-side" aria-label="Runtime">
            <Runtime />
          </aside>
        </div>
      </div>
    </FleetProvider>
  );
}
