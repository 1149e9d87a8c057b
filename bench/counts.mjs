// Exact counts per event of what runwatch's wasm does, where timings are too noisy to
// show a change of a few percent (a shared 2-core machine): which functions are called and
// how often, and which `memory.copy`/`memory.fill` run, how often and how long.
//
//   node bench/counts.mjs [--clients C,S] [--frames 20000] [--top 40] [--callee NAME]...
//                         [--recording FILE]   (else feed.mjs records from the simulator)
//
// 1. takes the cargo output scripts/build-pkg.sh built (target/wasm32-unknown-unknown/
//    release-wasm/runwatch.wasm), runs wasm-bindgen and `wasm-opt -O3` on it as the build
//    does, but keeping the function names (`-g`);
// 2. adds a counter to every function's entry, and replaces every `memory.copy` and
//    `memory.fill` (and each call of a function named by `--callee`, e.g. `__multi3`) with a
//    call that counts it at its site, with the bytes of copies and fills;
// 3. feeds the frames through each client with bench/feed.mjs (one client per process, so
//    the counters are its own) and prints the counts per delivered event, largest first.
//
// A call `wasm-opt` inlines is not a call here either, as in the shipped module. The counts
// hardly depend on the machine or its load, so two builds compare closely: only the work
// done once per flush varies, as timing decides how many events share a flush (a few tenths
// of a call per event between runs of one build). A copy's cost in V8 is out of line (see
// src/core/words.rs); a call's is the function's, not shown here.
// Needs node_modules (binaryen's wasm-dis/wasm-as/wasm-opt) and the pinned wasm-bindgen CLI
// (bash scripts/setup.sh), and the cargo output (bash scripts/build-pkg.sh).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { featureFlags } from "../scripts/wasm-features.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = path.resolve(REPO, process.env.CARGO_TARGET_DIR || "target");
const BIN = path.join(REPO, "node_modules", ".bin");

const { values: opt } = parseArgs({
  options: {
    clients: { type: "string", default: "C,S" },
    frames: { type: "string", default: "20000" },
    top: { type: "string", default: "40" },
    callee: { type: "string", multiple: true, default: [] },
    recording: { type: "string" },
  },
});

const raw = path.join(TARGET, "wasm32-unknown-unknown", "release-wasm", "runwatch.wasm");
if (!fs.existsSync(raw)) {
  console.error(`counts.mjs: no ${raw}; build it with: bash scripts/build-pkg.sh`);
  process.exit(2);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), "runwatch-counts-"));
const run = (file, args) => execFileSync(file, args, { stdio: ["ignore", "inherit", "inherit"] });

/** A function's name in the text: `$name`, or `$"name"` when it has spaces or quotes. */
const NAME = String.raw`\$(?:"(?:[^"\\]|\\.)*"|\S+)`;
/** The name without its `$` and quotes. */
const bare = (name) => name.slice(1).replace(/^"|"$/g, "");

/**
 * The module's text with counters added: `__count_f<i>` at each function's entry,
 * `__count_s<i>` (calls) and `__count_b<i>` (bytes) at each counted site. Returns the text
 * and what each counter counts.
 */
function instrument(wat, callees) {
  const lines = wat.split("\n");
  const signatures = new Map();
  for (const line of lines) {
    const m = line.match(new RegExp(`^ \\(func (${NAME})(.*)$`));
    if (m && callees.some((c) => m[1].includes(c))) signatures.set(m[1], m[2]);
  }
  const functions = [];
  const sites = [];
  const added = [];
  const counter = (name) => added.push(`(global $${name} (mut i64) (i64.const 0))`, `(export "${name}" (global $${name}))`);
  const bump = (name, by = "(i64.const 1)") => `(global.set $${name} (i64.add (global.get $${name}) ${by}))`;
  let current = "?";
  for (let i = 0; i < lines.length; i++) {
    const func = lines[i].match(new RegExp(`^ \\(func (${NAME})`));
    if (func) {
      current = bare(func[1]);
      let body = i + 1;
      while (/^\s*\((local|param|result)\b/.test(lines[body])) body++;
      const id = functions.push(current) - 1;
      counter(`__count_f${id}`);
      lines.splice(body, 0, `  ${bump(`__count_f${id}`)}`);
      continue;
    }
    const op = lines[i].match(/\((memory\.(?:copy|fill))\s*$/);
    const call = lines[i].match(new RegExp(`\\(call (${NAME})\\s*$`));
    if (!op && !(call && signatures.has(call[1]))) continue;
    const id = sites.push({ in: current, what: op ? op[1] : bare(call[1]) }) - 1;
    const [n, b] = [`__count_s${id}`, `__count_b${id}`];
    counter(n);
    if (op) {
      counter(b);
      lines[i] = lines[i].replace(`(${op[1]}`, `(call $__site${id}`);
      added.push(`(func $__site${id} (param i32 i32 i32) ${bump(n)} ${bump(b, "(i64.extend_i32_u (local.get 2))")} (${op[1]} (local.get 0) (local.get 1) (local.get 2)))`);
    } else {
      const sig = signatures.get(call[1]);
      const params = [...sig.matchAll(/\(param \$\S+ (\w+)\)/g)].map((p) => p[1]);
      const result = sig.match(/\(result ([^)]+)\)/);
      lines[i] = lines[i].replace(`(call ${call[1]}`, `(call $__site${id}`);
      added.push(`(func $__site${id} ${params.map((t) => `(param ${t})`).join(" ")} ${result ? `(result ${result[1]})` : ""} ${bump(n)} (call ${call[1]} ${params.map((_, k) => `(local.get ${k})`).join(" ")}))`);
    }
  }
  let end = lines.length - 1;
  while (lines[end].trim() !== ")") end--;
  lines.splice(end, 0, ...added);
  return { wat: lines.join("\n"), functions, sites };
}

const flags = featureFlags(raw);
const named = path.join(work, "dist");
run("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", named, "--out-name", "runwatch", raw]);
fs.cpSync(path.join(REPO, "pkg", "dist", "snippets"), path.join(named, "snippets"), { recursive: true });
const module = path.join(named, "runwatch_bg.wasm");
run(path.join(BIN, "wasm-opt"), ["-O3", "-g", ...flags, module, "-o", module]);
run(path.join(BIN, "wasm-dis"), [...flags, module, "-o", path.join(work, "module.wat")]);
const { wat, functions, sites } = instrument(fs.readFileSync(path.join(work, "module.wat"), "utf8"), opt.callee);
fs.writeFileSync(path.join(work, "counted.wat"), wat);
run(path.join(BIN, "wasm-as"), [...flags, path.join(work, "counted.wat"), "-o", module]);

const short = (name) => (name.length > 150 ? `${name.slice(0, 147)}...` : name);
for (const client of opt.clients.split(",")) {
  const out = path.join(work, `${client}.json`);
  const feed = ["bench/feed.mjs", "--dist", named, "--clients", client, "--rounds", "1", "--frames", opt.frames, "--counters", out];
  if (opt.recording) feed.push("--recording", opt.recording);
  execFileSync(process.execPath, feed, { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  const { events, counters } = JSON.parse(fs.readFileSync(out, "utf8"));
  const per = (k) => (counters[k] ?? 0) / events;
  const calls = functions.map((name, i) => ({ name, n: per(`__count_f${i}`) })).filter((r) => r.n > 0).sort((a, b) => b.n - a.n);
  const counted = sites.map((s, i) => ({ ...s, n: per(`__count_s${i}`), bytes: per(`__count_b${i}`) })).filter((r) => r.n > 0).sort((a, b) => b.n - a.n);
  const sum = (rows) => rows.reduce((t, r) => t + r.n, 0).toFixed(1);
  const copies = counted.filter((s) => s.what.startsWith("memory."));
  console.log(`\n${client}: ${events} events delivered; per event: ${sum(calls)} calls of ${calls.length} functions, ${sum(copies)} memory.copy/fill`);
  console.log(`  calls per event, the ${opt.top} most called:`);
  for (const r of calls.slice(0, Number(opt.top))) console.log(`  ${r.n.toFixed(3).padStart(9)}  ${short(r.name)}`);
  console.log(`  counted sites per event (average bytes of a copy or fill):`);
  for (const s of counted.slice(0, Number(opt.top))) {
    const bytes = s.what.startsWith("memory.") ? `${(s.bytes / s.n).toFixed(0).padStart(6)} B` : "        ";
    console.log(`  ${s.n.toFixed(3).padStart(9)}  ${bytes}  ${s.what} in ${short(s.in)}`);
  }
}
fs.rmSync(work, { recursive: true, force: true });
