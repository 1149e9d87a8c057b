// The fault-cycle suite in CI: at least 200 cycles (RUNWATCH_CYCLES to change), each fault
// kind in turn, every cycle checked against the simulator's send log (see cycles.mjs and
// ledger.mjs). Prints the figures; `node tests/reliability/soak.mjs` runs 10,000+ and
// writes them to tests/RELIABILITY.md.
//
// The strict subscription sets (cycles.mjs STRICT_SETS: no `{token:"*"}` companion,
// OUTPUT/SSE/DETAIL-only source and project scopes, pipe scopes, a `pk_` connection on its
// token) run too, RUNWATCH_STRICT_CYCLES cycles each (default: every fault kind twice). They
// failed against the SDK of ef36256, which dropped events of tasks it had not seen on such
// scopes without a diagnostic (issue 9, "Silent drops"). RUNWATCH_KEEP_GOING=1 runs every
// cycle of a set even after an oracle failure and prints what failed, by problem kind
// (diagnosis, not a verdict).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCycles, formatReport, FAULTS, SETS, STRICT_SETS } from "./cycles.mjs";

const CYCLES = Math.max(Number(process.env.RUNWATCH_CYCLES || 210), FAULTS.length);
const STRICT_CYCLES = Math.max(Number(process.env.RUNWATCH_STRICT_CYCLES || 2 * FAULTS.length), FAULTS.length);
const KEEP_GOING = process.env.RUNWATCH_KEEP_GOING === "1";

/** The problems of a keep-going run, grouped by their text with numbers and ids blanked. */
function summarise(failures) {
  const kinds = new Map();
  for (const { where, problems } of failures) {
    for (const p of problems) {
      const kind = p.replace(/[0-9a-f]{8}\.\w+/g, "<task>").replace(/\d+/g, "N").slice(0, 220);
      const k = kinds.get(kind) ?? { n: 0, first: `${where}: ${p}` };
      k.n += 1;
      kinds.set(kind, k);
    }
  }
  return [...kinds.values()].sort((a, b) => b.n - a.n).map((k) => `  ${k.n} × ${k.first}`).join("\n");
}

async function suite(set, cycles) {
  const report = await runCycles({ cycles, set, keepGoing: KEEP_GOING });
  console.log(`\nfault-cycle figures, set ${set} (${cycles} cycles):\n${formatReport(report)}\n`);
  if (report.failures.length) {
    console.log(`${report.failures.length} cycle(s) of set ${set} failed the oracle:\n${summarise(report.failures)}\n`);
  }
  assert.equal(report.failures.length, 0, "cycles failed the oracle");
  assert.equal(report.lost, 0);
  assert.equal(report.unexplainedDiscards, 0);
  assert.equal(report.duplicatesDelivered, 0);
  assert.ok(report.framesDelivered > 0, "events flowed");
  const skipped = SETS[set].skip ?? [];
  for (const { kind } of FAULTS) if (!skipped.includes(kind)) assert.ok(report.faults[kind] >= 1, `fault ${kind} was injected`);
  return report;
}

test(`${CYCLES} fault cycles lose nothing unreported, deliver nothing twice, leak no scope or key`, { timeout: 20 * 60_000 }, async () => {
  const report = await suite("default", CYCLES);
  assert.equal(report.pairsUndecidable, 0, "with an all-task subscription every pair is decided");
});

// Not registered at all without the switch: the default run shows no skipped test.
for (const set of STRICT_SETS) {
  test(`strict set ${set}: ${STRICT_CYCLES} fault cycles lose nothing unreported`, { timeout: 20 * 60_000 }, async () => {
    await suite(set, STRICT_CYCLES);
  });
}
