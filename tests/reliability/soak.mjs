// The soak run: `node tests/reliability/soak.mjs --soak` runs 10,000 fault cycles
// (`--cycles N` for another count) with the same checks as the CI suite, prints progress,
// and writes the figures to tests/RELIABILITY.md, also when a cycle fails (the failure is
// recorded, and the exit status is 1). Needs what scripts/test.sh builds: pkg/dist and
// target/debug/runwatch-sim.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runCycles, formatReport } from "./cycles.mjs";
import { REPO_ROOT } from "../support/paths.mjs";
import { CHROMIUM } from "../support/browser.mjs";

const SOAK_CYCLES = 10_000;
const { values } = parseArgs({ options: { soak: { type: "boolean" }, cycles: { type: "string" }, out: { type: "string" } } });
const cycles = values.cycles ? Number(values.cycles) : values.soak ? SOAK_CYCLES : 0;
if (!Number.isInteger(cycles) || cycles < 1) {
  console.error("usage: node tests/reliability/soak.mjs --soak | --cycles N [--out FILE]");
  process.exit(2);
}
const out = values.out ?? path.join(REPO_ROOT, "tests", "RELIABILITY.md");

const quiet = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: "utf8" }).trim(); } catch { return "unknown"; } };
const started = new Date();
let last;
let failure;
try {
  last = await runCycles({
    cycles,
    progressEvery: 500,
    onProgress: (n, r) => {
      last = r;
      console.log(`[soak] ${n}/${cycles} cycles, ${r.seconds} s, frames ${r.framesSent} (reported missing ${r.framesReportedMissing}), lost ${r.lost}, duplicates ${r.duplicatesDelivered}`);
    },
  });
} catch (err) {
  failure = err;
  console.error(`[soak] FAILED: ${err.stack || err}`);
}

const lines = [
  "# Reliability figures",
  "",
  "Written by `node tests/reliability/soak.mjs --soak` (the fault-cycle suite of",
  "`tests/reliability/`, run long). Each cycle injects one simulator fault kind in turn into a",
  "live client of the built npm package in headless Chromium, then checks the simulator's send",
  "log against what the page's subscriptions got, every (frame, subscription) pair, seeds and",
  "injected frames included: every frame a subscription matches arrived there exactly once and",
  "in order, or the SDK reported that frame missing (a `gap` holding its seq, a `decodeError` of",
  "its seq, the `resync` tail of its lost connection) for a cause an injected fault explains",
  "(broken down below); nothing reached a subscription whose scope or types do not match; the",
  "server holds exactly the desired subscription keys; no page error; no credential appears in",
  "anything the SDK emitted; WebAssembly memory stays under 64 MiB. CI runs the same checks",
  "for 210 cycles and prints the same table.",
  "",
  `- run: ${started.toISOString()}, commit ${quiet("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])}`,
  `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
  `- node ${process.version}, ${quiet(CHROMIUM, ["--version"])}`,
  `- result: ${failure ? `**FAILED**: ${String(failure.message).split("\n")[0]}` : `passed, ${cycles} cycles`}`,
  "",
  last ? formatReport(last) : "(no cycle completed)",
  "",
];
fs.writeFileSync(out, lines.join("\n"));
console.log(`[soak] wrote ${out}`);
if (last) console.log(formatReport(last));
process.exit(failure ? 1 : 0);
