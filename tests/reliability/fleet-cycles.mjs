// fleet-rlm fault cycles: a FleetRlmClient of the built npm package in headless Chromium
// (chat socket and events socket of one session) against a runwatch-sim process with auth
// required, running scripted turns while the simulator injects one fault kind after another.
// After every cycle the FleetLedger (fleet-ledger.mjs) compares the send log with what the
// page's callbacks and stores got; the cycle also checks page errors, WebAssembly memory, and
// that the access token appears in nothing the SDK emitted.
//
//   const report = await runFleetCycles({ cycles: 60 });   // throws on the first broken cycle
//
// Used by fleet-faults.test.mjs (CI) and soak.mjs --fleet (longer, writes RELIABILITY.md).
// Every wait is bounded; a cycle that cannot settle fails with what it was waiting for.
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { launchBrowser } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { FleetLedger } from "./fleet-ledger.mjs";
import {
  pullLog, assertNoPageErrors, assertNoSecret, assertMemory, waitForPage, injectFault, clearFaults, sleep, SETTLE_TIMEOUT_MS,
  reportTable, mib,
} from "./common.mjs";

/** Client options: fast reconnects, a short stall window so a half-open socket is reported. */
const CLIENT_OPTIONS = {
  reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  connectTimeoutMs: 3000,
  commandTimeoutMs: 5000,
  stallAfterMs: 300,
};
/** Scripted delays × this: a normal turn takes about half a second. */
const PACE = "0.15";
/** The page's records must stay unchanged this long once the server is idle. */
const QUIET_MS = 150;
/** How long a client whose credential was refused must stay quiet. */
const AUTH_QUIET_MS = 800;
const HISTORY = 40;

/** Hostile frames, injected mid-turn into the events socket on even passes, the chat socket on odd ones. */
const HOSTILE = [
  ["garbage", { count: 3 }], ["truncated", {}], ["binary", {}], ["invalid_utf8", {}], ["nan", {}], ["proto_keys", {}],
  ["unknown_event", {}], ["bad_types", {}], ["deep_nesting", {}], ["oversized", { bytes: 9 * 1024 * 1024 }],
];

/**
 * The fault kinds, one per cycle in this order; `auth_expired` ends a round (the client is
 * refused for good) and the next cycle starts a new client. `act(c, pass)` runs a turn,
 * injects the fault and waits for its effect (it may return a finer label for the report);
 * the cycle then clears faults and settles.
 */
export const FLEET_FAULTS = [
  { kind: "events_drop", act: (c) => c.dropMidTurn("events") },
  { kind: "chat_drop", act: (c) => c.dropMidTurn("chat") },
  { kind: "chat_close_1011", act: (c) => c.dropMidTurn("chat", 1011) },
  { kind: "events_close_1001", act: (c) => c.dropMidTurn("events", 1001) },
  { kind: "events_close_1008", act: (c) => c.dropMidTurn("events", 1008) },
  { kind: "restart", act: (c) => c.restartMidTurn() },
  { kind: "duplicate_steps", act: (c) => c.stepFault({ kind: "duplicate", rate: 0.5 }) },
  { kind: "reorder_steps", act: (c) => c.stepFault({ kind: "reorder", rate: 0.5 }) },
  { kind: "drop_steps", act: (c) => c.stepFault({ kind: "drop", rate: 0.3 }) },
  { kind: "queue_overflow", act: (c) => c.queueOverflow() },
  { kind: "half_open", act: (c) => c.halfOpenTurn(1, "#long=100") },
  { kind: "slow_writer", act: (c) => c.slowWriter() },
  { kind: "refuse", act: (c) => c.refuse() },
  { kind: "cancel", act: (c) => c.cancelTurn() },
  { kind: "error_turn", act: (c) => c.plainTurn("#error #code=llm_timeout") },
  { kind: "rerun_joined_late", act: (c) => c.rerunJoinedLate() },
  { kind: "hitl_turn", act: (c) => c.plainTurn("#hitl") },
  { kind: "hitl_answered", act: (c) => c.answerHitl() },
  { kind: "command_lost", act: (c) => c.commandLost() },
  ...HOSTILE.map(([kind, spec]) => ({ kind, act: (c, pass) => c.hostile({ kind, ...spec }, pass % 2 ? "chat" : "events") })),
  { kind: "auth_expired", act: (c) => c.authExpired() },
];

/** Installed in the page before the package loads: records everything the SDK emits. */
function pageHarness({ url, options }) {
  const rw = (window.rw = { n: 0, sockets: { chat: [], events: [] }, chat: [], exec: [], diags: [], states: [], token: null, authCalls: 0 });
  const WS = window.WebSocket;
  // Number every socket the SDK opens, so the simulator's log ties it to its connection;
  // epoch k of a socket is its k-th socket of the current client.
  window.WebSocket = class extends WS {
    constructor(u, protocols) {
      const numbered = new URL(u);
      const attempt = ++rw.n;
      numbered.searchParams.set("attempt", String(attempt));
      rw.sockets[numbered.pathname.endsWith("/events") ? "events" : "chat"].push(attempt);
      super(numbered.href, protocols);
    }
  };
  const g = (socket, epoch) => rw.sockets[socket][epoch - 1] ?? -1;
  rw.start = async (sessionId) => {
    const { default: init, FleetRlmClient } = await import("runwatch/fleet-rlm");
    rw.wasm ??= await init();
    rw.sockets = { chat: [], events: [] };
    rw.client = new FleetRlmClient({ url, sessionId, auth: () => { rw.authCalls += 1; return Promise.resolve(rw.token); }, ...options });
    rw.client.onState((s) => rw.states.push({ ...s, g: g(s.socket, s.epoch) }));
    rw.client.onDiagnostic((d) => rw.diags.push({
      ...d, g: d.epoch === undefined ? undefined : g(d.socket, d.epoch), ...(d.lost ? { lostG: d.lost.map((t) => g(d.socket, t.epoch)) } : {}),
    }));
    rw.client.onChat((frames) => {
      for (const f of frames) rw.chat.push([g("chat", f.epoch), f.type, f.type === "error" ? f.code ?? null : f.kind ?? null, f.eventId ?? null]);
    });
    rw.client.onExecution((frames) => {
      for (const f of frames) rw.exec.push([g("events", f.epoch), f.type, f.type === "error" ? f.code ?? null : f.runId ?? null, f.step?.id ?? null, f.step?.parentId ?? null]);
    });
  };
  /** A run as the oracle reads it: each tree node as [id, parentId, tree parent, parentMissing]. */
  const flatRun = (run) => {
    const steps = [];
    let sorted = true;
    const walk = (nodes, parent) => nodes.forEach((n, i) => {
      if (i > 0 && (nodes[i - 1].index ?? Infinity) > (n.index ?? Infinity)) sorted = false;
      steps.push([n.step.id, n.step.parentId ?? null, parent, n.parentMissing]);
      walk(n.children, n.step.id);
    });
    walk(run.tree, null);
    const { runId, status, sawStart, possiblyIncomplete, missing, missingCount, steps: count } = run;
    return { runId, status, sawStart, possiblyIncomplete, missing, missingCount, count, steps, sorted };
  };
  rw.size = () => rw.chat.length + rw.exec.length + rw.diags.length + rw.states.length;
  rw.drain = () => {
    const c = rw.client;
    const out = {
      chat: rw.chat, exec: rw.exec, diags: rw.diags, states: rw.states,
      runs: c.runs.getSnapshot().runs.map(flatRun),
      turns: c.turns.getSnapshot().turns.map((t) => ({ turnId: t.turnId, state: t.state, error: t.error })),
      stats: c.stats(), chatState: c.chatState, eventsState: c.eventsState, sockets: rw.n, authCalls: rw.authCalls,
      memory: rw.wasm.memory.buffer.byteLength,
    };
    rw.chat = []; rw.exec = []; rw.diags = []; rw.states = [];
    return out;
  };
}

class FleetRun {
  constructor({ sim, page }) {
    this.sim = sim;
    this.page = page;
    this.ledger = new FleetLedger();
    this.logNext = 0;
    this.secrets = [];
    this.faults = {};
    this.reconnects = 0;
    this.rounds = 0;
    this.maxMemory = 0;
    this.clientLive = false;
    this.history = [];
  }

  // ── helpers the fault acts use ─────────────────────────────────────────────

  fault(spec, journalKind) { return injectFault(this.sim, this.ledger, spec, journalKind); }
  clear() { return clearFaults(this.sim); }
  waitFor(fn, arg, what) { return waitForPage(this.page, fn, arg, what); }
  /**
   * The simulator's connection id of this client's `socket`. The client counts an events
   * socket live once it is open, and the simulator lists it as `pending` until its checks
   * pass, so a socket just (re)opened is waited for, up to SETTLE_TIMEOUT_MS.
   */
  async conn(socket) {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const conns = await this.sim.control("fleet/connections");
      const mine = conns.filter((c) => c.role === socket && (socket === "chat" || c.session_id === this.sessionId));
      if (mine.length === 1) return mine[0].id;
      const checking = conns.some((c) => c.role === "pending");
      if (!checking || Date.now() > deadline) throw new Error(`expected one ${socket} socket of the client, the simulator lists ${JSON.stringify(conns)}`);
      await sleep(20);
    }
  }
  /** Sends a message (the simulator's script markers pick the turn). */
  send(text) {
    return this.page.evaluate((t) => window.rw.client.send(t), `cycle ${this.n} ${text}`);
  }
  waitTurnEnd() {
    return this.waitFor(() => !["sent", "running"].includes(window.rw.client.turns.getSnapshot().turns.at(-1)?.state), undefined, "the turn's end");
  }
  waitLive() {
    return this.waitFor(() => window.rw.client.chatState === "live" && window.rw.client.eventsState === "live", undefined, "both sockets live");
  }
  /** Waits until `n` more frames of `socket` arrived since the turn was sent. */
  waitFrames(socket, n, from) {
    return this.waitFor(([s, k]) => window.rw[s === "chat" ? "chat" : "exec"].length >= k, [socket, from + n], `${n} ${socket} frames`);
  }
  async sentTurn(text) {
    const from = await this.page.evaluate(() => ({ chat: window.rw.chat.length, events: window.rw.exec.length }));
    await this.send(text);
    return from;
  }

  // ── the fault acts ─────────────────────────────────────────────────────────

  /**
   * The socket dropped (or closed with `code`) in the middle of a turn, its writer slowed so
   * frames are still queued: they are logged, never written (the connection's lost tail).
   */
  async dropMidTurn(socket, code) {
    const conn = await this.conn(socket);
    await this.fault({ kind: "slow_writer", delayMs: 6, conn });
    // Chat frames stream as tokens, steps come in bursts: a flood keeps the events queue busy.
    const from = await this.sentTurn(socket === "chat" ? "#long=300" : "#flood=300");
    await this.waitFrames(socket, 30, from[socket]);
    await this.fault({ kind: "drop_all", conn, ...(code ? { code } : {}) });
    await this.waitTurnEnd();
    await this.waitLive();
  }

  /** The server restarts mid-turn: both sockets drop, the turn ends with no further frame. */
  async restartMidTurn() {
    const from = await this.sentTurn("#long=300");
    await this.waitFrames("events", 3, from.events);
    await this.fault({ kind: "restart" });
    await this.waitTurnEnd();
    await this.waitLive();
  }

  /** A rate fault on the events socket's steps during a normal turn (fleet's real duplicates and reorderings are steps). */
  async stepFault(spec) {
    await this.fault({ ...spec, conn: await this.conn("events"), event: "execution_step" });
    await this.send("#long=40");
    await this.waitTurnEnd();
    await this.clear();
  }

  /** A slow events socket and a flood of steps: the server's drop-oldest queue drops silently. */
  async queueOverflow() {
    await this.fault({ kind: "slow_writer", delayMs: 2, conn: await this.conn("events") }, "slow_writer");
    await this.send("#flood=800");
    await this.waitTurnEnd();
    await this.waitIdle();
    await this.clear();
  }

  /**
   * The events socket goes silent (half-open) for `seconds` as a turn `text` starts: the SDK
   * must say `stalled` (a turn runs longer than `stallAfterMs` and nothing arrives).
   */
  async halfOpenTurn(seconds, text) {
    await this.fault({ kind: "half_open", conn: await this.conn("events"), seconds });
    const t0 = Date.now();
    await this.send(text);
    await this.waitTurnEnd();
    await sleep(Math.max(0, seconds * 1000 + 50 - (Date.now() - t0)));
    await this.clear();
  }

  /**
   * A turn fails (its run_id is used again by the next turn, spec §0.8), then the events
   * socket misses the start of the next turn (half-open for a moment): the steps that do
   * arrive belong to a new run, not to the failed one.
   */
  async rerunJoinedLate() {
    await this.plainTurn("#error #code=llm_timeout");
    await this.waitIdle();
    await this.halfOpenTurn(0.45, "#long=200");
  }

  /** Both sockets' writers slowed during a turn: nothing may be lost. */
  async slowWriter() {
    await this.fault({ kind: "slow_writer", delayMs: 3 });
    await this.send("#long=60");
    await this.waitTurnEnd();
    await this.waitIdle();
    await this.clear();
  }

  /** Upgrades refused for a while, both sockets dropped: the retries get 503 until it ends. */
  async refuse() {
    await this.fault({ kind: "refuse", seconds: 0.3 });
    await this.fault({ kind: "drop_all" });
    await this.waitLive();
    await this.clear();
  }

  /** The app cancels a long turn. */
  async cancelTurn() {
    const from = await this.sentTurn("#long=300");
    await this.waitFrames("chat", 6, from.chat);
    await this.page.evaluate(() => window.rw.client.cancel());
    await this.waitTurnEnd();
  }

  /** The agent asks and waits; the app answers with resolveHitl, and the turn goes on to its end. */
  async answerHitl() {
    await this.send("#hitl_wait");
    await this.waitFor(() => window.rw.client.turns.getSnapshot().turns.at(-1)?.hitl.length > 0, undefined, "the agent's question");
    const answer = await this.page.evaluate(async () => {
      const { messageId, options } = window.rw.client.turns.getSnapshot().turns.at(-1).hitl[0];
      return { label: options[0], result: await window.rw.client.resolveHitl(messageId, options[0]) };
    });
    if (answer.result.status !== "ok" || answer.result.resolution !== answer.label) throw new Error(`resolveHitl answered ${JSON.stringify(answer)}`);
    await this.waitTurnEnd();
    const turn = await this.page.evaluate(() => window.rw.client.turns.getSnapshot().turns.at(-1));
    if (turn.state !== "completed" || turn.hitl[0].resolution !== answer.label) throw new Error(`the answered turn ended ${turn.state}, its question shows ${turn.hitl[0].resolution}`);
  }

  /**
   * A command whose answer the half-open chat socket withholds, then the socket drops: the
   * command must reject with connectionLost (never resolve late, never hang).
   */
  async commandLost() {
    const conn = await this.conn("chat");
    await this.fault({ kind: "half_open", conn, seconds: 5 });
    await this.page.evaluate(() => {
      window.rw.pending = window.rw.client.command("list_files", { path: "." }, 10_000).then((ok) => ({ ok }), (e) => ({ code: e.code, name: e.name }));
    });
    await sleep(100);
    await this.fault({ kind: "drop_all", conn });
    await this.waitLive();
    const outcome = await this.page.evaluate(() => window.rw.pending);
    if (outcome.code !== "connectionLost") throw new Error(`a command in flight when the chat socket dropped settled ${JSON.stringify(outcome)}`);
  }

  async plainTurn(text) {
    await this.send(text);
    await this.waitTurnEnd();
  }

  /** A hostile frame into `socket` in the middle of a turn. */
  async hostile(spec, socket) {
    const from = await this.sentTurn("#long=120");
    await this.waitFrames(socket, 3, from[socket]);
    await this.fault({ ...spec, conn: await this.conn(socket) });
    await this.waitTurnEnd();
    await this.waitLive();
    return `${spec.kind}@${socket}`;
  }

  /**
   * The access token expires while both sockets are up; they drop: every reconnect is refused
   * (auth_failed, 1008), so both must stop in `authFailed`, say why, and not retry.
   */
  async authExpired() {
    const expired = (await this.sim.control("fleet/token", { tenant: "acme", user: "ada", ttl_s: -60 })).access_token;
    this.secrets.push(expired);
    await this.page.evaluate((t) => { window.rw.token = t; }, expired);
    await this.fault({ kind: "drop_all" }, "auth_expired");
    await this.waitFor(() => window.rw.client.chatState === "authFailed" && window.rw.client.eventsState === "authFailed", undefined, "authFailed on both sockets");
    const before = await this.page.evaluate(() => ({ sockets: window.rw.n, calls: window.rw.authCalls }));
    await sleep(AUTH_QUIET_MS);
    const after = await this.page.evaluate(() => ({
      sockets: window.rw.n, calls: window.rw.authCalls,
      last: ["chat", "events"].map((s) => window.rw.states.findLast((x) => x.socket === s)),
    }));
    if (after.sockets !== before.sockets || after.calls !== before.calls) throw new Error(`the client kept reconnecting after its token was refused: ${JSON.stringify({ before, after })}`);
    for (const s of after.last) {
      if (s?.newState !== "authFailed" || s.serverError?.code !== "auth_failed") throw new Error(`authFailed should carry the server's auth_failed error: ${JSON.stringify(s)}`);
    }
  }

  // ── cycle and checks ───────────────────────────────────────────────────────

  async startClient() {
    this.rounds += 1;
    this.sessionId = `fleet-cycles-${this.rounds}`;
    const token = (await this.sim.control("fleet/token", { tenant: "acme", user: "ada" })).access_token;
    this.secrets.push(token);
    await this.page.evaluate(async ({ token, sessionId }) => { window.rw.token = token; await window.rw.start(sessionId); }, { token, sessionId: this.sessionId });
    this.ledger.newClient();
    await this.waitLive();
    this.clientLive = true;
  }

  /** Waits until the simulator runs no turn and every fleet socket's queue is empty. */
  async waitIdle() {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const [turns, conns] = await Promise.all([this.sim.control("fleet/turns"), this.sim.control("fleet/connections")]);
      if (turns.length === 0 && conns.every((c) => c.queued === 0)) return;
      if (Date.now() > deadline) throw new Error(`the simulator did not go idle: turns ${JSON.stringify(turns)}, queues ${JSON.stringify(conns.map((c) => [c.id, c.queued]))}`);
      await sleep(20);
    }
  }

  /** Everything sent has reached the page: the server is idle and the page's records stop changing. */
  async settle(where) {
    await this.waitIdle();
    const { logNext } = await this.sim.control("_sim/health");
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    let size = await this.page.evaluate(() => window.rw.size());
    for (let still = Date.now(); Date.now() - still < QUIET_MS;) {
      await sleep(30);
      const now = await this.page.evaluate(() => window.rw.size());
      if (now !== size) [size, still] = [now, Date.now()];
      if (Date.now() > deadline) throw new Error(`${where}: the page kept receiving for ${SETTLE_TIMEOUT_MS} ms after the server went idle`);
    }
    const rec = await this.page.evaluate(() => window.rw.drain());
    const { entries, next } = await pullLog(this.sim, this.logNext);
    this.logNext = next;
    this.ledger.addLog(entries);
    this.ledger.addPage(rec);
    this.ledger.settle({ cutoff: logNext - 1, runs: rec.runs, turns: rec.turns, evicted: rec.stats.runs?.runsEvicted ?? 0 });
    this.reconnects += rec.states.filter((s) => s.newState === "backoff").length;
    this.maxMemory = Math.max(this.maxMemory, rec.memory);
    this.history.push(...rec.states.map((x) => ({ state: x })), ...rec.diags.map((x) => ({ diagnostic: { ...x, message: x.message?.slice(0, 80) } })));
    this.history.splice(0, Math.max(0, this.history.length - HISTORY));
    if (this.ledger.problems.length) {
      const recent = this.history.map((h) => JSON.stringify(h)).join("\n    ");
      let message = `${where}: ${this.ledger.problemCount} problem(s):\n  ${this.ledger.problems.slice(0, 12).join("\n  ")}\n  recent states and diagnostics:\n    ${recent}`;
      if (process.env.RUNWATCH_DUMP_LOG) message += `\n  send log:\n    ${entries.filter((e) => e.kind !== "open").map((e) => JSON.stringify(e).slice(0, 240)).join("\n    ")}\n  page: ${JSON.stringify({ chat: rec.chat, exec: rec.exec }).slice(0, 6000)}`;
      throw new Error(message);
    }
    assertMemory(where, rec.memory);
    assertNoPageErrors(where, this.page);
    assertNoSecret(where, this.page, rec, this.secrets);
  }

  async cycle(n, pass) {
    this.n = n;
    const fault = FLEET_FAULTS[n % FLEET_FAULTS.length];
    if (!this.clientLive) await this.startClient();
    const label = (await fault.act(this, pass)) ?? fault.kind;
    this.faults[label] = (this.faults[label] ?? 0) + 1;
    await this.clear();
    await this.settle(`cycle ${n} (${fault.kind})`);
    if (fault.kind === "auth_expired") {
      await this.page.evaluate(() => window.rw.client.close());
      this.clientLive = false;
    }
  }

  report(cycles, ms) {
    const { discards, ...figures } = this.ledger.figures;
    return {
      cycles, rounds: this.rounds, seconds: Math.round(ms / 1000), faults: this.faults, reconnects: this.reconnects,
      maxMemoryBytes: this.maxMemory, ...figures, discards: { ...discards },
    };
  }
}

/**
 * Runs `cycles` fleet fault cycles (or as many as fit in `minutes`); throws on the first
 * cycle whose checks fail.
 * @param {{cycles: number, minutes?: number, onProgress?: (n: number, report: object) => void, progressEvery?: number}} opts
 */
export async function runFleetCycles({ cycles, minutes = Infinity, onProgress, progressEvery = 100 }) {
  const server = await startServer();
  const browser = await launchBrowser({ timeoutMs: SETTLE_TIMEOUT_MS });
  const sim = await startSim({ args: ["--fleet-auth-required", "--fleet-pace", PACE, "--seed", "11"] });
  const t0 = Date.now();
  try {
    const page = await browser.newPage();
    await page.goto(new URL(BLANK_PAGE, server.url).href);
    await page.evaluate(pageHarness, { url: `http://127.0.0.1:${sim.port}`, options: CLIENT_OPTIONS });
    const run = new FleetRun({ sim, page });
    let n = 0;
    for (; n < cycles && Date.now() - t0 < minutes * 60_000; n++) {
      await run.cycle(n, Math.floor(n / FLEET_FAULTS.length));
      if (onProgress && (n + 1) % progressEvery === 0) onProgress(n + 1, run.report(n + 1, Date.now() - t0));
    }
    return run.report(n, Date.now() - t0);
  } finally {
    await sim.stop();
    await browser.close();
    await server.close();
  }
}

/** The figures as a Markdown table. */
export function formatFleetReport(r) {
  const rows = [
    ["cycles run", r.cycles],
    ["client rounds (one per expired token)", r.rounds],
    ["wall time", `${r.seconds} s`],
    ["reconnects", r.reconnects],
    ["frames on the wire (chat events, error frames, execution events), decided", r.framesSent],
    ["... delivered exactly once, in wire order", r.framesDelivered],
    ["... reported missing, for an injected fault (by cause below)", r.framesReportedMissing],
    ["hostile frames injected", r.injected],
    ["... delivered as they were (`unknown` or typed)", r.injectedDelivered],
    ["frames the simulator withheld (dropped, half-open, drop-oldest queue)", r.withheld],
    ["... revealed by the stores or a diagnostic (by cause below)", r.withheldReported],
    ["duplicated step copies not handed over again", r.copiesDropped],
    ["steps that arrived inside `execution_completed` before their own (reordered) frame", r.stepsInCompletion],
    ["lost without a report", r.lost],
    ["reported missing with no injected fault to explain it", r.unexplainedDiscards],
    ["duplicates delivered", r.duplicatesDelivered],
    ["delivered but never sent", r.invented],
    ["delivered out of wire order", r.outOfOrder],
    ["turn / run / step checks", `${r.turnsChecked} / ${r.runsChecked} / ${r.stepsChecked}`],
    ["max WebAssembly memory", mib(r.maxMemoryBytes)],
  ];
  return reportTable(rows, { faults: r.faults, discards: r.discards, discardsTitle: "Frames reported missing or withheld, by report and cause" });
}
