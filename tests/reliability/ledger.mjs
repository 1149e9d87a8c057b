// The reliability oracle: compares what the simulator sent (its send log) with what the
// SDK delivered and reported, and fails on anything lost without a report, delivered twice,
// delivered out of order, delivered to a subscription whose scope or types do not match, or
// delivered without having been sent.
//
//   const ledger = new Ledger(subscriptions);     // [{ name, scope, types }]
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
// A frame the simulator put on a subscribed connection's wire (or withheld by a fault) is
// "accounted for" when every subscription it matches got it exactly once, or when the SDK
// reported it missing: inside a `gap` of its connection, named by a `decodeError`,
// `seqAnomaly`, `late` or `duplicate` of that seq, or after the `lastSeq` that a `resync`
// gave for its lost connection. Frames of the live connection are decided only up to
// `cutoff` (the send-log index of an answered marker request: everything before it has reached the
// SDK); the rest wait for a later `settle`.

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

/** Send-log fault labels of frames that never reached the wire. */
const WITHHELD = new Set(["dropped", "half_open", "queue_full"]);
/** Problems kept in full; beyond this only counted (a broken run must not eat memory). */
const MAX_PROBLEMS = 50;

/** The mask of a list of type names. */
export function maskOf(types) {
  return types.reduce((m, t) => m | BITS[t.toUpperCase()], 0);
}

/** The server key a scope subscribes (spec §3: `*`, `p.<project>.<source>`). */
export function serverKey(scope) {
  if (scope.token === "*") return "*";
  if (scope.projectId !== undefined) return `p.${scope.projectId}.${scope.source}`;
  throw new Error(`the oracle does not model scope ${JSON.stringify(scope)}`);
}

/** Server key → OR of the masks of every subscription on it: what the server must hold. */
export function desiredKeys(subscriptions) {
  const keys = {};
  for (const s of subscriptions) keys[serverKey(s.scope)] = (keys[serverKey(s.scope)] ?? 0) | maskOf(s.types);
  return keys;
}

/**
 * Whether a frame with routing facts `m` (send-log `bit`, `taskId`, `projectId`, `source`)
 * belongs to a subscription: true, false, or null when the log does not say enough (the
 * multi-task `running` seed, which the SDK filters per subscription, and injected hostile
 * frames, which the simulator logs without routing facts).
 */
export function matches(sub, m) {
  if (m.bit === undefined) return null;
  if (!(sub.mask & m.bit)) return false;
  if (m.taskId === undefined) return m.bit === BITS.DASHBOARD ? sub.scope.token === "*" : null;
  if (sub.scope.token === "*") return true;
  if (m.projectId === undefined) return null;
  return m.projectId === sub.scope.projectId && (sub.scope.source === "*" || m.source === sub.scope.source);
}

export class Ledger {
  /** @param {{name: string, scope: object, types: string[]}[]} subscriptions */
  constructor(subscriptions) {
    this.subs = subscriptions.map((s) => ({ ...s, mask: maskOf(s.types) }));
    this.subByName = new Map(this.subs.map((s) => [s.name, s]));
    /** attempt → simulator connection id, and back. */
    this.connOf = new Map();
    this.attemptOf = new Map();
    /** `${g}:${seq}` → { g, seq, i, event, bit, taskId, projectId, source, onWire, copies } */
    this.frames = new Map();
    /** Frames not yet decided, by key. */
    this.pending = new Set();
    /** `${g}:${seq}` → Map(sub name → deliveries). */
    this.delivered = new Map();
    /** sub name → last [g, seq] delivered. */
    this.lastBySub = new Map();
    /** g → [[first, last], ...] reported gaps. */
    this.gaps = new Map();
    /** `${g}:${seq}` of frames a diagnostic named. */
    this.named = new Set();
    /** `${g}:${seq}` of frames delivered outside the order (`seqAnomaly`: a lying seq). */
    this.anomalies = new Set();
    /** g → lastSeq from a resync's `lost` list. */
    this.tails = new Map();
    /** taskId → { projectId, source }, learnt from the log (to check re-seeded events). */
    this.places = new Map();
    this.problems = [];
    this.problemCount = 0;
    this.figures = {
      framesSent: 0, // frames some subscription should get, decided
      framesDelivered: 0, // ... that every matching subscription got
      framesReportedMissing: 0, // ... that the SDK reported missing
      framesUndecidable: 0, // frames the log cannot route (e.g. multi-task seeds)
      framesUnsettled: 0, // frames still in flight when a client ended without a resync
      deliveries: 0, // (event, subscription) pairs delivered with a seq
      reseeded: 0, // deliveries without a seq (state re-fetched after a reconnect)
      duplicatesDelivered: 0,
      lost: 0, // frames lost without a report (must stay 0)
    };
  }

  problem(message) {
    this.problemCount += 1;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message);
  }

  /** Send-log entries, in index order (repeats of an index are ignored). */
  addLog(entries) {
    for (const e of entries) {
      if (e.kind === "open") this.open(e);
      // Raw frames with a seq (e.g. an event sent as a binary frame) may decode and arrive.
      else if (e.kind === "event" || (e.kind === "raw" && e.seq !== undefined)) this.frame(e);
    }
  }

  open(e) {
    const attempt = Number(new URL(e.path, "ws://x").searchParams.get("attempt"));
    if (!attempt) return this.problem(`connection ${e.conn} was opened without an attempt number (${e.path}): not the page's`);
    this.connOf.set(attempt, e.conn);
    this.attemptOf.set(e.conn, attempt);
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
      return;
    }
    this.frames.set(key, {
      g, seq: e.seq, i: e.i, event: e.event, bit: e.bit, taskId: e.taskId, projectId: e.projectId,
      source: e.source, fault: e.fault, onWire, copies: 1,
    });
    this.pending.add(key);
  }

  /**
   * What the page recorded since the last call.
   * @param {object} rec
   * @param {[string, number, number|null, string, string|null][]} rec.deliveries
   *   [subscription name, attempt g, seq or null, type, taskId or null], in delivery order
   * @param {object[]} rec.diagnostics  diagnostics with `g` (and `lost[].g`) added
   */
  addPage({ deliveries, diagnostics }) {
    // Diagnostics first: a gap is reported before the frames after it are delivered.
    for (const d of diagnostics) this.diagnostic(d);
    for (const [name, g, seq, type, taskId] of deliveries) this.delivery(name, g, seq, type, taskId);
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
        if (d.seq !== undefined) this.named.add(`${d.g}:${d.seq}`);
        break;
      case "seqAnomaly":
        this.anomalies.add(`${d.g}:${d.seq}`);
        this.named.add(`${d.g}:${d.seq}`);
        break;
      case "late":
      case "duplicate":
        this.named.add(`${d.g}:${d.seq}`);
        break;
      case "resync":
        for (const t of d.lost) this.tails.set(t.g, t.lastSeq);
        break;
      default:
        break;
    }
  }

  delivery(name, g, seq, type, taskId) {
    const sub = this.subByName.get(name);
    if (!sub) return this.problem(`delivery to unknown subscription ${name}`);
    if (seq === null) return this.reseeded(sub, type, taskId);
    this.figures.deliveries += 1;
    const key = `${g}:${seq}`;
    const frame = this.frames.get(key);
    if (!frame) return this.problem(`${name} got ${type} attempt ${g} seq ${seq}, which the simulator never sent`);
    if (!frame.onWire) return this.problem(`${name} got ${type} attempt ${g} seq ${seq}, which the simulator withheld (${frame.fault})`);
    const wireType = WIRE_TYPES[frame.event];
    if (type !== "unknown" && type !== wireType) {
      this.problem(`${name} got ${type} for attempt ${g} seq ${seq}, but that frame was ${frame.event}`);
    }
    if (matches(sub, frame) === false) {
      this.problem(`${name} (${JSON.stringify(sub.scope)} ${sub.types}) got ${frame.event} of ${frame.projectId}/${frame.source} (bit ${frame.bit}): scope or types do not match`);
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
    const bit = type === "taskStatus" ? BITS.SUMMARY : type === "task" ? BITS.TASK : undefined;
    if (bit !== undefined && matches(sub, { bit, taskId, ...place }) === false) {
      this.problem(`${sub.name} got a re-seeded ${type} of ${place.projectId}/${place.source}: scope or types do not match`);
    }
  }

  /** Whether the SDK reported frame `seq` of attempt `g` missing. */
  reported(g, seq) {
    if (this.named.has(`${g}:${seq}`)) return true;
    if ((this.gaps.get(g) ?? []).some(([a, b]) => a <= seq && seq <= b)) return true;
    return this.tails.has(g) && seq > this.tails.get(g);
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
    return this.subs.every((s) => matches(s, f) !== true || (counts?.get(s.name) ?? 0) > 0);
  }

  decide(f, key) {
    const wanted = this.subs.map((s) => [s, matches(s, f)]);
    if (wanted.some(([, m]) => m === null)) {
      this.figures.framesUndecidable += 1;
      return;
    }
    const subs = wanted.filter(([, m]) => m).map(([s]) => s);
    if (subs.length === 0) return;
    this.figures.framesSent += 1;
    const counts = this.delivered.get(key);
    const missing = subs.filter((s) => !counts?.get(s.name));
    if (missing.length === 0) {
      this.figures.framesDelivered += 1;
    } else if (this.reported(f.g, f.seq)) {
      this.figures.framesReportedMissing += 1;
    } else {
      this.figures.lost += 1;
      const why = f.onWire ? "sent" : `withheld (${f.fault})`;
      this.problem(`attempt ${f.g} seq ${f.seq} ${f.event} of ${f.projectId ?? "-"}/${f.source ?? "-"} was ${why} but never reached ${missing.map((s) => s.name).join(", ")} and no gap, decode error or resync covers it`);
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
