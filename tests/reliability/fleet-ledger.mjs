// The fleet-rlm reliability oracle: compares what the simulator sent on a FleetRlmClient's
// two sockets (its send log) with what the page's callbacks and stores got, and fails on
// anything lost without a report, delivered twice or out of order, delivered without having
// been sent, a turn or run left in a state the frames do not explain, or a step tree that
// does not follow the steps' `parent_id`.
//
//   const ledger = new FleetLedger();
//   ledger.noteFault(kind, logIndex);         // a fault was injected at this log index
//   ledger.addLog(entries);                   // send-log entries, in order
//   ledger.addPage({ chat, exec, diags, states });  // what the page recorded (see addPage)
//   ledger.settle({ cutoff, runs, turns, evicted });  // decide every frame logged up to `cutoff`
//   ledger.newClient();                       // a new client: its stores start empty
//   ledger.problems                           // [] when everything is accounted for
//   ledger.figures                            // counts for the report
//
// fleet-rlm frames carry no sequence number, so frames are told apart by what they carry
// (the send log records it: a chat event's `event_id`, an error frame's `code`, an execution
// event's `run_id`, `step.id` and `parent_id`), numbered by occurrence within their
// connection; a `command_result` settles a command's promise (the cycle checks it). The page
// opens every socket as `...&attempt=N` and the simulator logs that path, so page records
// and log entries meet on the attempt number `g`.
//
// Per connection (attempt), a frame the server put on the wire must reach the app exactly
// once, in wire order (a frame the simulator `reordered` may swap with its neighbour; a
// `duplicated` copy of a step must not reach it: the SDK drops copies of steps it holds), or
// be explained:
//   - an injected hostile frame (garbage, truncated, NaN, bad types, …) is delivered as is
//     (`unknown` or a typed event, but not as a copy of a real frame), or a `decodeError` /
//     `oversizedFrame` of that socket and connection names it (counted: reports ≤ injected
//     frames), or it is in the connection's lost tail;
//   - frames after the last one delivered on a connection the SDK saw lost (a state change
//     with a reason) and named in a later `resync` (or whose credential was refused for
//     good: `authFailed`) are its lost tail, excused when an injected fault can have cost
//     that connection (the close the simulator logged, or a connection fault injected while
//     it lived); a frame missing *before* a delivered one is never excused.
// A frame the simulator withheld (dropped, half-open, the drop-oldest queue) never reached
// the browser; the SDK must still report it where the wire lets it: a withheld step is
// listed in its run's `missing` indices (or arrived anyway inside `execution_completed`), a
// withheld `execution_started` leaves its run `sawStart: false`, and anything withheld by a
// half-open events socket is excused by a `stalled` diagnostic on that connection. A chat
// frame withheld has no excuse (nothing on this wire could reveal it).
//
// At every settle the stores are checked against the frames: every turn has ended (the
// server runs none) in a state some delivered frame or a chat loss explains; the store
// shows one run per server run whose frames reached the client (run ids repeat: runs are
// told apart by the `execution_started` frames in the log); a run whose completion was
// delivered has that completion's status, and a run the server ran that is still
// `running` is `possiblyIncomplete` (its connection was lost) or its completion was excused
// above (a run only an injected frame named is not the server's); a run that saw its start
// and was not cut off lists as missing only indices the simulator withheld; each
// step appears once in its run's tree, siblings in index order, under its `parent_id` when
// the run holds that parent (else at the top with `parentMissing`), and a run holds only
// steps that were delivered.

import { Problems, FaultJournal, WITHHELD } from "./common.mjs";

/** Send-log fault labels of hostile frames the simulator injects (sim/src/fleet/inject.rs). */
export const INJECTED = new Set([
  "garbage", "truncated", "oversized", "deep_nesting", "nan", "binary", "invalid_utf8", "proto_keys", "unknown_event", "bad_types",
]);
/**
 * Faults that can cost a connection, so explain its lost tail: the simulator ends it
 * (drop_all, restart, refuse), the browser refuses a frame (invalid UTF-8), or the client's
 * credential stops working (auth_expired).
 */
export const CONNECTION_FAULTS = new Set(["drop_all", "restart", "refuse", "invalid_utf8", "auth_expired"]);
/** A completion's `summary.status` (or `interrupted`) → the run status the store must show. */
const RUN_STATUS = { completed: "completed", error: "error", cancelled: "cancelled", needs_human_review: "needsHumanReview", interrupted: "interrupted" };
/** A chat event kind that ends a turn → the turn state it gives. */
const TURN_END = { final: "completed", cancelled: "cancelled", error: "error" };
const EXECUTION = new Set(["execution_started", "execution_step", "execution_completed"]);

/** The socket of an upgrade path. */
export function socketOf(path) {
  const { pathname } = new URL(path, "ws://x");
  if (pathname === "/api/v1/ws/execution/events") return "events";
  if (pathname === "/api/v1/ws/execution") return "chat";
  return undefined;
}

/** The step index of a step id `"<run_id>:s<N>"`. */
export function stepIndex(id) {
  const m = /:s(\d+)$/.exec(id ?? "");
  return m ? Number(m[1]) : undefined;
}

/** The base key of a send-log frame entry (undefined: not a frame the app is handed). */
function wireKey(e) {
  if (EXECUTION.has(e.event)) return `${e.event}|${e.runId ?? ""}|${e.stepId ?? ""}|${e.parentId ?? ""}`;
  if (e.event === "error") return `error|${e.errorCode ?? ""}`;
  if (e.event?.startsWith("event:")) return `event|${e.eventId ?? ""}`;
  return undefined;
}

/** The base key of a page record (see `addPage`). */
function pageKey(socket, [, type, a, b, c]) {
  if (type === "error") return `error|${a ?? ""}`;
  if (socket === "events") return `${type}|${a ?? ""}|${b ?? ""}|${c ?? ""}`;
  return `${type}|${b ?? ""}`;
}

export class FleetLedger extends Problems {
  constructor() {
    super();
    this.journal = new FaultJournal();
    /** attempt g → its connection: socket, log entries on the wire, page records, reports. */
    this.attempts = new Map();
    /** connection id → attempt g */
    this.attemptOf = new Map();
    /** Withheld frames waiting for the stores' verdict: [{ g, e }] */
    this.withheld = [];
    /** Runs the server really ran (named by a frame that was not injected). */
    this.serverRuns = new Set();
    /** run_id → how many runs of that id the server started so far (run ids repeat, spec §0.8). */
    this.instances = new Map();
    /** Steps withheld by the simulator: `${runId}|${index}`. */
    this.withheldSteps = new Set();
    /** Runs whose withheld completion a diagnostic excused. */
    this.excusedCompletions = new Set();
    /** Steps delivered (as `execution_step` or inside `execution_completed`): `${runId}|${id}|${parentId}`. */
    this.deliveredSteps = new Set();
    /** Completions delivered since the last settle: [{ runId, status }]. */
    this.completions = [];
    this.newClient();
    this.figures = {
      framesSent: 0, // frames on the wire, decided (hostile ones apart)
      framesDelivered: 0, // ... delivered exactly once, in order
      injected: 0, // hostile frames injected, decided
      injectedDelivered: 0, // ... delivered as they were (`unknown` or typed)
      framesReportedMissing: 0, // frames not delivered, reported, for an injected fault (by cause below)
      withheld: 0, // frames the simulator withheld, decided
      withheldReported: 0, // ... revealed by the stores or a diagnostic (by cause below)
      copiesDropped: 0, // duplicated step copies the SDK did not hand over again
      stepsInCompletion: 0, // steps delivered inside execution_completed before their own frame (reordered)
      lost: 0, // frames lost without a report (must stay 0)
      unexplainedDiscards: 0, // reported missing with no fault to explain it (must stay 0)
      duplicatesDelivered: 0, // must stay 0
      invented: 0, // delivered, never sent (must stay 0)
      outOfOrder: 0, // must stay 0
      turnsChecked: 0,
      runsChecked: 0,
      stepsChecked: 0,
      discards: {}, // "<report>: <cause>" → frames
    };
  }

  /** A new client (its stores start empty): the turn bookkeeping starts over. */
  newClient() {
    /** Turn-ending frames the current client's chat socket delivered, and its chat losses. */
    this.turnEnds = { completed: 0, cancelled: 0, error: 0, interrupted: 0 };
    /** run_id → the server runs (instance numbers) of that id whose frames reached this client. */
    this.deliveredRuns = new Map();
  }

  /** A fault of `kind` was injected when the send log's next index was `i`. */
  noteFault(kind, i) {
    this.journal.note(kind, i);
  }

  /** Send-log entries, in index order. */
  addLog(entries) {
    for (const e of entries) {
      if (e.kind === "open") this.open(e);
      else if (e.kind === "close") this.closed(e);
      else if (e.kind === "event" || e.kind === "raw") this.frame(e);
    }
  }

  open(e) {
    const socket = socketOf(e.path);
    if (!socket) return;
    const g = Number(new URL(e.path, "ws://x").searchParams.get("attempt"));
    if (!g) return this.problem(`fleet connection ${e.conn} was opened without an attempt number: not the page's`);
    this.attemptOf.set(e.conn, g);
    this.attempts.set(g, {
      g, socket, conn: e.conn, openedAt: e.i, closeFault: undefined, lost: false, resynced: false, authFailed: false, stalled: false,
      wire: [], next: 0, sent: new Map(), // wire frames, the first not yet decided, occurrences by base key
      got: [], gotSeen: new Map(), matched: new Set(), decided: new Set(), // page records
      lastPos: -1, missing: [],
      injected: 0, injectedDelivered: 0, reports: 0, flaggedReports: 0, flaggedInjected: 0, countedReports: 0,
    });
  }

  closed(e) {
    const a = this.attempts.get(this.attemptOf.get(e.conn));
    if (a && e.fault) a.closeFault = e.fault;
  }

  frame(e) {
    const a = this.attempts.get(this.attemptOf.get(e.conn));
    // A command's answer settles its promise (the cycle checks it), not a frame for the app.
    if (!a || e.event === "command_result") return;
    if (e.runId && !INJECTED.has(e.fault)) {
      this.serverRuns.add(e.runId);
      if (e.event === "execution_started") this.instances.set(e.runId, (this.instances.get(e.runId) ?? 0) + 1);
      e.instance = this.instances.get(e.runId) ?? 0;
    }
    if (WITHHELD.has(e.fault)) {
      if (e.event === "execution_step") this.withheldSteps.add(`${e.runId}|${stepIndex(e.stepId)}`);
      return void this.withheld.push({ g: a.g, e });
    }
    if (INJECTED.has(e.fault)) return void a.wire.push({ e, injected: true });
    const base = wireKey(e);
    if (base === undefined) return;
    if (e.fault === "duplicated") return void a.wire.push({ e, copy: true });
    const n = (a.sent.get(base) ?? 0) + 1;
    a.sent.set(base, n);
    a.wire.push({ e, key: `${base}#${n}`, reordered: e.fault === "reordered" });
  }

  /**
   * What the page recorded since the last call.
   * @param {object} rec
   * @param {[number, string, string|null, string|null][]} rec.chat  [g, type, code (error) or kind, eventId]
   * @param {[number, string, string|null, string|null, string|null][]} rec.exec  [g, type, runId (code of an error), step id, step parentId]
   * @param {object[]} rec.diags   diagnostics with `socket` and `g`
   * @param {object[]} rec.states  state changes with `socket` and `g`
   */
  addPage({ chat = [], exec = [], diags = [], states = [] }) {
    for (const d of diags) {
      const a = this.attempts.get(d.g);
      if (a && (d.kind === "decodeError" || d.kind === "oversizedFrame")) a.reports += 1;
      if (a && d.kind === "stalled") a.stalled = true;
      // A resync names the connections whose tails were lost (the page maps their epochs to `lostG`).
      if (d.kind === "resync") for (const lg of d.lostG ?? []) if (this.attempts.has(lg)) this.attempts.get(lg).resynced = true;
    }
    for (const s of states) {
      const a = this.attempts.get(s.g);
      if (a && (s.reason !== undefined || s.newState === "authFailed")) a.lost = true;
      if (a && s.newState === "authFailed") a.authFailed = true;
      if (s.socket === "chat" && s.reason !== undefined) this.turnEnds.interrupted += 1;
    }
    for (const rec of chat) this.delivery("chat", rec);
    for (const rec of exec) this.delivery("events", rec);
  }

  delivery(socket, rec) {
    const [g, type, a1, a2, a3] = rec;
    const a = this.attempts.get(g);
    if (!a || a.socket !== socket) return this.problem(`${socket} frame ${JSON.stringify(rec)} on attempt ${g}, which no ${socket} connection of the log opened`);
    const base = pageKey(socket, rec);
    const n = (a.gotSeen.get(base) ?? 0) + 1;
    a.gotSeen.set(base, n);
    a.got.push({ key: `${base}#${n}`, rec });
    if (socket === "events" && (type === "execution_step" || type === "execution_completed") && a2) this.deliveredSteps.add(`${a1}|${a2}|${a3 ?? ""}`);
    if (socket === "events" && type === "execution_completed") this.completions.push({ g, key: `${base}#${n}`, runId: a1 });
    if (socket === "chat") {
      const end = type === "error" ? "error" : TURN_END[a1];
      if (end) this.turnEnds[end] += 1;
    }
  }

  /**
   * Decides every frame logged up to `cutoff` (everything sent before it has reached the
   * page), then checks the stores: `runs` and `turns` as the page flattened them.
   */
  settle({ cutoff, runs = [], turns = [], evicted = 0 }) {
    for (const a of this.attempts.values()) {
      this.align(a, cutoff);
      this.decideUnmatched(a);
      this.decideInjected(a);
      this.decideMissing(a);
    }
    this.decideWithheld(cutoff, runs);
    this.checkTurns(turns);
    this.checkRuns(runs, { evicted });
  }

  /** Walks the wire frames up to `cutoff` in order, matching each with the page's record. */
  align(a, cutoff) {
    const byKey = new Map(a.got.map((x, j) => [x.key, j]));
    while (a.next < a.wire.length && a.wire[a.next].e.i <= cutoff) {
      const w = a.wire[a.next];
      const before = a.wire[a.next - 1];
      a.next += 1;
      if (w.copy) {
        this.figures.copiesDropped += 1;
        continue;
      }
      if (w.injected) {
        a.injected += 1;
        this.figures.injected += 1;
        continue;
      }
      this.figures.framesSent += 1;
      const j = byKey.get(w.key);
      if (j === undefined && this.inCompletion(a, w)) {
        // The step came inside its run's execution_completed first (the two were swapped):
        // the SDK drops the later copy.
        this.figures.framesDelivered += 1;
        this.figures.stepsInCompletion += 1;
        if (w.e.instance) this.deliveredRun(w.e);
        continue;
      }
      if (j === undefined) {
        a.missing.push(w);
        continue;
      }
      a.matched.add(j);
      w.pos = j;
      this.figures.framesDelivered += 1;
      if (w.e.instance) this.deliveredRun(w.e);
      // A `reordered` frame swaps with the one after it on the wire.
      if (j < a.lastPos && !(before?.reordered || w.reordered)) {
        this.figures.outOfOrder += 1;
        this.problem(`attempt ${a.g} (${a.socket}): ${w.key} was delivered out of wire order`);
      }
      a.lastPos = Math.max(a.lastPos, j);
    }
  }

  deliveredRun(e) {
    const set = this.deliveredRuns.get(e.runId) ?? new Set();
    set.add(e.instance);
    this.deliveredRuns.set(e.runId, set);
  }

  /** An `execution_step` whose step reached the page inside an `execution_completed` of the same connection. */
  inCompletion(a, w) {
    if (w.e.event !== "execution_step") return false;
    const key = `execution_completed|${w.e.runId}|${w.e.stepId}|${w.e.parentId ?? ""}`;
    return a.got.some((x) => x.key.startsWith(`${key}#`));
  }

  /** Page records no wire frame matched: a hostile frame delivered as is, else a copy or an invention. */
  decideUnmatched(a) {
    for (let j = 0; j < a.got.length; j++) {
      if (a.matched.has(j) || a.decided.has(j)) continue;
      const { key, rec } = a.got[j];
      if (a.wire.some((w, k) => k >= a.next && w.key === key)) continue; // its frame lies past the cutoff
      a.decided.add(j);
      const base = key.slice(0, key.lastIndexOf("#"));
      const sent = a.sent.get(base) ?? 0;
      if (sent === 0 && a.injected > a.injectedDelivered) {
        // Not a real frame's copy: one of the hostile frames, delivered as it was.
        a.injectedDelivered += 1;
        this.figures.injectedDelivered += 1;
        continue;
      }
      if (sent > 0) {
        this.figures.duplicatesDelivered += 1;
        this.problem(`attempt ${a.g} (${a.socket}): ${base} was delivered more often than the ${sent} time(s) it was sent`);
      } else {
        this.figures.invented += 1;
        this.problem(`attempt ${a.g} (${a.socket}): delivered ${JSON.stringify(rec)}, which the simulator never sent there`);
      }
    }
  }

  /**
   * Hostile frames: each delivered as is, or reported (a decodeError or oversizedFrame of
   * that connection), or lost with the connection; no more reports than hostile frames.
   */
  decideInjected(a) {
    if (a.reports > a.injected + a.flaggedReports) {
      const extra = a.reports - a.injected - a.flaggedReports;
      a.flaggedReports += extra;
      this.figures.unexplainedDiscards += extra;
      this.problem(`attempt ${a.g} (${a.socket}): ${a.reports} decodeError/oversizedFrame report(s), but only ${a.injected} hostile frame(s) were injected there`);
    }
    const undelivered = a.injected - a.injectedDelivered;
    const reported = Math.min(undelivered, a.reports);
    if (reported > a.countedReports) {
      this.discard("decodeError/oversizedFrame", "injected", reported - a.countedReports);
      a.countedReports = reported;
    }
    const unreported = undelivered - reported - a.flaggedInjected;
    if (unreported <= 0) return;
    a.flaggedInjected += unreported;
    // Only hostile frames after the last frame delivered can have gone with the connection.
    const last = this.lastDelivered(a);
    const inTail = a.wire.slice(0, a.next).filter((w) => w.injected && w.e.i > last).length;
    const cause = this.reportedLoss(a) ? this.connectionCause(a) : undefined;
    const excused = cause ? Math.min(unreported, inTail) : 0;
    if (excused) this.discard("lost with the connection", cause, excused);
    if (unreported > excused) {
      this.figures.lost += unreported - excused;
      this.problem(`attempt ${a.g} (${a.socket}): ${unreported - excused} hostile frame(s) neither delivered nor reported (${a.reports} report(s))`);
    }
  }

  /** The send-log index of the last wire frame delivered on `a` (-1: none). */
  lastDelivered(a) {
    return Math.max(-1, ...a.wire.filter((w) => w.pos !== undefined).map((w) => w.e.i));
  }

  /** Wire frames not delivered: the lost tail of a lost connection, else lost. */
  decideMissing(a) {
    if (!a.missing.length) return;
    if (!this.reportedLoss(a)) {
      // Alive (everything up to the cutoff has arrived), or lost without a resync naming it.
      const why = a.lost ? "was lost with its connection, but no resync names that connection" : "was sent on a live connection but never delivered, and nothing reports it";
      for (const w of a.missing) this.lostFrame(a, w, why);
      a.missing = [];
      return;
    }
    const lastDelivered = this.lastDelivered(a);
    const cause = this.connectionCause(a);
    for (const w of a.missing) {
      if (w.e.i < lastDelivered) this.lostFrame(a, w, "is missing before a frame delivered on the same connection (not a lost tail)");
      else if (!cause) {
        this.figures.unexplainedDiscards += 1;
        this.problem(`attempt ${a.g} (${a.socket}): ${w.key} was lost with its connection, but no injected fault explains that loss`);
      } else this.discard("lost tail", cause, 1);
    }
    a.missing = [];
  }

  /** The SDK said connection `a` was lost and its tail with it: a resync names it, or the credential was refused for good. */
  reportedLoss(a) {
    return a.lost && (a.resynced || a.authFailed);
  }

  /** The injected fault that can have cost connection `a`. */
  connectionCause(a) {
    let to = Infinity;
    for (const b of this.attempts.values()) if (b.socket === a.socket && b.openedAt > a.openedAt) to = Math.min(to, b.openedAt);
    return this.journal.connectionCause({ closeFault: a.closeFault, from: a.openedAt, to, kinds: CONNECTION_FAULTS });
  }

  lostFrame(a, w, why) {
    this.figures.lost += 1;
    this.problem(`attempt ${a.g} (${a.socket}): ${w.key} (log ${w.e.i}${w.e.fault ? `, ${w.e.fault}` : ""}) ${why}`);
  }

  discard(report, cause, n) {
    this.figures.framesReportedMissing += n;
    const k = `${report}: ${cause}`;
    this.figures.discards[k] = (this.figures.discards[k] ?? 0) + n;
  }

  /** Frames the simulator withheld, logged up to `cutoff`: revealed by the stores or a diagnostic? */
  decideWithheld(cutoff, runs) {
    const later = [];
    for (const x of this.withheld) {
      if (x.e.i > cutoff) {
        later.push(x);
        continue;
      }
      this.figures.withheld += 1;
      const report = this.withheldReport(x, runs);
      if (report) {
        this.figures.withheldReported += 1;
        const k = `${report}: ${x.e.fault}`;
        this.figures.discards[k] = (this.figures.discards[k] ?? 0) + 1;
      } else {
        this.figures.lost += 1;
        this.problem(`attempt ${x.g}: ${x.e.event} ${x.e.stepId ?? x.e.runId ?? x.e.eventId ?? ""} was withheld (${x.e.fault}) and nothing the SDK shows reveals it`);
      }
    }
    this.withheld = later;
  }

  withheldReport({ g, e }, runs) {
    const a = this.attempts.get(g);
    if (a?.stalled && e.fault === "half_open") {
      if (e.event === "execution_completed") this.excusedCompletions.add(e.runId);
      return "stalled";
    }
    if (a?.socket !== "events") return undefined;
    const mine = runs.filter((r) => r.runId === e.runId);
    if (e.event === "execution_step") {
      const index = stepIndex(e.stepId);
      if (mine.some((r) => r.steps.some((s) => s[0] === e.stepId))) return "arrived in execution_completed";
      if (mine.some((r) => r.missing.includes(index) || (r.missingCount > r.missing.length && index > (r.missing.at(-1) ?? 0)))) return "missing index";
      return undefined;
    }
    if (e.event === "execution_started" && mine.some((r) => !r.sawStart)) return "sawStart false";
    return undefined;
  }

  /** Every turn has ended, and the frames delivered explain how many ended each way. */
  checkTurns(turns) {
    const counts = { completed: 0, cancelled: 0, error: 0, interrupted: 0 };
    for (const t of turns) {
      this.figures.turnsChecked += 1;
      if (t.state in counts) counts[t.state] += 1;
      else this.problem(`turn ${t.turnId} is still ${t.state} although the server runs no turn`);
    }
    for (const [state, n] of Object.entries(counts)) {
      const ends = this.turnEnds[state];
      const what = state === "interrupted" ? "chat connection loss(es)" : `frame(s) that end a turn ${state}`;
      if (n > ends) this.problem(`${n} turn(s) ${state}, but only ${ends} ${what} reached this client`);
    }
  }

  /**
   * Run statuses against the completions delivered; one store run per server run whose
   * frames arrived; holes only where a step was withheld or the run was not watched
   * throughout; trees against the steps' parent ids.
   */
  checkRuns(runs, { evicted = 0 } = {}) {
    for (const [runId, seen] of this.deliveredRuns) {
      const shown = runs.filter((r) => r.runId === runId).length;
      if (evicted === 0 && shown !== seen.size) {
        this.problem(`run ${runId}: frames of ${seen.size} server run(s) of that id reached the client, its store shows ${shown}`);
      }
    }
    for (const c of this.completions.splice(0)) {
      const w = this.attempts.get(c.g)?.wire.find((x) => x.key === c.key);
      const status = RUN_STATUS[w?.e.status];
      const mine = runs.filter((r) => r.runId === c.runId);
      if (status && mine.length && !mine.some((r) => r.status === status)) {
        this.problem(`run ${c.runId}: its execution_completed (${status}) was delivered, but the store shows ${mine.map((r) => r.status)}`);
      }
    }
    for (const r of runs) {
      this.figures.runsChecked += 1;
      // A run only a hostile frame named (an injected step of run `…:0`) never ends.
      if (r.status === "running" && !r.possiblyIncomplete && !this.excusedCompletions.has(r.runId) && this.serverRuns.has(r.runId)) {
        this.problem(`run ${r.runId} is still running (not possiblyIncomplete, its completion not withheld) although the server runs no turn`);
      }
      if (!r.sorted) this.problem(`run ${r.runId}: siblings in its step tree are not in index order`);
      if (this.serverRuns.has(r.runId) && r.sawStart && !r.possiblyIncomplete) {
        const unexplained = r.missing.filter((m) => !this.withheldSteps.has(`${r.runId}|${m}`));
        if (unexplained.length) this.problem(`run ${r.runId} misses steps ${unexplained} that were never withheld, and says it saw the whole run (sawStart, not possiblyIncomplete)`);
      }
      const held = new Set(r.steps.map((s) => s[0]));
      if (held.size !== r.steps.length || held.size !== r.count) {
        this.problem(`run ${r.runId}: its tree has ${r.steps.length} nodes for ${held.size} distinct steps; the store counts ${r.count}`);
      }
      for (const [id, parentId, treeParent, parentMissing] of r.steps) {
        this.figures.stepsChecked += 1;
        if (!this.deliveredSteps.has(`${r.runId}|${id}|${parentId ?? ""}`)) this.problem(`run ${r.runId} holds step ${id} (parent ${parentId}), which the app was never handed`);
        const expected = parentId !== null && held.has(parentId) ? parentId : null;
        if (treeParent !== expected) this.problem(`run ${r.runId}: step ${id} hangs under ${treeParent ?? "the top"}, its parent_id is ${parentId}`);
        const shouldMiss = expected === null && parentId !== null && !parentId.endsWith(":root");
        if (parentMissing !== shouldMiss) this.problem(`run ${r.runId}: step ${id} has parentMissing ${parentMissing}, its parent ${parentId} is ${held.has(parentId) ? "held" : "not held"}`);
      }
    }
  }
}
