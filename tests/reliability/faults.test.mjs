// The fault-cycle suite in CI: at least 200 cycles (RUNWATCH_CYCLES to change), each fault
// kind in turn, every cycle checked against the simulator's send log (see cycles.mjs and
// ledger.mjs). Prints the figures; `node tests/reliability/soak.mjs` runs 10,000+ and
// writes them to tests/RELIABILITY.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCycles, formatReport, FAULTS } from "./cycles.mjs";

const CYCLES = Math.max(Number(process.env.RUNWATCH_CYCLES || 210), FAULTS.length);

test(`${CYCLES} fault cycles lose nothing unreported, deliver nothing twice, leak no scope or key`, { timeout: 20 * 60_000 }, async () => {
  const report = await runCycles({ cycles: CYCLES });
  console.log(`\nfault-cycle figures (${CYCLES} cycles):\n${formatReport(report)}\n`);
  assert.equal(report.lost, 0);
  assert.equal(report.duplicatesDelivered, 0);
  assert.ok(report.framesDelivered > 0, "events flowed");
  for (const { kind } of FAULTS) assert.ok(report.faults[kind] >= 1, `fault ${kind} was injected`);
});
