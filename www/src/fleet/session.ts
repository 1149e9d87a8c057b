// Where the fleet-rlm tab connects and how it authenticates, and how a turn finds its run.
import type { FleetClientOptions, Run, Turn } from "runwatch/fleet-rlm";
import type { ServerConfig } from "../settings";

/** Where the built-in simulator's fleet-rlm side is, or `?fleet=http://…` from the page URL. */
export function fleetServer(config: ServerConfig): { url: string; builtIn: boolean } {
  const given = new URLSearchParams(location.search).get("fleet");
  return given ? { url: given, builtIn: given === config.fleet } : { url: config.fleet, builtIn: true };
}

/** The demo identity the simulator's dev tokens carry. */
export const DEMO_IDENTITY = { tenant: "demo", user: "dashboard" };
const TOKEN_TTL_S = 3600;

/**
 * A credential function for the built-in simulator: a dev JWT from its control API
 * (`POST /_sim/fleet/token`, proxied by www/serve.mjs), fetched when first needed and again
 * shortly before it expires. The token lives in this closure only: never in the page URL or
 * in storage (the SDK puts it in the sockets' `access_token` parameter, as fleet-rlm requires).
 */
export function simToken(): () => Promise<string> {
  let cached: { token: string; until: number } | null = null;
  return async () => {
    if (cached && cached.until > Date.now()) return cached.token;
    const res = await fetch("./_sim/fleet/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...DEMO_IDENTITY, ttl_s: TOKEN_TTL_S }),
    });
    if (!res.ok) throw new Error(`the simulator gave no token (HTTP ${res.status})`);
    const { access_token: token } = (await res.json()) as { access_token: string };
    cached = { token, until: Date.now() + (TOKEN_TTL_S - 300) * 1000 };
    return token;
  };
}

/** The client's options: the simulator's dev token, or no auth for another server. */
export function fleetOptions(url: string, auth: (() => Promise<string>) | null): FleetClientOptions {
  return {
    url,
    ...(auth ? { auth } : {}),
    batch: "frame",
    reconnect: { minDelayMs: 500, maxDelayMs: 5000 },
  };
}

/**
 * Which run of the session each turn started, by `turnId`. Chat frames name no run, so this
 * pairs them in order: the n-th run of the session with the n-th turn that reached the
 * agent (it reasoned, called a tool, answered or asked; a turn refused before the agent
 * started, e.g. "sandbox unavailable", starts no run). One turn runs at a time per session.
 */
export function runsByTurn(turns: readonly Turn[], runs: readonly Run[]): Map<number, Run> {
  const started = turns.filter((t) => t.reasoning !== "" || t.tools.length > 0 || t.answer !== "" || t.hitl.length > 0);
  const paired = new Map<number, Run>();
  started.forEach((t, i) => {
    const run = runs[i];
    if (run) paired.set(t.turnId, run);
  });
  return paired;
}
