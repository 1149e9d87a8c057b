// Fault cycles: the built npm package in headless Chromium, subscribed with several scopes,
// against a runwatch-sim process running load pipelines, while the simulator injects one
// fault kind after another. After every cycle the Ledger (ledger.mjs) compares the send log
// with what the page's callbacks got, and the cycle also checks the server-side
// subscriptions, page errors, WebAssembly memory and that the API key appears nowhere.
//
//   const report = await runCycles({ cycles: 200 });   // throws on the first broken cycle
//
// Used by faults.test.mjs (CI, ≥ 200 cycles) and soak.mjs (10,000+, writes RELIABILITY.md).
// Every wait is bounded; a cycle that cannot settle fails with what it was waiting for.
import crypto from "node:crypto";
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { launchBrowser } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { Ledger, desiredKeys, serverKey } from "./ledger.mjs";
import {
  pullLog, assertNoPageErrors, assertNoSecret, assertMemory, waitForPage, injectFault, clearFaults, leaveAndReturn, sleep, SETTLE_TIMEOUT_MS,
  reportTable, mib,
} from "./common.mjs";

const LOAD_PROJECT = "10ad0000-0000-4000-8000-000000000000"; // sim/src/scenario.rs
const OTHER_PROJECT = "proj-other";

/** The subscriptions of every client: overlapping scopes, so routing is exercised. */
export const SUBSCRIPTIONS = [
  { name: "all", scope: { token: "*" }, types: ["TASK", "SUMMARY", "FLOW", "OUTPUT", "SSE", "DASHBOARD"] },
  { name: "source", scope: { projectId: LOAD_PROJECT, source: "load_0" }, types: ["OUTPUT", "FLOW"] },
  { name: "project", scope: { projectId: LOAD_PROJECT, source: "*" }, types: ["SUMMARY", "SSE", "TASK"] },
  { name: "other", scope: { projectId: OTHER_PROJECT, source: "*" }, types: ["OUTPUT", "TASK", "SUMMARY"] },
];

/**
 * The sets a run can use. `default` is the CI suite. The others are the strict sets of
 * issue 9: no `{token:"*"}` companion that would teach the SDK every task, source and
 * project scopes with only OUTPUT/SSE/DETAIL (events that carry only a task id), pipe
 * scopes, and a connection authenticated with a task's public `pk_` token subscribed to
 * that token. The SDK of ef36256 dropped events of tasks it had not seen on such scopes
 * without a diagnostic; they all run in faults.test.mjs. Do not loosen the oracle to make
 * them pass.
 * `subscriptions(ctx)` may use `ctx.publicToken` (load_0's `pk_` token); `credential`
 * says what the client authenticates with; `skip` lists fault kinds the set cannot take.
 */
export const SETS = {
  default: { subscriptions: () => SUBSCRIPTIONS },
  scoped: {
    // The default scopes without `*`: nothing but the scopes themselves tells the SDK the tasks.
    subscriptions: () => [
      { name: "source", scope: { projectId: LOAD_PROJECT, source: "load_0" }, types: ["OUTPUT", "FLOW"] },
      { name: "project", scope: { projectId: LOAD_PROJECT, source: "*" }, types: ["SUMMARY", "SSE", "TASK"] },
      { name: "other", scope: { projectId: OTHER_PROJECT, source: "*" }, types: ["OUTPUT", "TASK", "SUMMARY", "DETAIL"] },
    ],
  },
  taskIdOnly: {
    // Only events that carry nothing but a task id: the SDK must find out where they belong.
    subscriptions: () => [
      { name: "out1", scope: { projectId: LOAD_PROJECT, source: "load_1" }, types: ["OUTPUT"] },
      { name: "sse2", scope: { projectId: LOAD_PROJECT, source: "load_2" }, types: ["SSE"] },
      { name: "otherAll", scope: { projectId: OTHER_PROJECT, source: "*" }, types: ["OUTPUT", "SSE", "DETAIL"] },
      { name: "other0", scope: { projectId: OTHER_PROJECT, source: "other_0" }, types: ["OUTPUT", "SSE", "DETAIL"] },
    ],
  },
  pipes: {
    subscriptions: () => [
      { name: "pipe1", scope: { projectId: LOAD_PROJECT, source: "load_0", pipeId: 1 }, types: ["SSE"] },
      { name: "pipe2", scope: { projectId: LOAD_PROJECT, source: "load_1", pipeId: 2 }, types: ["SSE"] },
      { name: "summary1", scope: { projectId: LOAD_PROJECT, source: "load_1" }, types: ["SUMMARY"] },
      { name: "flow0", scope: { projectId: LOAD_PROJECT, source: "load_0" }, types: ["FLOW", "SSE"] },
    ],
  },
  publicToken: {
    // A `pk_` connection gets only its task's seeds and SSE (spec §3.2, sim/src/hub.rs may_see).
    credential: "publicToken",
    subscriptions: ({ publicToken }) => [
      { name: "pk", scope: { token: publicToken }, types: ["SSE", "SUMMARY", "TASK", "OUTPUT"] },
    ],
    // A revoked API key does not touch it; a restart unregisters its task for a moment, and
    // a task credential that names no task fails `auth` for good.
    skip: ["revoke_key", "restart"],
  },
};

/** The strict sets (faults.test.mjs runs them after the default set). */
export const STRICT_SETS = ["scoped", "taskIdOnly", "pipes", "publicToken"];

/** Client options: fast reconnects and heartbeats so a cycle takes a fraction of a second. */
const CLIENT_OPTIONS = {
  reconnect: { minDelayMs: 10, maxDelayMs: 200 },
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 800,
  reorderWindowMs: 50,
  connectTimeoutMs: 3000,
  requestTimeoutMs: 2000,
};

/**
 * The request whose answer marks "everything sent before this has reached the SDK": a
 * command the SDK never sends by itself.
 */
const MARKER = "rrext_get_tasks";
/** Checks in a row a cycle may need because the client reconnected while one ran. */
const CHECK_PASSES = 3;
/** States and diagnostics kept for a failure report. */
const HISTORY = 60;
/** Send-log lines printed with a failure (the end of the cycle's log; all with RUNWATCH_DUMP_LOG=1). */
const LOG_LINES = 150;

/**
 * The fault kinds, one per cycle in this order; `revoke_key` ends a round (the client is
 * rejected for good), and so does a page that comes back reloaded (`page_reloaded` always,
 * `page_hidden` when the browser did not keep it): the next cycle starts a new client.
 * `act(ctx)` injects the fault and waits for its effect (true: the round ended); the cycle
 * then clears faults and settles.
 */
export const FAULTS = [
  { kind: "drop", act: (c) => c.standing({ kind: "drop", rate: 0.2 }, 200) },
  { kind: "duplicate", act: (c) => c.standing({ kind: "duplicate", rate: 0.3 }, 200) },
  { kind: "reorder", act: (c) => c.standing({ kind: "reorder", rate: 0.3 }, 200) },
  { kind: "slow_writer", act: (c) => c.standing({ kind: "slow_writer", delayMs: 3 }, 200) },
  { kind: "garbage", act: (c) => c.oneShot({ kind: "garbage", count: 3 }) },
  { kind: "half_open", act: (c) => c.reconnectAfter({ kind: "half_open", seconds: 10 }) },
  { kind: "truncated", act: (c) => c.oneShot({ kind: "truncated" }) },
  { kind: "drop_all", act: (c) => c.reconnectAfter({ kind: "drop_all" }) },
  { kind: "nan", act: (c) => c.oneShot({ kind: "nan" }) },
  { kind: "binary", act: (c) => c.oneShot({ kind: "binary" }) },
  { kind: "refuse", act: (c) => c.refuse() },
  { kind: "invalid_utf8", act: (c) => c.oneShot({ kind: "invalid_utf8" }) },
  { kind: "proto_keys", act: (c) => c.oneShot({ kind: "proto_keys" }) },
  { kind: "restart", act: (c) => c.reconnectAfter({ kind: "restart" }) },
  { kind: "unknown_event", act: (c) => c.oneShot({ kind: "unknown_event" }) },
  { kind: "bad_types", act: (c) => c.oneShot({ kind: "bad_types" }) },
  { kind: "deep_nesting", act: (c) => c.oneShot({ kind: "deep_nesting" }) },
  { kind: "unknown_response", act: (c) => c.oneShot({ kind: "unknown_response" }) },
  { kind: "lying_seq", act: (c) => c.oneShot({ kind: "lying_seq" }) },
  { kind: "oversized", act: (c) => c.oneShot({ kind: "oversized", bytes: 9 * 1024 * 1024 }) },
  { kind: "page_hidden", act: (c) => c.leave() },
  { kind: "page_reloaded", act: (c) => c.leave({ reload: true }) },
  { kind: "revoke_key", act: (c) => c.revoke() },
];

/** Where a page that leaves keeps what it recorded since the last drain (see `rw.resume`). */
const SAVED = "rw-saved";

/** Installed in the page before the package loads: records everything the SDK emits. */
function pageHarness({ url, key, subscriptions, options, MARKER, SAVED }) {
  const rw = (window.rw = { attempts: 0, base: 0, urls: [], deliveries: [], diags: [], states: [], errors: [] });
  // A page that leaves may come back reloaded instead of from the back/forward cache (the
  // browser's choice), its client gone with it: what it recorded since the last drain and
  // its socket count wait in sessionStorage for the page that follows (`rw.resume`); a
  // restored page drops them. Runs before the SDK's own `pagehide`, which closes the socket.
  addEventListener("pagehide", () => sessionStorage.setItem(SAVED, JSON.stringify({ ...rw.peek(), attempts: rw.lastAttempt() })));
  addEventListener("pageshow", (e) => { if (e.persisted) sessionStorage.removeItem(SAVED); });
  const WS = window.WebSocket;
  // Number every socket the SDK opens, so the simulator's log ties it to its connection.
  window.WebSocket = class extends WS {
    constructor(u, protocols) {
      rw.urls.push(String(u));
      const numbered = new URL(u);
      numbered.searchParams.set("attempt", String(++rw.attempts));
      super(numbered.href, protocols);
    }
  };
  // Worker mode: the SDK's sockets are the Worker's, numbered there (tests/support/worker-probe.mjs).
  window.workerProbe?.onSocket(([u], attempt) => { rw.urls.push(u); rw.attempts = attempt; });
  const withG = (d) => {
    const out = { ...d };
    if (d.epoch !== undefined) out.g = rw.base + d.epoch;
    if (d.lost) out.lost = d.lost.map((t) => ({ ...t, g: rw.base + t.epoch }));
    return out;
  };
  rw.start = async () => {
    // The client before (stopped by a revoked key) is closed, as an app that makes a new one
    // would; its listeners go first, so nothing it says on the way reaches the records.
    rw.stop?.();
    const { default: init, RocketRideClient } = await import("runwatch");
    rw.wasm = await init();
    rw.base = rw.lastAttempt(); // this client's epoch 1 is the next attempt
    // Worker mode: the Worker numbers the sockets, from this base (a reloaded page's new
    // Worker would start again at 1).
    const clientUrl = new URL(url);
    if (window.workerProbe) clientUrl.searchParams.set("rwBase", String(rw.base));
    rw.client = new RocketRideClient({ url: clientUrl.href, auth: () => Promise.resolve(key), ...options });
    const client = rw.client;
    const offs = [client.onState((s) => rw.states.push(withG(s))), client.onDiagnostic((d) => rw.diags.push(withG(d)))];
    rw.stop = () => {
      for (const off of offs) off();
      client.close();
    };
    for (const s of subscriptions) {
      rw.client.subscribe(s.scope, s.types, (events) => {
        for (const e of events) {
          const rec = [s.name, rw.base + e.epoch, e.seq ?? null, e.type, e.taskId ?? null];
          // The multi-task seed: which tasks this subscription was given (checked by the oracle).
          if (e.type === "task" && e.action === "running") rec.push((e.tasks ?? []).map((t) => [t.id, t.projectId, t.source]));
          rw.deliveries.push(rec);
        }
      });
    }
  };
  // The last attempt numbered: what the socket wrapper (or the Worker's probe) counted, or
  // the client's own last attempt, which the page knows even when a probe message did not
  // reach it (a page's channel is closed while it is hidden).
  rw.lastAttempt = () => Math.max(rw.attempts, rw.current());
  /** The current client's attempt, numbered across clients (0 before the first). */
  rw.current = () => rw.base + (rw.client?.stats().epoch ?? 0);
  rw.peek = () => ({
    deliveries: rw.deliveries, diagnostics: rw.diags, states: rw.states, errors: rw.errors,
    state: rw.client?.state, g: rw.current(),
    memory: Math.max(rw.wasm?.memory.buffer.byteLength ?? 0, window.workerProbe?.memory ?? 0), urls: rw.urls,
    stats: rw.client?.stats(), held: rw.client?.serverSubscriptions(),
  });
  rw.drain = () => {
    const out = rw.peek();
    rw.deliveries = []; rw.diags = []; rw.states = []; rw.errors = []; rw.urls = [];
    return out;
  };
  // On the page that followed a reload: the records the page before it left, to drain as
  // that client's last, and its socket count, so attempts stay numbered across pages.
  rw.resume = () => {
    const saved = JSON.parse(sessionStorage.getItem(SAVED));
    sessionStorage.removeItem(SAVED);
    Object.assign(rw, { deliveries: saved.deliveries, diags: saved.diagnostics, states: saved.states, errors: saved.errors, urls: saved.urls });
    rw.attempts = saved.attempts;
    rw.base = saved.g; // with no client, drain's `g` is this: the last attempt of the client that left
    return saved.memory;
  };
  // Resolves once a marker request was answered on a live connection (retrying across
  // reconnects) and nothing the SDK holds back is still waiting: an event of an unknown
  // task that arrived after the marker was sent waits for a lookup sent after it, so it is
  // released after the marker's answer. Not rrext_ping: the SDK's own heartbeat pings could
  // be mistaken for it.
  rw.settle = async (deadline) => {
    while (performance.now() < deadline) {
      if (rw.client.state === "live") {
        try {
          await rw.client.request(MARKER, {});
          while (rw.client.stats().buffered > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          return rw.current();
        } catch (e) { rw.errors.push(String(e?.message ?? e)); }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no answered marker request within the deadline (state ${rw.client.state})`);
  };
}

class Run {
  constructor({ sim, page, harness, key, secrets, subscriptions, tokens, skip = [], taskScoped = false }) {
    this.sim = sim;
    this.page = page;
    /** pageHarness's arguments, to install it again on a page that came back reloaded. */
    this.harness = harness;
    /** The account's API key (revoke_key revokes it). */
    this.key = key;
    /** Credentials that must appear in nothing the SDK emits. */
    this.secrets = secrets;
    this.logNext = 0;
    this.ledger = new Ledger(subscriptions, { tokens });
    this.desired = desiredKeys(subscriptions, tokens, { cleanupWatch: !taskScoped });
    /** Desired keys that come from a token scope (the SDK may name them by the token). */
    this.tokenKeys = new Set(subscriptions.filter((x) => x.scope.token !== undefined && x.scope.token !== "*").map((x) => serverKey(x.scope, tokens)));
    this.faultKinds = FAULTS.filter((f) => !skip.includes(f.kind));
    this.keepGoing = false;
    /** Cycles whose oracle checks failed (only collected with `keepGoing`). */
    this.failures = [];
    this.maxMemory = 0;
    this.faults = {};
    this.reconnects = 0;
    this.rounds = 0;
    /** page_hidden faults that came back reloaded, by Chromium's reasons. */
    this.reloads = {};
    this.clientLive = false;
    /** The last states and diagnostics, for the error message of a failed check. */
    this.history = [];
    /** Connection → send-log index of its last answered marker request. */
    this.cutoffs = new Map();
  }

  /** Injects a fault, noting in the oracle's journal where in the send log it began. */
  fault(spec) { return injectFault(this.sim, this.ledger, spec); }
  clear() { return clearFaults(this.sim); }
  waitFor(fn, arg, what) { return waitForPage(this.page, fn, arg, what); }

  /** A standing fault for `ms`, then cleared. */
  async standing(spec, ms) {
    await this.fault(spec);
    await sleep(ms);
    await this.clear();
  }

  /** An injected frame, then a little traffic after it. */
  async oneShot(spec) {
    // `nan` sends the status of the simulator's first task (by token): tell the oracle
    // which, when no task came or went around the injection.
    const first = async () => (await this.sim.control("_sim/tasks"))[0];
    const before = spec.kind === "nan" ? await first() : undefined;
    const { logNext } = spec.kind === "nan" ? await this.sim.control("_sim/health") : {};
    await this.fault(spec);
    if (before) {
      const after = await first();
      if (after?.token === before.token) {
        this.ledger.annotate("nan", logNext, { taskId: before.id, projectId: before.projectId, source: before.source });
      }
    }
    await sleep(60);
  }

  /** A fault that costs the connection: wait for the SDK's resync on a later connection. */
  async reconnectAfter(spec) {
    const before = await this.page.evaluate(() => window.rw.client.stats().reconnects);
    await this.fault(spec);
    await this.waitFor((n) => window.rw.client.stats().reconnects > n && window.rw.client.state === "live", before, `a reconnect after ${spec.kind}`);
    await this.clear();
  }

  /**
   * The page leaves while the stream goes on and comes back (see `leaveAndReturn`). Restored
   * from the back/forward cache, the SDK, which closed its socket on `pagehide`, reconnects on
   * `pageshow`. Reloaded, the client went with the page: the harness is installed again with
   * what the page recorded before it left, and the round ends (true); unless script ran in
   * the cached page (a finalizer of something the SDK let go of: the forced collection while
   * away runs it), which fails the cycle.
   */
  async leave({ reload = false } = {}) {
    const before = await this.page.evaluate(() => window.rw.client.stats().reconnects);
    const { restored, reasons } = await leaveAndReturn(this.sim, this.ledger, this.page, { reload });
    if (restored) {
      await this.waitFor((n) => window.rw.client.stats().reconnects > n && window.rw.client.state === "live", before, "a reconnect after pageshow");
      return false;
    }
    if (!reload && /JavaScriptExecution/.test(reasons)) {
      throw new Error(`script ran in the page while it was in the back/forward cache, so Chromium reloaded it (${reasons}): something the SDK let go of needed a finalizer`);
    }
    if (!reload) this.reloads[reasons] = (this.reloads[reasons] ?? 0) + 1;
    await this.page.evaluate(pageHarness, this.harness);
    const memory = await this.page.evaluate(() => window.rw.resume());
    this.maxMemory = Math.max(this.maxMemory, memory);
    return true;
  }

  /** Refuse upgrades for a while and drop the connection: the retries get 503 until it ends. */
  async refuse() {
    await this.fault({ kind: "refuse", seconds: 0.25 });
    await this.reconnectAfter({ kind: "drop_all" });
  }

  /** Revoke the key: the SDK must stop with `authFailed`, say why, and not retry. */
  async revoke() {
    await this.fault({ kind: "revoke_key", key: this.key });
    await this.waitFor(() => window.rw.client.state === "authFailed", undefined, "authFailed after revoke_key");
    const { stats, message } = await this.page.evaluate(() => ({
      stats: window.rw.client.stats(),
      message: window.rw.states.findLast((s) => s.newState === "authFailed")?.message,
    }));
    await sleep(150);
    const later = await this.page.evaluate(() => window.rw.client.stats());
    if (later.epoch !== stats.epoch) throw new Error("the client kept reconnecting after its key was revoked");
    if (message !== "Invalid API key") throw new Error(`authFailed should carry the server's message, got ${message}`);
    await this.clear(); // un-revokes the key for the next client
  }

  async startClient() {
    await this.page.evaluate(() => window.rw.start());
    await this.waitFor(() => window.rw.client.state === "live", undefined, "the first live state");
    this.clientLive = true;
    this.rounds += 1;
  }

  /** Pulls the send log from where the last pull ended. */
  async pullLog() {
    const { entries, next } = await pullLog(this.sim, this.logNext);
    this.logNext = next;
    return entries;
  }

  /** The send-log index of the last answered marker request on connection `conn`. */
  static markerCutoff(entries, conn) {
    for (let k = entries.length - 1; k >= 0; k--) {
      const e = entries[k];
      if (e.conn === conn && e.kind === "response" && e.command === MARKER) return e.i;
    }
    return undefined;
  }

  /**
   * After a fault: the page's records against the send log, the server's registry, memory.
   * Under load the client may lose its connection again while this runs (a heartbeat that
   * times out behind a 9 MiB frame); the server's registry is then compared on a later pass.
   */
  async check(cycle, kind, { ended = false } = {}) {
    const where = `cycle ${cycle} (${kind})`;
    for (let pass = 1; ; pass++) {
      const { conn, held, g } = await this.settle(where, ended);
      if (ended) return;
      if (await this.assertServerKeys(where, conn, held, g)) return;
      if (pass === CHECK_PASSES) throw new Error(`${where}: the client changed connections during ${CHECK_PASSES} checks in a row`);
    }
  }

  /** One pass: a marker request (unless the client ended), drain the page, pull the log, settle. */
  async settle(where, ended) {
    let g;
    if (!ended) g = await this.page.evaluate((d) => window.rw.settle(performance.now() + d), SETTLE_TIMEOUT_MS);
    await sleep(CLIENT_OPTIONS.reorderWindowMs + 30);
    const rec = await this.page.evaluate(() => window.rw.drain());
    const entries = await this.pullLog();
    this.ledger.addLog(entries);
    this.ledger.addPage(rec);
    const current = ended ? rec.g : g;
    const conn = this.ledger.connOf.get(current);
    this.cutoffs.set(conn, Run.markerCutoff(entries, conn) ?? this.cutoffs.get(conn) ?? -1);
    const cutoff = this.cutoffs.get(conn);
    if (ended) this.ledger.finish({ current, cutoff });
    else this.ledger.settle({ current, cutoff });
    this.reconnects += rec.states.filter((s) => s.newState === "backoff").length;
    this.maxMemory = Math.max(this.maxMemory, rec.memory);
    this.history.push(...rec.states.map((x) => ({ state: x })), ...rec.diagnostics.map((x) => ({ diagnostic: x })));
    this.history.splice(0, Math.max(0, this.history.length - HISTORY));
    if (this.ledger.problems.length) {
      const recent = this.history.map((h) => JSON.stringify(h)).join("\n    ");
      let message = `${where}: ${this.ledger.problemCount} problem(s):\n  ${this.ledger.problems.slice(0, 10).join("\n  ")}\n  recent states and diagnostics:\n    ${recent}\n  client stats: ${JSON.stringify(rec.stats)}`;
      // The evidence of a rare failure, printed with it (CI keeps only a failed run's
      // output): this cycle's send log on the current connection and the one before it
      // (a frame of the old one handled as the new one's would show there), and what the
      // page got. RUNWATCH_DUMP_LOG=1 prints every line instead of the last LOG_LINES.
      const conns = new Set([conn, this.ledger.connOf.get(current - 1)].filter((c) => c !== undefined));
      const lines = entries.filter((e) => conns.has(e.conn)).map((e) => JSON.stringify(e).slice(0, 300));
      const shown = process.env.RUNWATCH_DUMP_LOG ? lines : lines.slice(-LOG_LINES);
      message += `\n  send log (connections ${[...conns].join(", ")}, ${shown.length} of ${lines.length} lines this cycle):\n    ${shown.join("\n    ")}\n  deliveries: ${JSON.stringify(rec.deliveries).slice(0, 4000)}`;
      if (!this.keepGoing) throw new Error(message);
      // Diagnosis mode: keep every problem, go on with the next cycle.
      this.failures.push({ where, problems: this.ledger.problems.slice() });
      this.ledger.problems.length = 0;
    }
    assertMemory(where, rec.memory);
    assertNoPageErrors(where, this.page);
    // The key appears in nothing the SDK emitted: records, console, socket URLs.
    assertNoSecret(where, this.page, rec, this.secrets);
    return { conn, held: rec.held, g };
  }

  /**
   * The server holds exactly the desired keys and masks on the client's connection, and the
   * SDK knows it. False when the client has moved to another attempt since `g` (try again).
   */
  async assertServerKeys(where, conn, held, g) {
    const conns = await this.sim.control("_sim/connections");
    const now = await this.page.evaluate(() => ({ g: window.rw.current(), state: window.rw.client.state }));
    if (now.g !== g || now.state !== "live") return false;
    const mine = conns.filter((c) => c.authenticated);
    if (mine.length !== 1 || mine[0].id !== conn) {
      // The server may have ended the connection a moment before the page hears of it (in
      // Worker mode, until the Worker's next batch): then the page leaves attempt g within
      // a heartbeat's time, and the next pass checks the new connection.
      if (await this.leavesAttempt(g)) return false;
      throw new Error(`${where}: expected one authenticated connection (${conn}), the simulator has ${JSON.stringify(mine.map((c) => c.id))}`);
    }
    const server = Object.fromEntries(mine[0].monitors.map((m) => [m.key, m.mask]));
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    if (!same(server, this.desired)) {
      throw new Error(`${where}: the server holds ${JSON.stringify(server)}, desired ${JSON.stringify(this.desired)}`);
    }
    // A token scope's key may be named by its (redacted) token until the SDK resolves it.
    const sdkKeys = held.map((h) => (h.key.startsWith("t.") && this.tokenKeys.size === 1 ? [...this.tokenKeys][0] : h.key)).sort();
    if (JSON.stringify(sdkKeys) !== JSON.stringify(Object.keys(this.desired).sort())) {
      throw new Error(`${where}: the SDK believes the server holds ${JSON.stringify(held)}`);
    }
    return true;
  }

  /** True when the page leaves attempt `g` (or `live`) within a heartbeat's interval and timeout. */
  async leavesAttempt(g) {
    const grace = CLIENT_OPTIONS.heartbeatIntervalMs + CLIENT_OPTIONS.heartbeatTimeoutMs + 500;
    return this.page
      .waitForFunction((at) => window.rw.current() !== at || window.rw.client.state !== "live", g, { timeout: grace, polling: 20 })
      .then(() => true, () => false);
  }

  async cycle(n) {
    const fault = this.faultKinds[n % this.faultKinds.length];
    if (!this.clientLive) await this.startClient();
    // Now and then a task in the other project, so the "other" subscription has traffic.
    if (n % 5 === 0) {
      await this.sim.control("_sim/execute", { projectId: OTHER_PROJECT, source: `other_${n % 3}`, name: "Other", durationMs: 1500 }).catch(() => {});
    }
    const left = await fault.act(this);
    this.faults[fault.kind] = (this.faults[fault.kind] ?? 0) + 1;
    const ended = fault.kind === "revoke_key" || left === true;
    await this.check(n, fault.kind, { ended });
    if (ended) {
      await this.page.evaluate(() => window.rw.client?.close());
      this.clientLive = false;
    }
  }

  report(cycles, ms) {
    return {
      cycles, rounds: this.rounds, seconds: Math.round(ms / 1000), faults: this.faults, reloads: { ...this.reloads },
      reconnects: this.reconnects, maxMemoryBytes: this.maxMemory, ...this.ledger.figures,
      discards: { ...this.ledger.figures.discards }, failures: this.failures,
    };
  }
}

/**
 * Runs `cycles` fault cycles with one subscription set (SETS); throws on the first cycle
 * whose checks fail, unless `keepGoing` (diagnosis: the oracle's problems of every cycle are
 * collected in `report.failures`; other checks still throw).
 * @param {{cycles: number, set?: string, keepGoing?: boolean, onProgress?: (n: number, report: object) => void, progressEvery?: number}} opts
 */
export async function runCycles({ cycles, set = "default", keepGoing = false, onProgress, progressEvery = 100 }) {
  const spec = SETS[set];
  if (!spec) throw new Error(`no subscription set ${set} (${Object.keys(SETS)})`);
  const key = `rw-secret-${crypto.randomBytes(6).toString("hex")}`;
  const server = await startServer();
  const browser = await launchBrowser({ timeoutMs: SETTLE_TIMEOUT_MS, bfcache: true });
  const sim = await startSim({ args: ["--api-key", key, "--scenario", "load", "--tasks", "3", "--rate", "120", "--seed", "7"] });
  const t0 = Date.now();
  try {
    // The load tasks register right after the simulator starts; a token set needs them.
    const load0 = await waitForTask(sim, "load_0");
    const ctx = { publicToken: load0.publicToken };
    const subscriptions = spec.subscriptions(ctx);
    const tokens = { [load0.publicToken]: { projectId: load0.projectId, source: load0.source } };
    const credential = spec.credential === "publicToken" ? load0.publicToken : key;
    const page = await browser.newPage();
    await page.goto(new URL(BLANK_PAGE, server.url).href);
    const harness = { url: sim.url, key: credential, subscriptions, options: CLIENT_OPTIONS, MARKER, SAVED };
    await page.evaluate(pageHarness, harness);
    const taskScoped = spec.credential === "publicToken";
    const run = new Run({ sim, page, harness, key, secrets: [key, load0.token, load0.publicToken], subscriptions, tokens, skip: spec.skip, taskScoped });
    run.keepGoing = keepGoing;
    for (let n = 0; n < cycles; n++) {
      await run.cycle(n);
      if (onProgress && (n + 1) % progressEvery === 0) onProgress(n + 1, run.report(n + 1, Date.now() - t0));
    }
    return { set, ...run.report(cycles, Date.now() - t0) };
  } finally {
    await sim.stop();
    await browser.close();
    await server.close();
  }
}

/** Waits (bounded) until the simulator lists the task of `source`. */
async function waitForTask(sim, source) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const task = (await sim.control("_sim/tasks")).find((t) => t.source === source);
    if (task) return task;
    await sleep(20);
  }
  throw new Error(`the simulator did not register the ${source} task within ${SETTLE_TIMEOUT_MS} ms`);
}

/** The figures as a Markdown table. */
export function formatReport(r) {
  const rows = [
    ["cycles run", r.cycles],
    ["client rounds (one per revoked key or reloaded page)", r.rounds],
    ["page_hidden faults that came back reloaded, not restored (Chromium's reasons)", Object.entries(r.reloads).map(([k, v]) => `${k} ${v}`).join(", ") || "none"],
    ["wall time", `${r.seconds} s`],
    ["reconnects", r.reconnects],
    ["frames sent to subscriptions (decided)", r.framesSent],
    ["... delivered to every matching subscription", r.framesDelivered],
    ["... reported missing, for an injected fault (by cause below)", r.framesReportedMissing],
    ["lost without a report", r.lost],
    ["reported missing with no injected fault to explain it", r.unexplainedDiscards],
    ["duplicates delivered", r.duplicatesDelivered],
    ["frames no subscription matches", r.framesNotForUs],
    ["(frame, subscription) pairs checked", r.pairsChecked],
    ["pairs the log cannot decide (running seed without an all-task subscription, injected task frame)", r.pairsUndecidable],
    ["deliveries (event × subscription)", r.deliveries],
    ["re-seeded deliveries (no seq)", r.reseeded],
    ["frames in flight when a client ended", r.framesUnsettled],
    ["max WebAssembly memory", mib(r.maxMemoryBytes)],
  ];
  return reportTable(rows, { faults: r.faults, discards: r.discards, discardsTitle: "Frames reported missing, by report and cause" });
}
