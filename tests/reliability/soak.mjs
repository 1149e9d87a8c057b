// The soak run: `node tests/reliability/soak.mjs --soak` runs 10,000 fault cycles
// (`--cycles N` for another count) with the same checks as the CI suite, prints progress,
// and writes the figures to tests/RELIABILITY.md, also when a cycle fails (the failure is
// recorded, and the exit status is 1). `--fleet` runs the fleet-rlm cycles instead
// (fleet-cycles.mjs) for `--minutes M` (default 10) or `--cycles N`, whichever ends first,
// and writes the file's fleet-rlm section; each run keeps the other's section. Needs what
// scripts/test.sh builds: pkg/dist and target/debug/runwatch-sim.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runCycles, formatReport } from "./cycles.mjs";
import { runFleetCycles, formatFleetReport } from "./fleet-cycles.mjs";
import { REPO_ROOT } from "../support/paths.mjs";
import { CHROMIUM } from "../support/browser.mjs";

const SOAK_CYCLES = 10_000;
const FLEET_MINUTES = 10;
/** Where the fleet-rlm section of the file begins. */
const FLEET_HEADING = "## fleet-rlm fault cycles";
const { values } = parseArgs({
  options: { soak: { type: "boolean" }, fleet: { type: "boolean" }, cycles: { type: "string" }, minutes: { type: "string" }, out: { type: "string" } },
});
const fleet = values.fleet === true;
const cycles = values.cycles ? Number(values.cycles) : values.soak ? SOAK_CYCLES : fleet ? Number.MAX_SAFE_INTEGER : 0;
const minutes = values.minutes ? Number(values.minutes) : fleet ? FLEET_MINUTES : Infinity;
if (!Number.isInteger(cycles) || cycles < 1 || !(minutes > 0)) {
  console.error("usage: node tests/reliability/soak.mjs --soak | --cycles N | --fleet [--minutes M] [--cycles N] [--out FILE]");
  process.exit(2);
}
const out = values.out ?? path.join(REPO_ROOT, "tests", "RELIABILITY.md");

const quiet = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: "utf8" }).trim(); } catch { return "unknown"; } };
const started = new Date();
let last;
let failure;
try {
  const run = fleet ? runFleetCycles : runCycles;
  last = await run({
    cycles,
    minutes,
    progressEvery: fleet ? 50 : 500,
    onProgress: (n, r) => {
      last = r;
      console.log(`[soak] ${n} cycles, ${r.seconds} s, frames ${r.framesSent} (reported missing ${r.framesReportedMissing}), lost ${r.lost}, duplicates ${r.duplicatesDelivered}`);
    },
  });
} catch (err) {
  failure = err;
  console.error(`[soak] FAILED: ${err.stack || err}`);
}

const machine = [
  `- run: ${started.toISOString()}, commit ${quiet("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])}`,
  `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
  `- node ${process.version}, ${quiet(CHROMIUM, ["--version"])}`,
  `- result: ${failure ? `**FAILED**: ${String(failure.message).split("\n")[0]}` : `passed, ${last?.cycles ?? cycles} cycles`}`,
];

const rocketride = [
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
  "anything the SDK emitted; WebAssembly memory stays under 64 MiB; a page put in the",
  "back/forward cache, with a garbage collection forced while it is away, is never reloaded for",
  "script run in it there (a finalizer of something the SDK let go of). CI runs the same checks",
  "for 210 cycles and prints the same table.",
  "",
  ...machine,
  "",
  last ? formatReport(last) : "(no cycle completed)",
  "",
];

const fleetSection = [
  FLEET_HEADING,
  "",
  "Written by `node tests/reliability/soak.mjs --fleet` (fleet-cycles.mjs, run for ten minutes).",
  "Each cycle runs a scripted turn on a `FleetRlmClient` of the built package in headless",
  "Chromium (chat socket and events socket of one session, auth required) and injects one",
  "fault: either socket dropped or closed with a code mid-turn, a server restart, step",
  "duplicates, reordering and drops, the drop-oldest queue overflowing behind a slow events",
  "socket, a half-open events socket, slow writers, refused upgrades, a cancelled, failed or",
  "HITL turn, a question answered with `resolveHitl`, a command in flight when the chat socket",
  "drops (it must reject with `connectionLost`), a failed turn's run_id reused by a turn the",
  "events socket joined late, every hostile frame into each socket, and an expired token (both",
  "sockets must stop in `authFailed`). `fleet-ledger.mjs` then compares the send log with what",
  "the page got: every chat event, error frame and execution event on the wire reached the app",
  "exactly once and in wire order, or it is the lost tail of a connection a `resync` names",
  "and an injected fault cut, or a hostile frame a `decodeError`/`oversizedFrame` reports;",
  "every frame the server",
  "withheld shows as a hole of its run, a run that never saw its start, or a `stalled`",
  "diagnostic; nothing invented; every turn ended as its frames say; one store run per server",
  "run; each run's tree follows `parent_id` in index order; no page error; the token appears",
  "in nothing the SDK emitted; WebAssembly memory under 64 MiB. CI runs the same checks for",
  "every fault kind twice (fleet-faults.test.mjs) and prints the same table.",
  "",
  ...machine,
  "",
  last ? formatFleetReport(last) : "(no cycle completed)",
  "",
];

/** The file's RocketRide part and fleet-rlm section; this run replaces its own. */
const old = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
const at = old.indexOf(`\n${FLEET_HEADING}`);
const [oldRocketride, oldFleet] = at < 0 ? [old, ""] : [old.slice(0, at + 1), old.slice(at + 1)];
const text = fleet
  ? `${oldRocketride.trimEnd()}\n\n${fleetSection.join("\n")}`
  : `${rocketride.join("\n")}${oldFleet ? `\n${oldFleet}` : ""}`;
fs.writeFileSync(out, text);
console.log(`[soak] wrote ${out}`);
if (last) console.log(fleet ? formatFleetReport(last) : formatReport(last));
process.exit(failure ? 1 : 0);
