// A small app apart from the dashboard: the hooks under StrictMode, several components
// reading the same store, connection and subscription, and the README's example. The test
// (tests/react/strict.test.mjs) drives it through window.__strict and checks the simulator.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { RocketRideClient } from "runwatch";
import {
  RunwatchProvider, openResources, useClient, useConnection, useRocketRideClient, useSubscription, useTask, useTasks,
} from "runwatch/react";
// The README's example, extracted by the test (alias "readme-example" in its Vite config).
import { Dashboard } from "readme-example";

const params = new URLSearchParams(location.search);
const url = params.get("engine") ?? "ws://127.0.0.1:5565";
// `?worker`: the same app with its client in Worker mode (useRocketRideClient's second argument).
const worker = params.has("worker");

declare global {
  interface Window {
    __strict: {
      client: RocketRideClient | null;
      /** Whether the client is Worker mode's (not an instance of the main-thread class). */
      inWorker: () => boolean;
      resources: () => Array<{ key: string; refs: number }>;
      renders: Record<string, number>;
      showWatchers: (on: boolean) => void;
      showClient: (on: boolean) => void;
      showReadme: (on: boolean) => void;
      dashboardEvents: number;
    };
  }
}
const renders: Record<string, number> = {};
const count = (name: string) => { renders[name] = (renders[name] ?? 0) + 1; };
window.__strict = {
  client: null, resources: () => openResources(window.__strict.client), renders,
  inWorker: () => window.__strict.client !== null && !(window.__strict.client instanceof RocketRideClient),
  showWatchers: () => {}, showClient: () => {}, showReadme: () => {}, dashboardEvents: 0,
};

function Names() {
  count("names");
  const client = useClient();
  const names = useTasks(client, (s) => [...new Set(s.runs.map((r) => r.name ?? r.taskId))].sort());
  return <p id="names">{names.join(", ")}</p>;
}

function AllRuns() {
  count("all");
  const client = useClient();
  const runs = useTasks(client);
  return <p id="run-count">{runs.length}</p>;
}

function FirstRun() {
  const client = useClient();
  const firstId = useTasks(client, (s) => s.runs[0]?.runId);
  const run = useTask(client, firstId);
  return <p id="first-run">{run ? `${run.runId} ${run.phase} ${run.status?.completedCount ?? 0}` : ""}</p>;
}

function State() {
  count("state");
  const client = useClient();
  const state = useConnection(client, (c) => c.state);
  return <p id="state">{state}</p>;
}

function DashboardEvents() {
  const client = useClient();
  useSubscription(client, { token: "*" }, ["DASHBOARD"], (events) => { window.__strict.dashboardEvents += events.length; });
  return null;
}

function Watchers() {
  return (
    <>
      <Names /><Names /><AllRuns /><FirstRun /><State /><State /><DashboardEvents /><DashboardEvents />
    </>
  );
}

function ClientOwner() {
  const { client } = useRocketRideClient({ url, auth: "sim-key", clientName: "runwatch-strict-test", batch: "frame" }, { worker });
  window.__strict.client = client;
  const [watchers, setWatchers] = useState(false);
  window.__strict.showWatchers = setWatchers;
  // The watchers mount once the client exists (the test shows them when it is live), so
  // StrictMode's double mount happens with a live client.
  return <RunwatchProvider client={client}>{watchers ? <Watchers /> : <p id="no-watchers">not mounted</p>}</RunwatchProvider>;
}

function Root() {
  const [client, setClient] = useState(true);
  const [readme, setReadme] = useState(false);
  window.__strict.showClient = setClient;
  window.__strict.showReadme = setReadme;
  return (
    <>
      {client ? <ClientOwner /> : <p id="no-client">no client</p>}
      {readme ? <div id="readme"><Dashboard url={url} apiKey="sim-key" /></div> : null}
    </>
  );
}

createRoot(document.getElementById("root")!).render(<StrictMode><Root /></StrictMode>);
