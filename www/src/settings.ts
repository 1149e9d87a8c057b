// Where the dashboard connects. The built-in simulator's address comes from /config.json
// (written by www/serve.mjs); `?engine=ws://…` overrides the URL and `?worker` runs the
// client in a Worker. An API key is kept in memory only, unless the user ticks "remember on
// this device" (then localStorage).
export interface Settings {
  url: string;
  key: string;
  allowInsecure: boolean;
  remember: boolean;
  /** The client runs in a Worker (runwatch/worker): its socket and engine off the page. */
  worker: boolean;
  /** Connected to the simulator this page was served with (its control API is at /_sim/). */
  builtIn: boolean;
}

export interface ServerConfig {
  engine: string;
  key: string;
  simulator: boolean;
  /** The fleet-rlm server's root (the simulator serves it on the engine's port). */
  fleet: string;
}

const STORAGE_KEY = "runwatch.dashboard.connection";
const FALLBACK: ServerConfig = { engine: "ws://127.0.0.1:5565", key: "sim-key", simulator: true, fleet: "http://127.0.0.1:5565" };

export async function loadConfig(): Promise<ServerConfig> {
  try {
    const res = await fetch("./config.json", { cache: "no-store" });
    if (!res.ok) return FALLBACK;
    const c = (await res.json()) as Partial<ServerConfig>;
    return { engine: c.engine ?? FALLBACK.engine, key: c.key ?? FALLBACK.key, simulator: c.simulator ?? true, fleet: c.fleet ?? FALLBACK.fleet };
  } catch {
    return FALLBACK;
  }
}

export function initialSettings(config: ServerConfig): Settings {
  const params = new URLSearchParams(location.search);
  const engine = params.get("engine");
  const worker = params.has("worker");
  const saved = readSaved();
  if (saved && !engine) return { ...saved, worker: saved.worker || worker };
  const url = engine ?? config.engine;
  return { url, key: config.key, allowInsecure: false, remember: false, worker, builtIn: url === config.engine || !!engine };
}

function readSaved(): Settings | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Settings>;
    if (typeof s.url !== "string" || typeof s.key !== "string") return null;
    return { url: s.url, key: s.key, allowInsecure: !!s.allowInsecure, remember: true, worker: !!s.worker, builtIn: !!s.builtIn };
  } catch {
    return null;
  }
}

/** Saves the settings only when the user opted in; forgets them otherwise. */
export function persist(s: Settings): void {
  try {
    if (s.remember) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage unavailable (private mode): nothing is kept, as when not opted in */
  }
}
