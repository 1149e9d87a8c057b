import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { RunwatchProvider, useRocketRideClient } from "runwatch/react";
import type { ClientOptions } from "runwatch";
import { initialSettings, loadConfig, persist, type ServerConfig, type Settings } from "./settings";
import { Health } from "./Health";
import { TasksPage } from "./Tasks";
import { EventsPage } from "./Events";
import { SubscriptionsPage, SubscriptionsProvider } from "./Subscriptions";
import { FaultProvider, FaultsPage } from "./Faults";
import { ConnectPage } from "./Connect";
import { HistoryProvider } from "./history";
import { EventLogProvider } from "./eventlog";

// Loaded when the tab is first opened: the fleet-rlm module is fetched only then.
const FleetPage = lazy(() => import("./Fleet"));

export type Route =
  | { tab: "tasks"; runId?: number }
  | { tab: "events" }
  | { tab: "subscriptions" }
  | { tab: "faults" }
  | { tab: "connect" }
  | { tab: "fleet" };

const TABS: Array<{ tab: Route["tab"]; label: string }> = [
  { tab: "tasks", label: "Tasks" },
  { tab: "events", label: "Events" },
  { tab: "subscriptions", label: "Subscriptions" },
  { tab: "faults", label: "Faults" },
  { tab: "connect", label: "Connect" },
  { tab: "fleet", label: "fleet-rlm" },
];

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  switch (parts[0]) {
    case "events": return { tab: "events" };
    case "subscriptions": return { tab: "subscriptions" };
    case "faults": return { tab: "faults" };
    case "connect": return { tab: "connect" };
    case "fleet": return { tab: "fleet" };
    default: {
      const id = Number(parts[1]);
      return Number.isInteger(id) && id > 0 ? { tab: "tasks", runId: id } : { tab: "tasks" };
    }
  }
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function App() {
  const [config, setConfig] = useState<ServerConfig | null>(null);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    loadConfig().then((c) => {
      if (!live) return;
      setConfig(c);
      setSettings(initialSettings(c));
    });
    return () => { live = false; };
  }, []);
  if (!config || !settings) return <div className="loading" role="status">Loading…</div>;
  const connect = (s: Settings) => {
    persist(s);
    setSettings(s);
    setGeneration((g) => g + 1);
  };
  return <Connected key={generation} config={config} settings={settings} onConnect={connect} />;
}

function Connected({ config, settings, onConnect }: { config: ServerConfig; settings: Settings; onConnect: (s: Settings) => void }) {
  const options = useMemo<ClientOptions>(() => ({
    url: settings.url,
    auth: settings.key,
    allowInsecure: settings.allowInsecure,
    batch: "frame",
    clientName: "runwatch-dashboard",
    // Detect a half-open socket within seconds, not the default half minute.
    heartbeatIntervalMs: 4000,
    heartbeatTimeoutMs: 3000,
    reconnect: { minDelayMs: 500, maxDelayMs: 5000 },
  }), [settings]);
  const { client, error } = useRocketRideClient(options, { worker: settings.worker });
  const route = useRoute();
  const simulator = settings.builtIn && config.simulator;
  // Once opened, the fleet-rlm tab stays mounted (hidden), so its session outlives tab switches.
  const [fleetOpened, setFleetOpened] = useState(route.tab === "fleet");
  if (route.tab === "fleet" && !fleetOpened) setFleetOpened(true);
  return (
    <RunwatchProvider client={client}>
      <HistoryProvider client={client}>
        <EventLogProvider client={client}>
         <FaultProvider client={client}>
         <SubscriptionsProvider client={client}>
          <a className="skip" href="#main">Skip to content</a>
          <header className="top">
            <div className="brand">
              <h1>runwatch</h1>
              <span className="engine" title={settings.url}>{settings.url}</span>
              {settings.worker ? <span className="mode" data-testid="client-mode" title="The client runs in a Worker (runwatch/worker)">in a Worker</span> : null}
            </div>
            <Health client={client} />
          </header>
          {error ? (
            <p className="banner error" role="alert">Cannot connect: {String((error as Error)?.message ?? error)}</p>
          ) : null}
          <nav className="tabs" aria-label="Sections">
            {TABS.map((t) => (
              <a key={t.tab} href={`#/${t.tab}`} aria-current={route.tab === t.tab ? "page" : undefined}>{t.label}</a>
            ))}
          </nav>
          <main id="main" tabIndex={-1}>
            {route.tab === "tasks" && <TasksPage client={client} runId={route.runId} />}
            {route.tab === "events" && <EventsPage />}
            {route.tab === "subscriptions" && <SubscriptionsPage client={client} />}
            {route.tab === "faults" && <FaultsPage client={client} simulator={simulator} />}
            {route.tab === "connect" && <ConnectPage settings={settings} config={config} onConnect={onConnect} />}
            {fleetOpened ? (
              <Suspense fallback={<p className="loading" role="status">Loading the fleet-rlm view…</p>}>
                <FleetPage config={config} hidden={route.tab !== "fleet"} />
              </Suspense>
            ) : null}
          </main>
         </SubscriptionsProvider>
         </FaultProvider>
        </EventLogProvider>
      </HistoryProvider>
    </RunwatchProvider>
  );
}
