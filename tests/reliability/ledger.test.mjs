// The oracle itself is tested: fed a made-up send log and page records, the Ledger must
// accept an honest run and catch every kind of planted violation, in particular every way a
// lost event could hide: behind an unrelated diagnostic, behind a subscription that did get
// the frame, in a seed or an injected frame, behind an `unknown` type, or in a discard that no
// injected fault explains.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ledger, desiredKeys, matches, maskOf, serverKey, BITS } from "./ledger.mjs";

const TOKENS = { pk_abc: { projectId: "p3", source: "s3" } };
const SUBS = [
  { name: "all", scope: { token: "*" }, types: ["TASK", "SUMMARY", "OUTPUT", "SSE", "DASHBOARD"] },
  { name: "p1", scope: { projectId: "p1", source: "*" }, types: ["OUTPUT", "SUMMARY", "TASK"] },
  { name: "p2s", scope: { projectId: "p2", source: "s" }, types: ["OUTPUT", "SSE"] },
  { name: "pipe", scope: { projectId: "p2", source: "s", pipeId: 1 }, types: ["SSE", "OUTPUT"] },
  { name: "tok", scope: { token: "pk_abc" }, types: ["SSE", "SUMMARY"] },
];
/** The same scopes without the `{token:"*"}` companion. */
const SCOPED = SUBS.filter((s) => s.name !== "all");

/** A send-log builder: indices increase, connections are numbered by attempt. */
class Log {
  constructor() { this.i = 0; this.entries = []; }
  push(e) { const entry = { i: this.i++, ...e }; this.entries.push(entry); return entry; }
  open(conn, attempt) { return this.push({ conn, kind: "open", path: `/task/service?attempt=${attempt}` }); }
  close(conn, fault) { return this.push({ conn, kind: "close", ...(fault ? { fault } : {}) }); }
  event(conn, seq, event, bit, facts = {}) { return this.push({ conn, seq, kind: "event", event, bit, ...facts }); }
  task(conn, seq, event, bit, projectId, source, extra = {}) {
    return this.event(conn, seq, event, bit, { taskId: `t.${projectId}.${source}`, projectId, source, ...extra });
  }
  out(conn, seq, projectId, source = "s", extra = {}) { return this.task(conn, seq, "output", BITS.OUTPUT, projectId, source, extra); }
  sse(conn, seq, projectId, source, pipeId, extra = {}) { return this.task(conn, seq, "apaevt_sse", BITS.SSE, projectId, source, { pipeId, ...extra }); }
  /** A frame the simulator injected outside the filters: no routing facts, a fault label. */
  injected(conn, seq, event, fault, kind = "event") { return this.push({ conn, seq, kind, event, fault }); }
  summarySeed(conn, seq, projectId, source, key) {
    return this.event(conn, seq, "apaevt_status_update", BITS.SUMMARY, { projectId, source, keys: [key] });
  }
  runningSeed(conn, seq, key, place = {}) { return this.event(conn, seq, "apaevt_task", BITS.TASK, { keys: [key], ...place }); }
  dashboard(conn, seq) { return this.event(conn, seq, "apaevt_dashboard", BITS.DASHBOARD, { keys: ["*"] }); }
  marker(conn, seq) { return this.push({ conn, seq, kind: "response", command: "rrext_get_tasks" }); }
}

const d = (name, g, seq, type, taskId = null, tasks) => [name, g, seq, type, taskId, ...(tasks ? [tasks] : [])];
const outTo = (names, g, seq, projectId = "p1", source = "s") => names.map((n) => d(n, g, seq, "output", `t.${projectId}.${source}`));

/** Feeds a log and page records, settles at the end of the log, returns the ledger. */
function run(log, { deliveries = [], diagnostics = [], subs = SUBS, current = 1, faults = [] } = {}) {
  const l = new Ledger(subs, { tokens: TOKENS });
  for (const [kind, i] of faults) l.noteFault(kind, i);
  l.addLog(log.entries);
  l.addPage({ deliveries, diagnostics });
  l.settle({ current, cutoff: log.i });
  return l;
}

/** Attempt 1 = connection 7 with outputs 1..3 of p1 (for `all` and `p1`). */
function basic() {
  const log = new Log();
  log.open(7, 1);
  for (const seq of [1, 2, 3]) log.out(7, seq, "p1");
  log.marker(7, 4);
  return log;
}
const all3 = (except = []) => [1, 2, 3].filter((s) => !except.includes(s)).flatMap((s) => outTo(["all", "p1"], 1, s));

const caught = (l, re) => assert.ok(l.problems.some((p) => re.test(p)), `expected a problem matching ${re}, got: ${JSON.stringify(l.problems)}`);

test("an honest run with seeds, injected frames, explained discards and a reconnect is accepted", () => {
  const log = new Log();
  log.open(7, 1);
  log.summarySeed(7, 1, "p1", "*", "p.p1.*"); // all + p1
  log.runningSeed(7, 2, "*");
  log.runningSeed(7, 3, "p.p1.*", { projectId: "p1", source: "*" });
  log.out(7, 4, "p1", "a");
  log.out(7, 5, "p1", "a", { fault: "dropped" }); // withheld: gap
  log.sse(7, 6, "p2", "s", 1); // all + p2s + pipe
  log.sse(7, 7, "p2", "s", 2); // all + p2s
  log.sse(7, 8, "p3", "s3", 0); // all + tok
  log.injected(7, 9, "output", "binary", "raw"); // `__id: ""`: all only
  log.injected(7, 10, "apaevt_sse", "deep_nesting"); // undecodable: decodeError
  log.injected(7, 11, "apaevt_sim_unknown", "unknown_event"); // all, as `unknown`
  log.injected(7, 1_000_011, "output", "lying_seq"); // all, out of order after a seqAnomaly
  log.injected(7, 12, "output", "truncated", "raw"); // unreadable: seqless decodeError + gap
  log.dashboard(7, 13);
  log.marker(7, 14);
  log.out(7, 15, "p1", "a"); // in flight when drop_all kills the connection: lost tail
  log.close(7, "drop_all");
  log.open(8, 2);
  log.out(8, 1, "p1", "b");
  log.marker(8, 2);
  const tasks = [["t.p1.a", "p1", "a"], ["t.p9.z", "p9", "z"]];
  const deliveries = [
    d("all", 1, 1, "taskStatus", "p1.*"), d("p1", 1, 1, "taskStatus", "p1.*"),
    d("all", 1, 2, "task", null, tasks), d("p1", 1, 2, "task", null, [tasks[0]]),
    d("all", 1, 3, "task", null, tasks), d("p1", 1, 3, "task", null, [tasks[0]]),
    ...outTo(["all", "p1"], 1, 4, "p1", "a"),
    d("all", 1, 6, "sse", "t.p2.s"), d("p2s", 1, 6, "sse", "t.p2.s"), d("pipe", 1, 6, "sse", "t.p2.s"),
    d("all", 1, 7, "sse", "t.p2.s"), d("p2s", 1, 7, "sse", "t.p2.s"),
    d("all", 1, 8, "sse", "t.p3.s3"), d("tok", 1, 8, "sse", "t.p3.s3"),
    d("all", 1, 9, "output"),
    d("all", 1, 11, "unknown"),
    d("all", 1, 1_000_011, "output"),
    d("all", 1, 13, "dashboard"),
    ...outTo(["all", "p1"], 2, 1, "p1", "b"),
    d("all", 2, null, "taskStatus", "t.p1.a"), d("p1", 2, null, "taskStatus", "t.p1.a"),
  ];
  const diagnostics = [
    { kind: "gap", g: 1, first: 5, last: 5 },
    { kind: "decodeError", g: 1, seq: 10 },
    { kind: "seqAnomaly", g: 1, seq: 1_000_011, expected: 12 },
    { kind: "decodeError", g: 1 }, // the truncated frame, whose seq could not be read
    { kind: "gap", g: 1, first: 12, last: 12 },
    { kind: "duplicate", g: 1, seq: 4 },
    { kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 14 }] },
  ];
  const l = run(log, { deliveries, diagnostics, current: 2 });
  assert.deepEqual(l.problems, []);
  const f = l.figures;
  assert.equal(f.lost, 0);
  assert.equal(f.unexplainedDiscards, 0);
  assert.equal(f.pairsUndecidable, 0, "the all-task subscription's running seed lists the tasks");
  assert.deepEqual(f.discards, { "gap: dropped": 1, "decodeError: deep_nesting": 1, "gap: truncated": 1, "lost tail: drop_all": 1 });
  assert.equal(f.framesReportedMissing, 4);
  assert.equal(f.framesDelivered, 12);
  assert.equal(f.reseeded, 2);
});

test("a frame missing for one subscription without a report is lost", () => {
  const l = run(basic(), { deliveries: [...outTo(["all", "p1"], 1, 1), d("all", 1, 2, "output", "t.p1.s"), ...outTo(["all", "p1"], 1, 3)] });
  assert.equal(l.figures.lost, 1);
  caught(l, /seq 2 .* never reached p1 and no gap/);
});

test("a frame missing for every subscription without a report is lost", () => {
  const l = run(basic(), { deliveries: all3([2]) });
  assert.equal(l.figures.lost, 1);
  caught(l, /seq 2 .* never reached all, p1 and no gap/);
});

test("only a diagnostic that names the frame excuses it: duplicate, late, seqAnomaly and others' ranges do not", () => {
  const unrelated = [
    { kind: "duplicate", g: 1, seq: 2 },
    { kind: "late", g: 1, seq: 2 },
    { kind: "seqAnomaly", g: 1, seq: 2, expected: 2 },
    { kind: "gap", g: 1, first: 3, last: 9 }, // another range
    { kind: "gap", g: 2, first: 1, last: 9 }, // another epoch
    { kind: "decodeError", g: 1, seq: 3 }, // another seq
    { kind: "decodeError", g: 2, seq: 2 }, // another epoch
    { kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 2 }] }, // a tail after the frame
    { kind: "resync", g: 2, lost: [{ g: 5, lastSeq: 0 }] }, // another epoch's tail
  ];
  for (const diag of unrelated) {
    const log = basic();
    log.push({ conn: 7, seq: 2, kind: "event", event: "output", bit: BITS.OUTPUT, taskId: "t.p1.s", projectId: "p1", source: "s", fault: "duplicated" });
    const l = run(log, { deliveries: all3([2]), diagnostics: [diag] });
    assert.equal(l.figures.lost, 1, JSON.stringify(diag));
    caught(l, /seq 2 .* never reached all, p1/);
  }
});

test("a gap excuses exactly its seq range on its epoch, a decode error exactly its seq", () => {
  const log = new Log();
  log.open(7, 1);
  for (const seq of [1, 2, 3, 4, 5]) log.out(7, seq, "p1", "s", seq === 1 ? {} : { fault: "dropped" });
  log.marker(7, 6);
  const l = run(log, { deliveries: outTo(["all", "p1"], 1, 1), diagnostics: [{ kind: "gap", g: 1, first: 2, last: 4 }] });
  assert.equal(l.figures.lost, 1, "seq 5 is outside [2, 4]");
  caught(l, /seq 5 /);
  assert.equal(l.figures.discards["gap: dropped"], 3);
});

test("an unroutable excuses exactly its seq, and only when a withheld lookup answer or a connection fault explains it", () => {
  const lookup = (fault) => {
    const log = new Log();
    log.open(7, 1);
    log.out(7, 1, "p1");
    log.push({ conn: 7, seq: 2, kind: "response", command: "rrext_dashboard", ...(fault ? { fault } : {}) });
    log.out(7, 3, "p1");
    log.marker(7, 4);
    return log;
  };
  // `all` got seq 1 (it matches without knowing the project), p1 was told; seq 3 reached both.
  const deliveries = [d("all", 1, 1, "output", "t.p1.s"), ...outTo(["all", "p1"], 1, 3)];
  const unroutable = { kind: "unroutable", g: 1, seq: 1, taskId: "t.p1.s", reason: "no answer" };
  const ok = run(lookup("dropped"), { deliveries, diagnostics: [unroutable] });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.figures.discards, { "unroutable: dropped": 1 });
  // Nothing withheld the answer: the report is unexplained.
  caught(run(lookup(), { deliveries, diagnostics: [unroutable] }), /seq 1 .*no injected fault explains/);
  // It names seq 1 only: seq 3 missing for p1 is lost.
  const l = run(lookup("dropped"), { deliveries: deliveries.slice(0, 2), diagnostics: [unroutable] });
  caught(l, /seq 3 /);
});

test("a report does not excuse a frame that other matching subscriptions got", () => {
  const log = basic();
  log.entries[2].fault = "reordered";
  const l = run(log, { deliveries: [...outTo(["all", "p1"], 1, 1), d("all", 1, 2, "output", "t.p1.s"), ...outTo(["all", "p1"], 1, 3)], diagnostics: [{ kind: "gap", g: 1, first: 2, last: 2 }] });
  assert.equal(l.problemCount, 1, l.problems.join("\n"));
  caught(l, /seq 2 .* reached 1 matching subscription\(s\) but never p1; the gap that names it/);
});

test("a resync tail excuses only the frames after lastSeq of its epoch", () => {
  const log = basic();
  log.close(7, "drop_all");
  log.open(8, 2);
  log.marker(8, 1);
  const l = new Ledger(SUBS, { tokens: TOKENS });
  l.addLog(log.entries);
  l.addPage({ deliveries: all3([2, 3]), diagnostics: [] });
  l.settle({ current: 2, cutoff: log.i });
  assert.equal(l.figures.framesSent, 1, "2 and 3 wait for the resync");
  l.addPage({ deliveries: [], diagnostics: [{ kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 2 }] }] });
  l.settle({ current: 2, cutoff: log.i });
  assert.equal(l.figures.lost, 1, "seq 2 is at or before lastSeq: it should have arrived");
  assert.deepEqual(l.figures.discards, { "lost tail: drop_all": 1 });
});

test("a frame that only one of several matching subscriptions got is lost for the others", () => {
  const log = new Log();
  log.open(7, 1);
  log.sse(7, 1, "p2", "s", 1); // all, p2s, pipe
  log.sse(7, 2, "p3", "s3", 0); // all, tok
  log.marker(7, 3);
  const l = run(log, { deliveries: [d("p2s", 1, 1, "sse", "t.p2.s"), d("all", 1, 2, "sse", "t.p3.s3")] });
  assert.equal(l.figures.lost, 2);
  caught(l, /seq 1 apaevt_sse .* pipe 1 .*never reached all, pipe /);
  caught(l, /seq 2 apaevt_sse .*never reached tok /);
});

test("withheld seeds are caught: summary, running, and the seed of a pipe key", () => {
  const log = new Log();
  log.open(7, 1);
  log.summarySeed(7, 1, "p1", "*", "p.p1.*");
  log.runningSeed(7, 2, "*");
  log.runningSeed(7, 3, "p.p1.*", { projectId: "p1", source: "*" });
  log.summarySeed(7, 4, "p2", "s", "p.p2.s.1");
  log.marker(7, 5);
  const subs = [...SUBS.slice(0, 3), { name: "pipeSummary", scope: { projectId: "p2", source: "s", pipeId: 1 }, types: ["SUMMARY"] }];
  const tasks = [["t.p1.a", "p1", "a"]];
  // Only `all` got the summary seed, nobody the running seed of `*`, and `p1` not the one of
  // its own key although `all`'s copy lists a task of p1.
  const l = run(log, {
    subs,
    deliveries: [d("all", 1, 1, "taskStatus", "p1.*"), d("all", 1, 3, "task", null, tasks), d("all", 1, 4, "taskStatus", "t.p2.s")],
  });
  caught(l, /seq 1 apaevt_status_update \(summary seed for p.p1.\*\).* never reached p1 /);
  caught(l, /seq 2 apaevt_task \(running seed for \*\).* never reached all /);
  caught(l, /seq 3 apaevt_task \(running seed for p.p1.\*\).* never reached p1 /);
  caught(l, /seq 4 .*summary seed for p.p2.s.1.* never reached pipeSummary /);
  assert.equal(l.figures.lost, 4);
});

test("a running seed listing a task outside the subscription's scope is a leak", () => {
  const log = new Log();
  log.open(7, 1);
  log.runningSeed(7, 1, "p.p1.*", { projectId: "p1", source: "*" });
  log.marker(7, 2);
  const l = run(log, { deliveries: [d("all", 1, 1, "task", null, [["t.p9.z", "p9", "z"]]), d("p1", 1, 1, "task", null, [["t.p9.z", "p9", "z"]])] });
  caught(l, /p1 .* running seed .* outside its scope: t.p9.z/);
});

test("without an all-task subscription a scoped running seed is counted undecidable, and nothing else is", () => {
  const log = new Log();
  log.open(7, 1);
  log.runningSeed(7, 1, "p.p1.*", { projectId: "p1", source: "*" });
  log.out(7, 2, "p1", "a");
  log.marker(7, 3);
  const l = run(log, { subs: SCOPED, deliveries: [d("p1", 1, 2, "output", "t.p1.a")] });
  assert.deepEqual(l.problems, []);
  assert.equal(l.figures.pairsUndecidable, 1);
  assert.equal(l.figures.pairsChecked, 2 * SCOPED.length - 1);
  const lost = run(log, { subs: SCOPED, deliveries: [] });
  caught(lost, /seq 2 output .* never reached p1 /);
});

test("withheld injected frames are caught: binary, proto keys, unknown event, lying seq, nan", () => {
  const log = new Log();
  log.open(7, 1);
  log.injected(7, 1, "output", "binary", "raw");
  log.injected(7, 2, "apaevt_sse", "proto_keys");
  log.injected(7, 3, "apaevt_sim_unknown", "unknown_event");
  log.injected(7, 1_000_003, "output", "lying_seq");
  const nan = log.injected(7, 4, "apaevt_status_update", "nan");
  log.marker(7, 5);
  const l = new Ledger(SUBS, { tokens: TOKENS });
  l.annotate("nan", nan.i, { taskId: "t.p1.a", projectId: "p1", source: "a" });
  l.addLog(log.entries);
  // nan went to `all` only; `p1` (SUMMARY on p1/*) should have had it too.
  l.addPage({ deliveries: [d("all", 1, 4, "taskStatus", "t.p1.a")], diagnostics: [{ kind: "seqAnomaly", g: 1, seq: 1_000_003, expected: 4 }] });
  l.settle({ current: 1, cutoff: log.i });
  for (const re of [/seq 1 output .* never reached all /, /seq 2 apaevt_sse .* never reached all /, /seq 3 apaevt_sim_unknown .* never reached all /,
    /seq 1000003 output .* never reached all /, /seq 4 apaevt_status_update of p1\/a .* never reached p1 /]) caught(l, re);
  assert.equal(l.figures.lost, 5);
});

test("unknown deliveries are type-checked: a known event delivered as unknown, an unknown event outside its scope or types", () => {
  const log = new Log();
  log.open(7, 1);
  log.out(7, 1, "p1", "a");
  log.injected(7, 2, "apaevt_sim_unknown", "unknown_event");
  log.event(7, 3, "apaevt_sim_unknown", BITS.DETAIL, { taskId: "t.p1.a", projectId: "p1", source: "a" }); // an unknown event with a bit
  log.marker(7, 4);
  const l = run(log, {
    deliveries: [
      d("all", 1, 1, "unknown", "t.p1.a"), d("p1", 1, 1, "output", "t.p1.a"),
      d("all", 1, 2, "unknown"), d("p2s", 1, 2, "unknown"),
      d("p1", 1, 3, "unknown", "t.p1.a"),
    ],
  });
  caught(l, /all got unknown for attempt 1 seq 1, but that frame was output/);
  caught(l, /p2s .* got apaevt_sim_unknown .* seq 2: scope or types do not match/);
  caught(l, /p1 .* got apaevt_sim_unknown of p1\/a \(bit 2, .* seq 3: scope or types do not match/);
});

test("a discard that no injected fault explains is a failure", () => {
  const cases = [
    // A gap over a frame that was sent and not reordered.
    [(log) => log.out(7, 2, "p1"), [{ kind: "gap", g: 1, first: 2, last: 2 }], /reported it \(gap\) but no injected fault/],
    // A decode error of a frame the simulator built correctly.
    [(log) => log.out(7, 2, "p1"), [{ kind: "decodeError", g: 1, seq: 2 }], /reported it \(decodeError\) but no injected fault/],
    // A decode error of a dropped frame (it never arrived, so it cannot have failed to decode).
    [(log) => log.out(7, 2, "p1", "s", { fault: "dropped" }), [{ kind: "decodeError", g: 1, seq: 2 }], /reported it \(decodeError\)/],
  ];
  for (const [second, diagnostics, re] of cases) {
    const log = new Log();
    log.open(7, 1);
    log.out(7, 1, "p1");
    second(log);
    log.marker(7, 3);
    const l = run(log, { deliveries: outTo(["all", "p1"], 1, 1), diagnostics });
    caught(l, re);
    assert.equal(l.figures.unexplainedDiscards, 1);
  }
  // A lost tail of a connection that no fault touched (the client gave it up by itself).
  const log = basic();
  log.open(8, 2);
  log.marker(8, 1);
  const l = run(log, { current: 2, deliveries: all3([3]), diagnostics: [{ kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 2 }] }] });
  caught(l, /seq 3 .* reported it \(lost tail\) but no injected fault/);
  // ... which a fault that can cost a connection, injected during its life, does explain
  // (the page leaving is one: the SDK closes its socket), but one injected before the
  // connection opened, or one that cannot cost it, does not.
  const costs = [
    [[["half_open", 3]], true], [[["page_hidden", 3]], true], [[["page_reloaded", 3]], true],
    [[["half_open", -1]], false], [[["page_hidden", -1]], false], [[["nan", 3]], false],
  ];
  for (const [faults, ok] of costs) {
    const again = run(log, { current: 2, faults, deliveries: all3([3]), diagnostics: [{ kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 2 }] }] });
    assert.equal(again.problems.length === 0, ok, JSON.stringify(faults) + again.problems);
  }
  // Seqless decode errors and oversized frames need an injected frame on that connection.
  const bare = basic();
  const seqless = run(bare, { deliveries: all3(), diagnostics: [{ kind: "decodeError", g: 1 }, { kind: "oversizedFrame", g: 1 }] });
  caught(seqless, /decodeError #1 without a seq, but only 0 injected/);
  caught(seqless, /oversizedFrame #2 without a seq/);
  const garbage = basic();
  garbage.push({ conn: 7, kind: "raw", fault: "garbage" });
  assert.deepEqual(run(garbage, { deliveries: all3(), diagnostics: [{ kind: "decodeError", g: 1 }] }).problems, []);
});

test("pipe and token scopes: leaks into them are caught", () => {
  const log = new Log();
  log.open(7, 1);
  log.sse(7, 1, "p2", "s", 2);
  log.out(7, 2, "p2", "s");
  log.sse(7, 3, "p1", "a", 0);
  log.marker(7, 4);
  const l = run(log, {
    deliveries: [
      d("all", 1, 1, "sse", "t.p2.s"), d("p2s", 1, 1, "sse", "t.p2.s"), d("pipe", 1, 1, "sse", "t.p2.s"),
      d("all", 1, 2, "output", "t.p2.s"), d("p2s", 1, 2, "output", "t.p2.s"), d("pipe", 1, 2, "output", "t.p2.s"),
      d("all", 1, 3, "sse", "t.p1.a"), d("tok", 1, 3, "sse", "t.p1.a"),
    ],
  });
  caught(l, /pipe .* got apaevt_sse of p2\/s .*pipe 2.* seq 1: scope or types/);
  caught(l, /pipe .* got output of p2\/s .* seq 2: scope or types/);
  caught(l, /tok .* got apaevt_sse of p1\/a .* seq 3: scope or types/);
  assert.equal(l.problemCount, 3);
});

test("duplicates, disorder, phantoms, withheld frames and wrong types are problems", () => {
  const cases = [
    [[...all3(), ...outTo(["p1"], 1, 1)], /2 times/],
    [[...outTo(["all", "p1"], 1, 2), ...outTo(["all", "p1"], 1, 1)], /out of order/],
    [[d("all", 1, 9, "output", "t.p1.s")], /never sent/],
    [[d("all", 1, 1, "task", "t.p1.s")], /but that frame was output/],
    [[d("nobody", 1, 1, "output", "t.p1.s")], /unknown subscription/],
  ];
  for (const [deliveries, want] of cases) caught(run(basic(), { deliveries }), want);
  const log = new Log();
  log.open(7, 1);
  log.out(7, 1, "p1", "s", { fault: "dropped" });
  caught(run(log, { deliveries: outTo(["all"], 1, 1) }), /withheld \(dropped\)/);
});

test("a delivery outside the subscription's scope or types is a leak, dashboard events only go to * + DASHBOARD", () => {
  const log = new Log();
  log.open(7, 1);
  log.out(7, 1, "p2", "other");
  log.task(7, 2, "apaevt_task", BITS.TASK, "p1", "s");
  log.dashboard(7, 3);
  log.marker(7, 4);
  const l = run(log, { deliveries: [d("p2s", 1, 1, "output", "t.p2.other"), d("p2s", 1, 2, "task", "t.p1.s"), d("p1", 1, 3, "dashboard")] });
  assert.equal(l.problemCount, 6, l.problems.join("\n")); // + the 3 frames `all` never got
  assert.equal(l.problems.filter((p) => /scope or types do not match/.test(p)).length, 3);
});

test("a re-seeded delivery outside the subscription's scope is a leak", () => {
  const log = basic();
  const l = run(log, { deliveries: [...all3(), d("p2s", 1, null, "taskStatus", "t.p1.s")] });
  caught(l, /re-seeded taskStatus of p1\/s: scope or types do not match/);
});

test("frames after the cutoff of the live connection wait; a finished client counts them unsettled", () => {
  const log = basic();
  const l = new Ledger(SUBS, { tokens: TOKENS });
  l.addLog(log.entries);
  const cutoff = log.i - 1;
  l.addLog([log.out(7, 5, "p1")]);
  l.addPage({ deliveries: all3(), diagnostics: [] });
  l.settle({ current: 1, cutoff });
  assert.equal(l.pending.size, 1);
  l.finish({ current: 1, cutoff });
  assert.equal(l.figures.framesUnsettled, 1);
  assert.deepEqual(l.problems, []);
});

test("a connection the page did not number, and an event without routing facts or fault, are reported", () => {
  const l = new Ledger(SUBS, { tokens: TOKENS });
  l.addLog([{ i: 0, conn: 3, kind: "open", path: "/task/service" }, { i: 1, conn: 3, seq: 1, kind: "event", event: "output" }]);
  assert.equal(l.problems.length, 2);
  const m = new Ledger(SUBS, { tokens: TOKENS });
  m.addLog([{ i: 0, conn: 3, kind: "open", path: "/x?attempt=1" }, { i: 1, conn: 3, seq: 1, kind: "event", event: "output" }]);
  caught(m, /without routing facts that no fault injected/);
});

test("routing facts and desired keys follow the spec's key rules", () => {
  assert.deepEqual(desiredKeys(SUBS, TOKENS), {
    "*": maskOf(["TASK", "SUMMARY", "OUTPUT", "SSE", "DASHBOARD"]), "p.p1.*": maskOf(["OUTPUT", "SUMMARY", "TASK"]),
    "p.p2.s": maskOf(["OUTPUT", "SSE"]), "p.p2.s.1": maskOf(["SSE", "OUTPUT"]), "p.p3.s3": maskOf(["SSE", "SUMMARY"]),
  });
  // Without the `*` companion, the SDK's cleanup watch still holds `*` with DASHBOARD beside
  // source keys; not on a task-token connection, and not for project-wide keys alone.
  assert.equal(desiredKeys(SCOPED, TOKENS)["*"], BITS.DASHBOARD);
  assert.equal(desiredKeys(SCOPED, TOKENS, { cleanupWatch: false })["*"], undefined);
  assert.equal(desiredKeys([SUBS[1]], TOKENS)["*"], undefined);
  assert.throws(() => serverKey({ token: "tk_unknown" }), /needs the task of every token scope/);
  const all = { scope: { token: "*" }, mask: maskOf(["DASHBOARD"]) };
  assert.equal(matches(all, { bit: BITS.DASHBOARD }), true, "server events go to * + DASHBOARD");
  assert.equal(matches({ scope: { projectId: "p", source: "*" }, mask: BITS.DASHBOARD }, { bit: BITS.DASHBOARD }), false);
  const scoped = { scope: { projectId: "p", source: "*" }, mask: BITS.TASK };
  assert.equal(matches(scoped, { bit: BITS.TASK, seed: "running", keys: ["p.p.*"] }), null, "running seed without its task list");
  assert.equal(matches(scoped, { bit: BITS.TASK, seed: "running", keys: ["p.p.*"], tasks: [["t", "p", "x"]] }), true);
  assert.equal(matches(scoped, { bit: BITS.TASK, seed: "running", keys: ["p.p.*"], tasks: [["t", "q", "x"]] }), false);
  assert.equal(matches({ scope: { token: "*" }, mask: BITS.OUTPUT }, { event: "output", injected: "none" }), true, "injected output: bit from its name");
  assert.equal(matches({ scope: { token: "*" }, mask: BITS.SSE }, { event: "output", injected: "none" }), false);
  assert.equal(matches(scoped, { event: "apaevt_status_update", injected: "task" }), false, "no SUMMARY");
  assert.equal(matches({ ...scoped, mask: BITS.SUMMARY }, { event: "apaevt_status_update", injected: "task" }), null, "nan without its task");
});
