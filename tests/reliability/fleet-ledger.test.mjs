// The fleet-rlm oracle itself is tested: fed a made-up send log and page records, the
// FleetLedger must accept an honest run and catch every planted violation: a frame lost on a
// live connection or before a delivered one, a lost tail no resync names or no fault
// explains, a copy or an invention delivered, frames out of order, a withheld step or a
// hostile frame nobody reports, and stores that disagree with the frames (a turn left
// running, a status, a merged run, a hole, a tree).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FleetLedger, socketOf, stepIndex } from "./fleet-ledger.mjs";

const R = "acme:ada:sess:1";
const ROOT = `${R}:root`;
const sid = (n) => `${R}:s${n}`;

/** A send-log builder for fleet sockets: indices increase; attempt N opens `…?attempt=N`. */
class Log {
  constructor() { this.i = 0; this.entries = []; }
  push(e) { const entry = { i: this.i++, kind: "event", ...e }; this.entries.push(entry); return entry; }
  open(conn, attempt, socket) {
    const path = socket === "chat" ? `/api/v1/ws/execution?access_token=x&attempt=${attempt}` : `/api/v1/ws/execution/events?session_id=sess&access_token=x&attempt=${attempt}`;
    return this.push({ conn, kind: "open", path });
  }
  close(conn, fault) { return this.push({ conn, kind: "close", ...(fault ? { fault } : {}) }); }
  chat(conn, kind, eventId, extra = {}) { return this.push({ conn, event: `event:${kind}`, eventId, ...extra }); }
  error(conn, errorCode) { return this.push({ conn, event: "error", errorCode }); }
  started(conn, extra = {}) { return this.push({ conn, event: "execution_started", runId: R, ...extra }); }
  step(conn, n, parent = null, extra = {}) { return this.push({ conn, event: "execution_step", runId: R, stepId: sid(n), parentId: parent === null ? ROOT : sid(parent), ...extra }); }
  completed(conn, n, status = "completed", extra = {}) {
    return this.push({ conn, event: "execution_completed", runId: R, ...(n ? { stepId: sid(n), parentId: ROOT } : {}), status, ...extra });
  }
  injected(conn, fault, kind = "raw") { return this.push({ conn, kind, fault }); }
}

/** Page records: chat [g, type, kind|code, eventId], exec [g, type, runId, stepId, parentId]. */
const ev = (g, kind, id) => [g, "event", kind, id];
const ex = (g, type, n, parent = null) => [g, type, R, n ? sid(n) : null, n ? (parent === null ? ROOT : sid(parent)) : null];
const live = (g, socket) => ({ socket, g, newState: "live" });
const lostState = (g, socket) => ({ socket, g, newState: "backoff", reason: { kind: "closed", code: 1006 } });
const resync = (g, socket, lostG) => ({ socket, g, kind: "resync", lostG });

/** A run as the page flattens it; `steps` as [n, parent n | null] under their parents. */
function run({ status = "completed", sawStart = true, possiblyIncomplete = false, missing = [], steps = [], sorted = true, runId = R }) {
  const flat = steps.map(([n, parent, treeParent = parent, parentMissing = false]) => [
    sid(n), parent === null ? ROOT : sid(parent), treeParent === null ? null : sid(treeParent), parentMissing,
  ]);
  return { runId, status, sawStart, possiblyIncomplete, missing, missingCount: missing.length, count: flat.length, steps: flat, sorted };
}

/** Feeds a log and page records, settles at the end of the log. */
function check(log, page = {}, { runs = [], turns = [], faults = [] } = {}) {
  const l = new FleetLedger();
  for (const [kind, i] of faults) l.noteFault(kind, i);
  l.addLog(log.entries);
  l.addPage({ chat: [], exec: [], diags: [], states: [], ...page });
  l.settle({ cutoff: log.i - 1, runs, turns });
  return l;
}

const caught = (l, re) => assert.ok(l.problems.some((p) => re.test(p)), `expected a problem matching ${re}, got: ${JSON.stringify(l.problems)}`);

/**
 * An honest session: chat attempt 1 with a turn; events attempt 2 with a run whose steps
 * were reordered, duplicated, one withheld; hostile frames delivered and reported; the
 * events connection dropped with frames in flight (lost tail, resync on attempt 3).
 */
function honest() {
  const log = new Log();
  log.open(10, 1, "chat");
  log.open(11, 2, "events");
  log.started(11);
  log.chat(10, "reasoning_step", "e1");
  log.step(11, 1);
  log.step(11, 2, null, { fault: "reordered" }); // swapped with s3 on the wire
  log.step(11, 3, 2);
  log.step(11, 3, 2, { fault: "duplicated" }); // the copy is not handed over again
  log.step(11, 4, null, { fault: "dropped" }); // withheld: its index is a hole of the run
  log.chat(10, "assistant_token", "e2");
  log.injected(11, "garbage"); // reported by a decodeError
  log.injected(11, "unknown_event", "event"); // delivered as `unknown`
  log.step(11, 5, 3);
  log.completed(11, 6);
  log.chat(10, "final", "e3");
  log.step(11, 7, null, { runId: R }); // in flight when the connection dropped
  log.close(11, "drop_all");
  log.open(12, 3, "events");
  const page = {
    chat: [ev(1, "reasoning_step", "e1"), ev(1, "assistant_token", "e2"), ev(1, "final", "e3")],
    exec: [ex(2, "execution_started"), ex(2, "execution_step", 1), ex(2, "execution_step", 3, 2), ex(2, "execution_step", 2),
      [2, "unknown", null, null, null], ex(2, "execution_step", 5, 3), ex(2, "execution_completed", 6)],
    diags: [{ socket: "events", g: 2, kind: "decodeError" }, resync(3, "events", [2])],
    states: [live(1, "chat"), live(2, "events"), lostState(2, "events"), live(3, "events")],
  };
  const runs = [run({ missing: [4], steps: [[1, null], [2, null], [3, 2], [5, 3], [6, null]] })];
  const turns = [{ turnId: 1, state: "completed" }];
  return { log, page, runs, turns };
}

test("helpers: the socket of a path, the index of a step id", () => {
  assert.equal(socketOf("/api/v1/ws/execution?attempt=1"), "chat");
  assert.equal(socketOf("/api/v1/ws/execution/events?session_id=s&attempt=2"), "events");
  assert.equal(socketOf("/task/service?attempt=3"), undefined);
  assert.equal(stepIndex("a:b:c:1:s12"), 12);
  assert.equal(stepIndex("a:b:c:1:root"), undefined);
});

test("an honest session with reordering, copies, a withheld step, hostile frames and a lost tail is accepted", () => {
  const { log, page, runs, turns } = honest();
  const l = check(log, page, { runs, turns });
  assert.deepEqual(l.problems, []);
  const f = l.figures;
  assert.equal(f.framesSent, 10);
  assert.equal(f.framesDelivered, 9);
  assert.equal(f.copiesDropped, 1);
  assert.equal(f.injected, 2);
  assert.equal(f.injectedDelivered, 1);
  assert.deepEqual(f.discards, { "decodeError/oversizedFrame: injected": 1, "lost tail: drop_all": 1, "missing index: dropped": 1 });
  assert.equal(f.lost + f.unexplainedDiscards + f.duplicatesDelivered + f.invented + f.outOfOrder, 0);
});

test("a chat event that never arrived on a live connection is caught", () => {
  const { log, page, runs, turns } = honest();
  page.chat.splice(1, 1); // the token
  caught(check(log, page, { runs, turns }), /event\|e2#1 .*live connection but never delivered/);
});

test("a frame missing before a delivered one is not a lost tail, even on a lost connection", () => {
  const { log, page, runs, turns } = honest();
  page.exec.splice(1, 1); // s1, although s3 and later arrived
  caught(check(log, page, { runs, turns }), /s1\|.*missing before a frame delivered/);
});

test("a lost tail needs a resync naming its connection, and an injected fault to explain the loss", () => {
  const { log, page, runs, turns } = honest();
  page.diags = page.diags.filter((d) => d.kind !== "resync");
  caught(check(log, page, { runs, turns }), /s7\|.*no resync names that connection/);
  const noFault = honest();
  noFault.log.entries.find((e) => e.kind === "close").fault = undefined;
  caught(check(noFault.log, noFault.page, noFault) , /s7\|.*no injected fault explains that loss/);
});

test("a step copy delivered again, a frame never sent, and frames out of wire order are caught", () => {
  const copy = honest();
  copy.page.exec.splice(3, 0, ex(2, "execution_step", 3, 2));
  caught(check(copy.log, copy.page, copy), /s3\|.* was delivered more often than the 1 time/);
  const invented = honest();
  invented.page.chat.push(ev(1, "assistant_token", "never-sent"));
  invented.page.chat.push(ev(1, "status", "never-sent-either"));
  const l = check(invented.log, invented.page, invented);
  caught(l, /delivered \[1,"event","assistant_token","never-sent"\], which the simulator never sent/);
  const swapped = honest();
  swapped.page.chat = [swapped.page.chat[1], swapped.page.chat[0], swapped.page.chat[2]]; // not a reordered frame
  caught(check(swapped.log, swapped.page, swapped), /out of wire order/);
});

test("a step the simulator withheld must show as a hole of its run", () => {
  const { log, page, turns } = honest();
  const runs = [run({ missing: [], steps: [[1, null], [2, null], [3, 2], [5, 3], [6, null]] })];
  caught(check(log, page, { runs, turns }), /s4 was withheld \(dropped\) and nothing the SDK shows reveals it/);
});

test("frames a half-open socket withheld are excused only by a stalled diagnostic of that connection", () => {
  const log = new Log();
  log.open(11, 2, "events");
  log.started(11, { fault: "half_open" });
  log.step(11, 1, null, { fault: "half_open" });
  log.completed(11, 1, "completed", { fault: "half_open" });
  const page = { states: [live(2, "events")] };
  caught(check(log, page), /execution_started .* withheld \(half_open\)/);
  const l = check(log, { ...page, diags: [{ socket: "events", g: 2, kind: "stalled" }] });
  assert.deepEqual(l.problems, []);
  assert.equal(l.figures.discards["stalled: half_open"], 3);
});

test("hostile frames: more reports than frames, and a frame neither delivered nor reported, are caught", () => {
  const extra = honest();
  extra.page.diags.push({ socket: "events", g: 2, kind: "decodeError" }, { socket: "events", g: 2, kind: "oversizedFrame" });
  caught(check(extra.log, extra.page, extra), /3 decodeError\/oversizedFrame report\(s\), but only 2 hostile/);
  const silent = honest();
  silent.page.diags = silent.page.diags.filter((d) => d.kind !== "decodeError");
  caught(check(silent.log, silent.page, silent), /1 hostile frame\(s\) neither delivered nor reported/);
});

test("turns: one left running, or more ended a way than frames explain, is caught", () => {
  const { log, page, runs } = honest();
  caught(check(log, page, { runs, turns: [{ turnId: 1, state: "running" }] }), /turn 1 is still running/);
  caught(check(log, page, { runs, turns: [{ turnId: 1, state: "completed" }, { turnId: 2, state: "completed" }] }), /2 turn\(s\) completed, but only 1/);
  caught(check(log, page, { runs, turns: [{ turnId: 1, state: "interrupted" }] }), /1 turn\(s\) interrupted, but only 0 chat connection loss/);
});

test("runs: a status the completion does not give, one left running, two server runs merged into one are caught", () => {
  const { log, page, runs, turns } = honest();
  caught(check(log, page, { runs: [{ ...runs[0], status: "error" }], turns }), /execution_completed \(completed\) was delivered, but the store shows error/);
  const open = honest();
  open.log.entries = open.log.entries.filter((e) => e.event !== "execution_completed");
  open.page.exec = open.page.exec.filter((r) => r[1] !== "execution_completed");
  const stillRunning = [run({ status: "running", missing: [4], steps: [[1, null], [2, null], [3, 2], [5, 3]] })];
  caught(check(open.log, open.page, { runs: stillRunning, turns }), /is still running \(not possiblyIncomplete/);
  assert.deepEqual(check(open.log, open.page, { runs: [{ ...stillRunning[0], possiblyIncomplete: true }], turns }).problems, []);
  // The same run_id started twice (a failed turn's id reused): two store runs, not one.
  const twice = honest();
  twice.log.started(12);
  twice.log.step(12, 1, null, { runId: R });
  twice.page.exec.push(ex(3, "execution_started"), ex(3, "execution_step", 1));
  caught(check(twice.log, twice.page, twice), /frames of 2 server run\(s\) of that id reached the client, its store shows 1/);
});

test("holes only where a step was withheld, unless the run was not watched throughout", () => {
  const { log, page, turns } = honest();
  const holey = (extra) => [run({ missing: [4, 5], steps: [[1, null], [2, null], [3, 2], [6, null]], ...extra })];
  caught(check(log, page, { runs: holey({}), turns }), /misses steps 5 that were never withheld/);
  assert.ok(!check(log, page, { runs: holey({ possiblyIncomplete: true }), turns }).problems.some((p) => /misses steps/.test(p)));
  assert.ok(!check(log, page, { runs: holey({ sawStart: false }), turns }).problems.some((p) => /misses steps/.test(p)));
});

test("step trees: a wrong parent, unsorted siblings, a wrong parentMissing, a step never handed over are caught", () => {
  const { log, page, turns } = honest();
  const tree = (steps, extra = {}) => ({ runs: [run({ missing: [4], steps, ...extra })], turns });
  const good = [[1, null], [2, null], [3, 2], [5, 3], [6, null]];
  caught(check(log, page, tree([[1, null], [2, null], [3, 2, null], [5, 3], [6, null]])), /step .*:s3 hangs under the top, its parent_id is .*:s2/);
  caught(check(log, page, tree(good, { sorted: false })), /not in index order/);
  caught(check(log, page, tree([[1, null], [2, null], [3, 2], [5, 3, 3, true], [6, null]])), /:s5 has parentMissing true/);
  caught(check(log, page, tree([...good, [8, null]])), /holds step .*:s8 .* never handed/);
});
