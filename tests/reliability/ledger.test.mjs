// The oracle itself is tested: fed a made-up send log and page records, the Ledger must
// accept an honest run and catch every kind of violation the fault cycles rely on it for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ledger, desiredKeys, matches, maskOf, BITS } from "./ledger.mjs";

const SUBS = [
  { name: "all", scope: { token: "*" }, types: ["TASK", "OUTPUT", "DASHBOARD"] },
  { name: "p1", scope: { projectId: "p1", source: "*" }, types: ["OUTPUT"] },
  { name: "p2s", scope: { projectId: "p2", source: "s" }, types: ["OUTPUT"] },
];

let i = 0;
const open = (conn, attempt) => ({ i: i++, conn, kind: "open", path: `/task/service?attempt=${attempt}` });
const out = (conn, seq, projectId, source = "s", extra = {}) => ({
  i: i++, conn, seq, kind: "event", event: "output", bit: BITS.OUTPUT, taskId: `t.${source}`, projectId, source, ...extra,
});
const ping = (conn, seq) => ({ i: i++, conn, seq, kind: "response", command: "rrext_ping" });

/** A ledger that has seen attempt 1 = connection 7 and frames 1..3 of project p1. */
function setup() {
  const l = new Ledger(SUBS);
  const log = [open(7, 1), out(7, 1, "p1"), out(7, 2, "p1"), out(7, 3, "p1"), ping(7, 4)];
  l.addLog(log);
  return { l, cutoff: log.at(-1).i };
}
const both = (g, seq) => [["all", g, seq, "output", "t.s"], ["p1", g, seq, "output", "t.s"]];

test("an honest run is accepted and counted", () => {
  const { l, cutoff } = setup();
  l.addPage({ deliveries: [...both(1, 1), ...both(1, 2), ...both(1, 3)], diagnostics: [] });
  l.settle({ current: 1, cutoff });
  assert.deepEqual(l.problems, []);
  assert.equal(l.figures.framesSent, 3);
  assert.equal(l.figures.framesDelivered, 3);
});

test("a frame missing for one subscription without a report is lost", () => {
  const { l, cutoff } = setup();
  l.addPage({ deliveries: [...both(1, 1), ["all", 1, 2, "output", "t.s"], ...both(1, 3)], diagnostics: [] });
  l.settle({ current: 1, cutoff });
  assert.equal(l.figures.lost, 1);
  assert.match(l.problems[0], /seq 2 .* never reached p1/);
});

test("a gap, a decode error or a resync tail covers a missing frame", () => {
  for (const diag of [
    { kind: "gap", g: 1, first: 2, last: 2 },
    { kind: "decodeError", g: 1, seq: 2 },
  ]) {
    const { l, cutoff } = setup();
    l.addPage({ deliveries: [...both(1, 1), ...both(1, 3)], diagnostics: [diag] });
    l.settle({ current: 1, cutoff });
    assert.deepEqual(l.problems, [], diag.kind);
    assert.equal(l.figures.framesReportedMissing, 1);
  }
  // Connection 1 ends after seq 1; the resync of attempt 2 says its stream broke off there.
  const { l } = setup();
  l.addLog([open(8, 2), ping(8, 1)]);
  l.addPage({ deliveries: both(1, 1), diagnostics: [{ kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 1 }] }] });
  l.settle({ current: 2, cutoff: i });
  assert.deepEqual(l.problems, []);
  assert.equal(l.figures.framesReportedMissing, 2);
});

test("an ended connection waits for its resync, and a tail does not excuse frames before it", () => {
  const { l } = setup();
  l.addLog([open(8, 2)]);
  l.addPage({ deliveries: both(1, 1), diagnostics: [] });
  l.settle({ current: 2, cutoff: i });
  assert.equal(l.figures.framesSent, 1, "2 and 3 wait for the resync");
  l.addPage({ deliveries: [], diagnostics: [{ kind: "resync", g: 2, lost: [{ g: 1, lastSeq: 2 }] }] });
  l.settle({ current: 2, cutoff: i });
  assert.equal(l.figures.lost, 1, "seq 2 is at or before lastSeq: it should have arrived");
  assert.equal(l.figures.framesReportedMissing, 1, "seq 3 is in the tail");
});

test("duplicates, disorder, phantoms, withheld frames and wrong types are problems", () => {
  const cases = [
    [[...both(1, 1), ...both(1, 1)], /2 times/],
    [[...both(1, 2), ...both(1, 1)], /out of order/],
    [[["all", 1, 9, "output", "t.s"]], /never sent/],
    [[["all", 1, 1, "task", "t.s"]], /but that frame was output/],
  ];
  for (const [deliveries, want] of cases) {
    const { l } = setup();
    l.addPage({ deliveries, diagnostics: [] });
    assert.ok(l.problems.some((p) => want.test(p)), `${want}: ${l.problems}`);
  }
  const l = new Ledger(SUBS);
  l.addLog([open(7, 1), out(7, 1, "p1", "s", { fault: "dropped" })]);
  l.addPage({ deliveries: [["all", 1, 1, "output", "t.s"]], diagnostics: [] });
  assert.match(l.problems[0], /withheld \(dropped\)/);
});

test("a delivery outside the subscription's scope or types is a leak", () => {
  const l = new Ledger(SUBS);
  l.addLog([open(7, 1), out(7, 1, "p2", "other"), { i: i++, conn: 7, seq: 2, kind: "event", event: "apaevt_task", bit: BITS.TASK, taskId: "t.s", projectId: "p1", source: "s" }]);
  l.addPage({ deliveries: [["p2s", 1, 1, "output", "t.other"], ["p1", 1, 2, "task", "t.s"]], diagnostics: [] });
  assert.equal(l.problems.length, 2);
  assert.ok(l.problems.every((p) => /scope or types do not match/.test(p)));
});

test("a lying seq reported as seqAnomaly is delivered out of order without a problem", () => {
  const { l, cutoff } = setup();
  l.addLog([out(7, 1_000_002, "p1")]);
  l.addPage({
    deliveries: [...both(1, 1), ...both(1, 2), ...both(1, 1_000_002), ...both(1, 3)],
    diagnostics: [{ kind: "seqAnomaly", g: 1, seq: 1_000_002, expected: 3 }],
  });
  l.settle({ current: 1, cutoff });
  assert.deepEqual(l.problems, []);
});

test("frames after the cutoff of the live connection wait; a finished client counts them unsettled", () => {
  const { l, cutoff } = setup();
  l.addLog([out(7, 5, "p1")]);
  l.addPage({ deliveries: [...both(1, 1), ...both(1, 2), ...both(1, 3)], diagnostics: [] });
  l.settle({ current: 1, cutoff });
  assert.equal(l.pending.size, 1);
  l.finish({ current: 1, cutoff });
  assert.equal(l.figures.framesUnsettled, 1);
  assert.deepEqual(l.problems, []);
});

test("a connection the page did not number is reported", () => {
  const l = new Ledger(SUBS);
  l.addLog([{ i: 0, conn: 3, kind: "open", path: "/task/service" }, out(3, 1, "p1")]);
  assert.equal(l.problems.length, 2);
});

test("routing facts and desired keys follow the spec's key rules", () => {
  assert.deepEqual(desiredKeys(SUBS), { "*": maskOf(["TASK", "OUTPUT", "DASHBOARD"]), "p.p1.*": 8, "p.p2.s": 8 });
  const all = { scope: { token: "*" }, mask: maskOf(["DASHBOARD"]) };
  assert.equal(matches(all, { bit: BITS.DASHBOARD }), true, "server events go to * + DASHBOARD");
  assert.equal(matches({ scope: { projectId: "p" , source: "*" }, mask: BITS.TASK }, { bit: BITS.TASK }), null, "seed without a task: undecidable");
  assert.equal(matches(all, { bit: undefined }), null, "injected frame without facts: undecidable");
});
