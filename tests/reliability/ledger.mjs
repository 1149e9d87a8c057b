// The reliability oracle: compares what the simulator sent (its send log) with what the
// SDK delivered and reported, and fails on anything lost without a report, delivered twice,
// delivered out of order, delivered to a subscription whose scope or types do not match,
// delivered without having been sent, or discarded by the SDK with no injected fault that
// could explain the discard.
//
//   const ledger = new Ledger(subscriptions, { tokens });  // [{ name, scope, types }]
//   ledger.noteFault(kind, logIndex);             // a fault was injected at this log index
//   ledger.annotate(fault, i, { taskId, projectId, source }); // facts of a frame injected from i on
//   ledger.addLog(entries);                       // send-log entries, in order
//   ledger.addPage({ deliveries, diagnostics });  // what the page recorded (see below)
//   ledger.settle({ current, cutoff });           // decide every frame that can be decided
//   ledger.problems                               // [] when everything is accounted for
//   ledger.figures                                // counts for the report
//
// Connections are tied together by attempt number: the page opens attempt N as
// `...?attempt=N` and the simulator logs an `open` entry with that path and its connection
// id. Page records use the attempt number `g` in place of the SDK's per-client epoch.
//
// Every event frame of the log is checked against every subscription, one (frame,
// subscription) pair at a time: a subscription the frame matches must get it exactly once,
// one it does not match must not get it. Whether it matches is decided from the log's
// routing facts (bit, task, project, source, pipe, the key a seed was sent for); for
// injected frames, which the simulator logs without facts, from the event name (its bit)
// and the body the fault builds (`__id: ""`: no task; `nan`: the task `annotate` names).
// Only two pairs can stay undecided, and are counted as such: the multi-task `running`
// seed on a scoped TASK subscription when no all-task subscription got the seed's task
// list, and an injected task frame whose task was not annotated.
//
// A missing delivery is excused only by a diagnostic that names that frame: a `gap` whose
// [first, last] range on its epoch contains the seq, a `decodeError` of exactly that seq,
// the `resync.lost` tail after `lastSeq` of that epoch, or an `unroutable` of exactly that
// seq (its cause: the fault that withheld the task lookup's answer, or cost the connection). `duplicate`, `late` and `seqAnomaly`
// excuse nothing (they name a copy that arrived, not one that is missing). Every excused
// frame is then attributed to a cause, and the cause must be an injected fault: the frame's
// own fault label (withheld by `drop`/`half_open`/`queue_full`, `reordered` past the reorder
// window, an injected hostile frame) for a gap or decode error; a fault that can cost a
// connection, injected during that connection's life, for a lost tail. A discard no fault
// explains is a problem. Frames of the live connection are decided only up to `cutoff` (the
// send-log index of an answered marker request: everything before it has reached the SDK);
// the rest wait for a later `settle`.

import { Problems, FaultJournal, WITHHELD } from "./common.mjs";

/** Monitor type bits (spec §3.1), as the send log's `bit` gives them. */
export const BITS = { DEBUGGER: 1, DETAIL: 2, SUMMARY: 4, OUTPUT: 8, FLOW: 16, TASK: 32, SSE: 64, DASHBOARD: 128 };

/** Wire event name → delivered `type` (src/protocol/rocketride/events.rs `decode_event`). */
export const WIRE_TYPES = {
  apaevt_task: "task",
  apaevt_status_update: "taskStatus",
  apaevt_flow: "flow",
  apaevt_sse: "sse",
  output: "output",
  apaevt_status_object: "statusObject",
  apaevt_status_counts: "statusCounts",
  apaevt_status_error: "statusError",
  apaevt_status_warning: "statusWarning",
  apaevt_status_message: "statusMessage",
  apaevt_status_download: "statusDownload",
  apaevt_status_metrics: "statusMetrics",
  apaevt_status_user: "statusUser",
  apaevt_status_info: "statusInfo",
  apaevt_dashboard: "dashboard",
  apaext_account: "account",
};

/** Wire event name → its gate bit (spec §3.1), for frames the log gives no `bit`. */
export const EVENT_BITS = {
  apaevt_task: BITS.TASK,
  apaevt_status_update: BITS.SUMMARY,
  apaevt_flow: BITS.FLOW,
  apaevt_sse: BITS.SSE,
  output: BITS.OUTPUT,
  apaevt_status_object: BITS.DETAIL,
  apaevt_status_counts: BITS.DETAIL,
  apaevt_status_error: BITS.DETAIL,
  apaevt_status_warning: BITS.DETAIL,
  apaevt_status_message: BITS.DETAIL,
  apaevt_status_download: BITS.DETAIL,
  apaevt_status_metrics: BITS.DETAIL,
  apaevt_status_user: BITS.DETAIL,
  apaevt_status_info: BITS.DETAIL,
  apaevt_dashboard: BITS.DASHBOARD,
};

/**
 * Frames the simulator injects outside the fault filters (sim/src/inject.rs), by label →
 * where their body puts them: `none` (`__id: ""`, no project: only `{token:"*"}` covers
 * them) or `task` (a real task's status: the cycle annotates which).
 */
export const INJECTED = {
  truncated: "none", oversized: "none", deep_nesting: "none", nan: "task", binary: "none",
  invalid_utf8: "none", proto_keys: "none", unknown_event: "none", bad_types: "none",
  lying_seq: "none", garbage: "none", unknown_response: "none",
};
/** Labels that explain a frame missing inside a live connection (gap or decode error). */
const FRAME_CAUSES = new Set([...WITHHELD, "reordered", ...Object.keys(INJECTED)]);
/**
 * Faults that can cost a connection, so explain its lost tail: the simulator ends it
 * (drop_all, restart, refuse, revoke_key), stops writing to it (half_open), or sends
 * something after which a client may give it up (a frame the browser refuses, a 9 MiB
 * frame or a 100k-deep one that stalls the heartbeat, a writer slowed down); or the page
 * left, and the client closed it (page_hidden, page_reloaded).
 */
export const CONNECTION_FAULTS = new Set([
  "drop_all", "restart", "refuse", "revoke_key", "half_open", "slow_writer", "invalid_utf8", "oversized", "deep_nesting",
  "page_hidden", "page_reloaded",
]);

/** The mask of a list of type names. */
export function maskOf(types) {
  return types.reduce((m, t) => m | BITS[t.toUpperCase()], 0);
}

/**
 * The server key a scope subscribes (spec §3: `*`, `p.<project>.<source>`, plus
 * `.<pipeId>`). A task token is the key of its task: `tokens` maps it to `{projectId, source}`.
 */
export function serverKey(scope, tokens = {}) {
  if (scope.token === "*") return "*";
  const pipe = scope.pipeId === undefined ? "" : `.${scope.pipeId}`;
  if (scope.token !== undefined) {
    const place = tokens[scope.token];
    if (!place) throw new Error("the oracle needs the task of every token scope (options.tokens)");
    return `p.${place.projectId}.${place.source}${pipe}`;
  }
  if (scope.projectId !== undefined) return `p.${scope.projectId}.${scope.source}${pipe}`;
  throw new Error(`the oracle does not model scope ${JSON.stringify(scope)}`);
}

/**
 * Server key → OR of the masks of every subscription on it: what the server must hold.
 * Beside a source key (`p.<project>.<source>`, which the server's cleanup deletes) the SDK
 * holds `*` with DASHBOARD to hear `task_removed` (its cleanup watch), except on a
 * connection authenticated with a task token (`cleanupWatch: false`), where `*` is the task.
 */
export function desiredKeys(subscriptions, tokens = {}, { cleanupWatch = true } = {}) {
  const keys = {};
  for (const s of subscriptions) {
    const key = serverKey(s.scope, tokens);
    keys[key] = (keys[key] ?? 0) | maskOf(s.types);
  }
  if (cleanupWatch && Object.keys(keys).some((k) => k.startsWith("p.") && k.split(".")[2] !== "*")) {
    keys["*"] = (keys["*"] ?? 0) | BITS.DASHBOARD;
  }
  return keys;
}

/** Whether a subscription's scope covers a task place `{taskId, projectId, source, pipeId}`. */
function covers(sub, place, tokens) {
  const scope = sub.scope;
  if (scope.token === "*") return true;
  if (scope.pipeId !== undefined && place.pipeId !== scope.pipeId) return false;
  if (place.projectId === undefined) return false; // no task: only `*` covers it
  if (scope.token !== undefined) {
    const t = tokens[scope.token];
    return t !== undefined && t.projectId === place.projectId && t.source === place.source;
  }
  return scope.projectId === place.projectId && (scope.source === "*" || scope.source === place.source);
}

/**
 * Whether frame `f` belongs to subscription `sub`: true, false, or null when the log cannot
 * say (see the file comment). `f` holds the log's routing facts plus `seed` ("summary" or
 * "running"), `tasks` (the running seed's list, once known) and `injected`.
 */
export function matches(sub, f, tokens = {}) {
  const bit = f.bit ?? EVENT_BITS[f.event];
  // An event without a known bit (an unknown event name) cannot be gated by types.
  if (bit !== undefined && !(sub.mask & bit)) return false;
  if (bit === BITS.DASHBOARD) return sub.scope.token === "*";
  const key = serverKey(sub.scope, tokens);
  if (f.seed === "summary") {
    // A pipe key's seed is sent for that key alone; other scopes get it by its place.
    if (sub.scope.pipeId !== undefined) return (f.keys ?? []).includes(key);
    return covers(sub, { projectId: f.projectId, source: f.source }, tokens);
  }
  if (f.seed === "running") {
    if (sub.scope.token === "*") return true;
    if (sub.scope.pipeId !== undefined) return (f.keys ?? []).includes(key);
    if (!f.tasks) return null;
    return f.tasks.some(([taskId, projectId, source]) => covers(sub, { taskId, projectId, source }, tokens));
  }
  if (f.injected === "task" && f.projectId === undefined) return sub.scope.token === "*" ? true : null;
  return covers(sub, f, tokens);
}

export class Ledger extends Problems {
  /**
   * @param {{name: string, scope: object, types: string[]}[]} subscriptions
   * @param {{tokens?: Record<string, {projectId: string, source: string}>}} [options]
   *   the task of every token scope (a token key is its task's source key)
   */
  constructor(subscriptions, { tokens = {} } = {}) {
    super();
    this.tokens = tokens;
    this.subs = subscriptions.map((s) => ({ ...s, mask: maskOf(s.types) }));
    this.subByName = new Map(this.subs.map((s) => [s.name, s]));
    /** attempt → simulator connection id, and back; attempt → send-log index of its open. */
    this.connOf = new Map();
    this.attemptOf = new Map();
    this.openedAt = new Map();
    /** `${g}:${seq}` → { g, seq, i, event, bit, taskId, projectId, source, pipeId, keys, labels, onWire, copies, seed, injected, tasks } */
    this.frames = new Map();
    /** Frames not yet decided, by key. */
    this.pending = new Set();
    /** `${g}:${seq}` → Map(sub name → deliveries). */
    this.delivered = new Map();
    /** sub name → last [g, seq] delivered. */
    this.lastBySub = new Map();
    /** g → [[first, last], ...] reported gaps. */
    this.gaps = new Map();
    /** `${g}:${seq}` of frames a decodeError named. */
    this.decodeErrors = new Set();
    /** `${g}:${seq}` of frames an `unroutable` diagnostic named. */
    this.unroutable = new Set();
    /** g → the fault that withheld the answer to a task lookup (`rrext_dashboard`) on it. */
    this.lostLookups = new Map();
    /** `${g}:${seq}` of frames delivered outside the order (`seqAnomaly`: a lying seq). */
    this.anomalies = new Set();
    /** g → lastSeq from a resync's `lost` list. */
    this.tails = new Map();
    /** Injected faults and the send-log index when each was injected. */
    this.journal = new FaultJournal();
    /** [{ fault, from, facts }]: routing facts the cycle gave for frames injected from `from` on. */
    this.annotations = [];
    /** g → conn closes the log labels with a fault. */
    this.closeFaults = new Map();
    /** g → injected frames on its wire (each may be a seqless decode error or oversized frame). */
    this.injectedOn = new Map();
    /** g → seqless decodeError / oversizedFrame diagnostics the SDK reported. */
    this.seqlessDiscards = new Map();
    /** taskId → { projectId, source }, learnt from the log (to check re-seeded events). */
    this.places = new Map();
    this.figures = {
      framesSent: 0, // frames some subscription should get, decided
      framesDelivered: 0, // ... that every matching subscription got
      framesReportedMissing: 0, // ... that the SDK reported missing, for a fault-explained cause
      framesNotForUs: 0, // frames no subscription matches (e.g. a seed of a no-SUMMARY scope)
      pairsChecked: 0, // (frame, subscription) pairs decided: matched or not
      pairsUndecidable: 0, // pairs the log cannot decide (see the file comment)
      framesUnsettled: 0, // frames still in flight when a client ended without a resync
      deliveries: 0, // (event, subscription) pairs delivered with a seq
      reseeded: 0, // deliveries without a seq (state re-fetched after a reconnect)
      duplicatesDelivered: 0,
      discards: {}, // "<report>: <cause>" → frames the SDK reported missing, by cause
      unexplainedDiscards: 0, // frames reported missing with no fault to explain it (must stay 0)
      lost: 0, // frames lost without a report (must stay 0)
    };
  }

  /** A fault of `kind` was injected when the send log's next index was `i`. */
  noteFault(kind, i) {
    this.journal.note(kind, i);
  }

  /** Routing facts of the frames labelled `fault` that were injected from log index `from` on (e.g. `nan`'s task). */
  annotate(fault, from, facts) {
    this.annotations.push({ fault, from, facts });
    for (const f of this.frames.values()) if (f.fault === fault && f.i >= from) Object.assign(f, facts);
  }

  annotationOf(e) {
    return this.annotations.findLast((a) => a.fault === e.fault && a.from <= e.i)?.facts;
  }

  /** Send-log entries, in index order (repeats of an index are ignored). */
  addLog(entries) {
    for (const e of entries) {
      if (e.kind === "open") this.open(e);
      else if (e.kind === "close") this.closed(e);
      // Raw frames with a seq (e.g. an event sent as a binary frame) may decode and arrive.
      else if (e.kind === "event" || (e.kind === "raw" && e.seq !== undefined)) this.frame(e);
      if (e.kind === "response" && e.command === "rrext_dashboard" && WITHHELD.has(e.fault)) {
        const g = this.attemptOf.get(e.conn);
        if (g !== undefined) this.lostLookups.set(g, e.fault);
      }
      if ((e.kind === "raw" || e.kind === "event" || e.kind === "response") && e.fault in INJECTED) {
        const g = this.attemptOf.get(e.conn);
        if (g !== undefined) this.injectedOn.set(g, (this.injectedOn.get(g) ?? 0) + 1);
      }
    }
  }

  open(e) {
    const attempt = Number(new URL(e.path, "ws://x").searchParams.get("attempt"));
    if (!attempt) return this.problem(`connection ${e.conn} was opened without an attempt number (${e.path}): not the page's`);
    this.connOf.set(attempt, e.conn);
    this.attemptOf.set(e.conn, attempt);
    this.openedAt.set(attempt, e.i);
  }

  closed(e) {
    const g = this.attemptOf.get(e.conn);
    if (g !== undefined && e.fault) this.closeFaults.set(g, e.fault);
  }

  frame(e) {
    if (e.seq === undefined) return;
    const g = this.attemptOf.get(e.conn);
    if (g === undefined) return this.problem(`event ${e.event} seq ${e.seq} on connection ${e.conn}, which no attempt opened`);
    if (e.taskId !== undefined && e.projectId !== undefined) this.places.set(e.taskId, { projectId: e.projectId, source: e.source });
    const key = `${g}:${e.seq}`;
    const onWire = !WITHHELD.has(e.fault);
    const known = this.frames.get(key);
    if (known) {
      // A duplicated copy (or a second attempt at a withheld one): same frame.
      known.onWire ||= onWire;
      known.copies += 1;
      if (e.fault) known.labels.add(e.fault);
      return;
    }
    const injected = INJECTED[e.fault];
    // A seed is the one task event the server sends without a task: the SUMMARY seed of a
    // project key (its status under `__id` "<project>.<source>" or the task's) and the TASK
    // `running` seed; both are logged with the key they were sent for.
    const seed = injected || e.taskId !== undefined || e.bit === BITS.DASHBOARD ? undefined
      : e.bit === BITS.SUMMARY ? "summary" : e.bit === BITS.TASK ? "running" : undefined;
    const f = {
      g, seq: e.seq, i: e.i, event: e.event, bit: e.bit, taskId: e.taskId, projectId: e.projectId,
      source: e.source, pipeId: e.pipeId, keys: e.keys, labels: new Set(e.fault ? [e.fault] : []),
      fault: e.fault, onWire, copies: 1, seed, injected,
      ...(injected ? this.annotationOf(e) : undefined),
    };
    if (seed === undefined && !injected && e.bit === undefined) {
      this.problem(`attempt ${g} seq ${e.seq} ${e.event}: an event frame without routing facts that no fault injected`);
    }
    this.frames.set(key, f);
    this.pending.add(key);
  }

  /**
   * What the page recorded since the last call.
   * @param {object} rec
   * @param {[string, number, number|null, string, string|null, ([string, string, string][])?][]} rec.deliveries
   *   [subscription name, attempt g, seq or null, type, taskId or null, running seed's
   *   tasks as [id, projectId, source]], in delivery order
   * @param {object[]} rec.diagnostics  diagnostics with `g` (and `lost[].g`) added
   */
  addPage({ deliveries, diagnostics }) {
    // Diagnostics first: a gap is reported before the frames after it are delivered.
    for (const d of diagnostics) this.diagnostic(d);
    for (const [name, g, seq, type, taskId, tasks] of deliveries) this.delivery(name, g, seq, type, taskId, tasks);
  }

  diagnostic(d) {
    switch (d.kind) {
      case "gap": {
        const list = this.gaps.get(d.g) ?? [];
        list.push([d.first, d.last]);
        this.gaps.set(d.g, list);
        break;
      }
      case "decodeError":
        if (d.seq !== undefined && d.seq !== null) this.decodeErrors.add(`${d.g}:${d.seq}`);
        else this.seqlessDiscard(d.g, "decodeError");
        break;
      case "unroutable":
        // Delivered only where it matches without a task lookup; scoped subscriptions are told.
        if (d.seq !== undefined && d.seq !== null) this.unroutable.add(`${d.g}:${d.seq}`);
        break;
      case "oversizedFrame":
        this.seqlessDiscard(d.g, "oversizedFrame");
        break;
      case "seqAnomaly":
        // The frame is delivered out of order; it excuses nothing.
        this.anomalies.add(`${d.g}:${d.seq}`);
        break;
      case "resync":
        for (const t of d.lost) this.tails.set(t.g, t.lastSeq);
        break;
      default: // duplicate, late, ...: name copies that arrived, excuse nothing
        break;
    }
  }

  /** A frame discarded before its seq was known: an injected frame on that wire must explain it. */
  seqlessDiscard(g, kind) {
    const n = (this.seqlessDiscards.get(g) ?? 0) + 1;
    this.seqlessDiscards.set(g, n);
    if (n > (this.injectedOn.get(g) ?? 0)) {
      this.figures.unexplainedDiscards += 1;
      this.problem(`attempt ${g}: ${kind} #${n} without a seq, but only ${this.injectedOn.get(g) ?? 0} injected frame(s) reached that connection`);
    }
  }

  delivery(name, g, seq, type, taskId, tasks) {
    const sub = this.subByName.get(name);
    if (!sub) return this.problem(`delivery to unknown subscription ${name}`);
    if (seq === null) return this.reseeded(sub, type, taskId);
    this.figures.deliveries += 1;
    const key = `${g}:${seq}`;
    const frame = this.frames.get(key);
    if (!frame) return this.problem(`${name} got ${type} attempt ${g} seq ${seq}, which the simulator never sent`);
    if (!frame.onWire) return this.problem(`${name} got ${type} attempt ${g} seq ${seq}, which the simulator withheld (${frame.fault})`);
    const wireType = WIRE_TYPES[frame.event];
    if (type === "unknown" ? wireType !== undefined : type !== wireType) {
      this.problem(`${name} got ${type} for attempt ${g} seq ${seq}, but that frame was ${frame.event}`);
    }
    if (frame.seed === "running" && tasks) {
      if (sub.scope.token === "*") frame.tasks ??= tasks;
      const foreign = tasks.filter(([id, projectId, source]) => !covers(sub, { taskId: id, projectId, source }, this.tokens));
      if (foreign.length) this.problem(`${name} (${JSON.stringify(sub.scope)}) got the running seed attempt ${g} seq ${seq} listing tasks outside its scope: ${foreign.map((t) => t[0])}`);
    }
    if (frame.injected === "task" && frame.projectId === undefined && taskId) Object.assign(frame, { taskId, ...this.places.get(taskId) });
    if (matches(sub, frame, this.tokens) === false) {
      this.problem(`${name} (${JSON.stringify(sub.scope)} ${sub.types}) got ${frame.event} of ${frame.projectId ?? "-"}/${frame.source ?? "-"} (bit ${frame.bit ?? EVENT_BITS[frame.event] ?? "none"}, pipe ${frame.pipeId ?? "-"}) attempt ${g} seq ${seq}: scope or types do not match`);
    }
    if (!this.anomalies.has(key)) this.checkOrder(name, g, seq);
    const counts = this.delivered.get(key) ?? new Map();
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    this.delivered.set(key, counts);
    if (n > 1) {
      this.figures.duplicatesDelivered += 1;
      this.problem(`${name} got attempt ${g} seq ${seq} (${frame.event}) ${n} times`);
    }
  }

  checkOrder(name, g, seq) {
    const last = this.lastBySub.get(name);
    if (last && (g < last[0] || (g === last[0] && seq <= last[1]))) {
      this.problem(`${name} got attempt ${g} seq ${seq} after attempt ${last[0]} seq ${last[1]}: out of order`);
    }
    this.lastBySub.set(name, [g, seq]);
  }

  /** A re-seeded event has no seq: check only that it belongs to the subscription. */
  reseeded(sub, type, taskId) {
    this.figures.reseeded += 1;
    const place = taskId === null ? undefined : this.places.get(taskId);
    if (!place) return;
    const bit = { taskStatus: BITS.SUMMARY, task: BITS.TASK }[type];
    if (bit !== undefined && matches(sub, { bit, taskId, ...place }, this.tokens) === false) {
      this.problem(`${sub.name} got a re-seeded ${type} of ${place.projectId}/${place.source}: scope or types do not match`);
    }
  }

  /**
   * How the SDK reported frame `f` missing, and the fault that explains it:
   * `{ report, cause }` (cause undefined: nothing explains it), or undefined if nothing
   * names the frame.
   */
  excuse(f) {
    const label = [...f.labels].find((l) => FRAME_CAUSES.has(l));
    if ((this.gaps.get(f.g) ?? []).some(([a, b]) => a <= f.seq && f.seq <= b)) return { report: "gap", cause: label };
    if (this.decodeErrors.has(`${f.g}:${f.seq}`)) return { report: "decodeError", cause: label && INJECTED[label] ? label : undefined };
    if (this.tails.has(f.g) && f.seq > this.tails.get(f.g)) return { report: "lost tail", cause: this.connectionCause(f.g) };
    // A task lookup that got no answer: its response was withheld, or the connection went.
    if (this.unroutable.has(`${f.g}:${f.seq}`)) return { report: "unroutable", cause: this.lostLookups.get(f.g) ?? this.connectionCause(f.g) };
    return undefined;
  }

  /** The injected fault that can have cost connection `g`, if any. */
  connectionCause(g) {
    return this.journal.connectionCause({
      closeFault: this.closeFaults.get(g), from: this.openedAt.get(g), to: this.openedAt.get(g + 1), kinds: CONNECTION_FAULTS,
    });
  }

  /**
   * Decides every pending frame of connections before `current` (the live attempt), and of
   * `current` up to send-log index `cutoff`.
   */
  settle({ current, cutoff }) {
    for (const key of this.pending) {
      const f = this.frames.get(key);
      if (f.g > current || (f.g === current && f.i > cutoff)) continue;
      if (f.g < current && !this.tails.has(f.g) && !this.deliveredToAll(f, key)) {
        // An ended connection whose resync has not been seen yet: wait for it.
        continue;
      }
      this.pending.delete(key);
      this.decide(f, key);
    }
  }

  deliveredToAll(f, key) {
    const counts = this.delivered.get(key);
    return this.subs.every((s) => matches(s, f, this.tokens) !== true || (counts?.get(s.name) ?? 0) > 0);
  }

  decide(f, key) {
    const counts = this.delivered.get(key);
    const missing = [];
    let wanted = 0;
    for (const s of this.subs) {
      const m = matches(s, f, this.tokens);
      if (m === null) {
        this.figures.pairsUndecidable += 1;
        continue;
      }
      this.figures.pairsChecked += 1;
      if (!m) continue;
      wanted += 1;
      if (!counts?.get(s.name)) missing.push(s);
    }
    if (wanted === 0) {
      this.figures.framesNotForUs += 1;
      return;
    }
    this.figures.framesSent += 1;
    if (missing.length === 0) {
      this.figures.framesDelivered += 1;
      return;
    }
    const what = `attempt ${f.g} seq ${f.seq} ${f.event}${f.seed ? ` (${f.seed} seed for ${f.keys})` : ""} of ${f.projectId ?? "-"}/${f.source ?? "-"}${f.pipeId === undefined ? "" : ` pipe ${f.pipeId}`}`;
    const names = missing.map((s) => s.name).join(", ");
    const excuse = this.excuse(f);
    if (!excuse) {
      this.figures.lost += 1;
      const why = f.onWire ? "sent" : `withheld (${f.fault})`;
      this.problem(`${what} was ${why} but never reached ${names} and no gap, decode error, resync tail or unroutable names it`);
    } else if (missing.length < wanted && excuse.report !== "unroutable") {
      // Reported missing, yet some subscriptions got it: the report hides a routing drop.
      // (An `unroutable` event goes exactly to the subscriptions that match it without
      // knowing its task's project, and the others are told: that split is its meaning.)
      this.figures.lost += 1;
      this.problem(`${what} reached ${wanted - missing.length} matching subscription(s) but never ${names}; the ${excuse.report} that names it does not excuse that`);
    } else if (excuse.cause === undefined) {
      this.figures.unexplainedDiscards += 1;
      this.problem(`${what} never reached ${names}: the SDK reported it (${excuse.report}) but no injected fault explains that (labels: ${[...f.labels].join(",") || "none"})`);
    } else {
      this.figures.framesReportedMissing += 1;
      const k = `${excuse.report}: ${excuse.cause}`;
      this.figures.discards[k] = (this.figures.discards[k] ?? 0) + 1;
    }
  }

  /**
   * A client ended for good (closed, or its key was revoked): frames still pending on its
   * last connection after the last cutoff can no longer be decided.
   */
  finish({ current, cutoff }) {
    this.settle({ current, cutoff });
    for (const key of this.pending) {
      const f = this.frames.get(key);
      if (f.g <= current) {
        this.pending.delete(key);
        this.figures.framesUnsettled += 1;
      }
    }
  }
}
