// The fleet-rlm hooks under StrictMode, apart from the dashboard: several components reading
// the same turns, runs and connection, and the README's fleet-rlm example. The test
// (tests/react/fleet-strict.test.mjs) drives it through window.__fleet and checks the
// simulator's fleet sockets.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import type { FleetRlmClient } from "runwatch/fleet-rlm";
import {
  FleetProvider, openResources, useFleet, useFleetClient, useFleetConnection, useFleetRun, useFleetRuns, useFleetTurn,
  useFleetTurns,
} from "runwatch/react/fleet-rlm";
// The README's example, extracted by the test (alias "readme-fleet-example").
import { FleetChat } from "readme-fleet-example";

const params = new URLSearchParams(location.search);
const url = params.get("server") ?? "http://127.0.0.1:5565";
const user = params.get("user") ?? "strict";

declare global {
  interface Window {
    __fleet: {
      client: FleetRlmClient | null;
      resources: () => Array<{ key: string; refs: number }>;
      renders: Record<string, number>;
      showWatchers: (on: boolean) => void;
      showClient: (on: boolean) => void;
      showReadme: (on: boolean) => void;
    };
  }
}
const renders: Record<string, number> = {};
const count = (name: string) => { renders[name] = (renders[name] ?? 0) + 1; };
window.__fleet = {
  client: null, resources: () => openResources(window.__fleet.client), renders,
  showWatchers: () => {}, showClient: () => {}, showReadme: () => {},
};

function TurnCount() {
  count("turnCount");
  const n = useFleetTurns(useFleet(), (s) => s.turns.length);
  return <p className="turn-count">{n}</p>;
}

function LatestAnswer() {
  count("answer");
  const client = useFleet();
  const lastId = useFleetTurns(client, (s) => s.turns.at(-1)?.turnId);
  const turn = useFleetTurn(client, lastId);
  return <p id="answer" data-state={turn?.state ?? ""}>{turn?.answer ?? ""}</p>;
}

function LatestRun() {
  count("run");
  const client = useFleet();
  const key = useFleetRuns(client, (s) => s.runs.at(-1)?.runKey);
  const run = useFleetRun(client, key);
  const byId = useFleetRun(client, run?.runId);
  return <p id="run" data-status={run?.status ?? ""} data-same={String(byId === run)}>{run ? run.steps : ""}</p>;
}

function SocketState({ socket }: { socket: "chat" | "events" }) {
  count(`${socket}State`);
  const state = useFleetConnection(useFleet(), (c) => c[socket]?.state ?? "none");
  return <p className={`${socket}-state`}>{state}</p>;
}

function Watchers() {
  return (
    <>
      <TurnCount /><TurnCount /><LatestAnswer /><LatestRun /><LatestRun />
      <SocketState socket="chat" /><SocketState socket="chat" /><SocketState socket="events" />
    </>
  );
}

function ClientOwner() {
  const { client } = useFleetClient({ url, debugIdentity: { tenantId: "acme", userId: user }, batch: "frame" });
  window.__fleet.client = client;
  const [watchers, setWatchers] = useState(false);
  window.__fleet.showWatchers = setWatchers;
  return <FleetProvider client={client}>{watchers ? <Watchers /> : <p id="no-watchers">not mounted</p>}</FleetProvider>;
}

function Root() {
  const [client, setClient] = useState(true);
  const [readme, setReadme] = useState(false);
  window.__fleet.showClient = setClient;
  window.__fleet.showReadme = setReadme;
  return (
    <>
      {client ? <ClientOwner /> : <p id="no-client">no client</p>}
      {readme ? <div id="readme"><FleetChat url={url} /></div> : null}
    </>
  );
}

createRoot(document.getElementById("root")!).render(<StrictMode><Root /></StrictMode>);
