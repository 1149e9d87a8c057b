// The fleet-rlm fault-cycle suite in CI: every fault kind twice by default (hostile frames
// once into each socket), RUNWATCH_FLEET_CYCLES to change; every cycle checked against the
// simulator's send log (see fleet-cycles.mjs and fleet-ledger.mjs). Prints the figures;
// `node tests/reliability/soak.mjs --fleet` runs longer and writes them to
// tests/RELIABILITY.md. Main thread only: FleetRlmClient has no Worker mode yet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runFleetCycles, formatFleetReport, FLEET_FAULTS } from "./fleet-cycles.mjs";

const CYCLES = Math.max(Number(process.env.RUNWATCH_FLEET_CYCLES || 2 * FLEET_FAULTS.length), FLEET_FAULTS.length);

test(`${CYCLES} fleet-rlm fault cycles lose nothing unreported, deliver nothing twice or invented, leave no store inconsistent, leak no token`, { timeout: 10 * 60_000 }, async () => {
  const report = await runFleetCycles({ cycles: CYCLES });
  console.log(`\nfleet-rlm fault-cycle figures (${CYCLES} cycles):\n${formatFleetReport(report)}\n`);
  assert.equal(report.lost, 0);
  assert.equal(report.unexplainedDiscards, 0);
  assert.equal(report.duplicatesDelivered, 0);
  assert.equal(report.invented, 0);
  assert.equal(report.outOfOrder, 0);
  assert.equal(report.withheldReported, report.withheld, "every withheld frame was revealed");
  assert.ok(report.framesDelivered > 1000, "turns ran and their frames flowed");
  assert.ok(report.rounds >= 2, "a refused token ended a client, and a new one went on");
  for (const { kind } of FLEET_FAULTS) {
    assert.ok(Object.keys(report.faults).some((k) => k === kind || k.startsWith(`${kind}@`)), `fault ${kind} was injected`);
  }
  // The excuses were exercised, not just allowed: a lost tail, holes of the drop-oldest
  // queue, a stalled half-open socket, hostile frames reported and delivered.
  const d = report.discards;
  assert.ok(d["lost tail: drop_all"] > 0, JSON.stringify(d));
  assert.ok(d["missing index: drop_oldest"] > 0, JSON.stringify(d));
  assert.ok(d["stalled: half_open"] > 0, JSON.stringify(d));
  assert.ok(d["decodeError/oversizedFrame: injected"] > 0 && report.injectedDelivered > 0, JSON.stringify(d));
  assert.ok(report.maxMemoryBytes < 64 * 1024 * 1024);
});
