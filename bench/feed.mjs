// A quick, low-noise check of runwatch's per-event cost in V8 without a browser, for
// measuring one change at a time (the full comparison is bench/run.mjs):
//
//   node bench/feed.mjs [--frames 200000] [--rounds 5] [--record 20000]
//
// 1. starts the release simulator in load mode (the real-frame mix of issue 11) and records
//    `--record` event frames plus one response per command from a plain WebSocket;
// 2. in this process, feeds them from memory through a fake `WebSocket` (fresh `seq`s) to
//    A (JSON.parse + a callback per event), C (runwatch `subscribe`, batches as they
//    flush) and S (runwatch's task store), `--rounds` times each;
// 3. prints the best µs/event of each and the ratio to A.
// `--clients C` runs only C (e.g. under `node --cpu-prof`); `--dist DIR` loads another
// wasm-bindgen output (e.g. one without wasm-opt, whose functions keep their names);
// `--chunk N` feeds N frames per macrotask (default 64; 1 makes each frame its own flush, which
// shows the fixed cost per flush, though Node's MessagePort is far slower than a page's);
// `--gap-ms N` feeds each chunk on an N ms timer instead of at once, and measures CPU time
// (process.cpuUsage) instead of wall time: a stream that comes a little at a time, where
// the code an event runs is cold (with `--chunk 1 --gap-ms 1 --frames 3000`, on 2026-12-05:
// A ~30 µs, C ~48 µs of CPU per event, mostly Node's timer for A; C's excess over A grows
// from ~4 µs flat-out to ~18); `--newer` records from the simulator in newer-server mode
// (spec §8.5: every task event also carries `logSeq`, `project_id` and `source`, as on
// servers with the run log);
// `--save FILE` writes the recorded event frames, one per line (for `RUNWATCH_FRAMES=FILE
// cargo run --release --example decode_bench`);
// `--save-recording FILE` writes the whole recording (frames and responses) as JSON, and
// `--recording FILE` feeds that instead of recording afresh: A/B runs of two builds then see
// the very same frames (the recording decides the stream, so `--newer` and `--record`, which
// choose what to record, are refused with it).
// `--counters FILE` writes an instrumented module's counters and the events delivered
// (bench/counts.mjs builds such a module and reads the file).
//
// runwatch flushes as in a page with the default `batch: "task"`, through a `MessageChannel`
// (Node has one; its postMessage costs more than a page's). Needs pkg/dist (bash
// scripts/build-pkg.sh) and the release simulator (cargo build --release -p runwatch-sim).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

if (typeof WebSocket === "undefined") {
  // Node 20 has its WebSocket client behind a flag.
  const r = spawnSync(process.execPath, ["--experimental-websocket", "--no-warnings", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const { values: opt, tokens } = parseArgs({
  tokens: true,
  options: { frames: { type: "string", default: "200000" }, rounds: { type: "string", default: "5" }, record: { type: "string", default: "5000" }, clients: { type: "string", default: "A,C,S" }, chunk: { type: "string", default: "64" }, "gap-ms": { type: "string", default: "0" }, newer: { type: "boolean", default: false }, dist: { type: "string" }, save: { type: "string" }, recording: { type: "string" }, "save-recording": { type: "string" }, counters: { type: "string" } },
});
const FRAMES = Number(opt.frames);
const ROUNDS = Number(opt.rounds);
const CHUNK = Number(opt.chunk);
const GAP_MS = Number(opt["gap-ms"]);
/** Milliseconds since `from` (a `clock()` result): wall time, or CPU time with `--gap-ms`. */
const clock = () => (GAP_MS ? process.cpuUsage() : performance.now());
const since = (from) => {
  if (!GAP_MS) return performance.now() - from;
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000;
};
const RealWebSocket = globalThis.WebSocket;
process.env.RUNWATCH_SIM_BIN ??= fileURLToPath(new URL("../target/release/runwatch-sim", import.meta.url));
const { startSim } = await import("../tests/support/sim.mjs");

/** Events and one response per command, as a runwatch client's socket saw them. */
async function record(count) {
  const sim = await startSim({ args: ["--scenario", "load", "--tasks", "4", "--rate", "0", "--seed", "1", ...(opt.newer ? ["--newer"] : [])] });
  const rec = { events: [], responses: {} };
  const sent = new Map();
  globalThis.WebSocket = class extends RealWebSocket {
    constructor(...args) {
      super(...args);
      const send = this.send.bind(this);
      this.send = (data) => {
        const m = JSON.parse(data);
        if (m.type === "request") sent.set(m.seq, m.command);
        send(data);
      };
      this.addEventListener("message", (e) => {
        if (e.data.startsWith('{"type":"event"')) {
          if (rec.events.length < count) rec.events.push(e.data);
        } else if (e.data.startsWith('{"type":"response"')) {
          const m = JSON.parse(e.data);
          rec.responses[sent.get(m.request_seq) ?? m.command] ??= e.data;
        }
      });
    }
  };
  const client = new runwatch.RocketRideClient({ url: sim.url, auth: "sim-key" });
  client.subscribe({ token: "*" }, ["ALL"], () => {});
  const t0 = Date.now();
  while (rec.events.length < count && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
  client.close();
  globalThis.WebSocket = RealWebSocket;
  await sim.stop();
  if (rec.events.length < count) throw new Error(`recorded only ${rec.events.length} of ${count} events in 60 s`);
  return rec;
}

/** A WebSocket that answers requests from `rec` and then streams its events with fresh seqs. */
function memorySocket(rec, total, done) {
  const HEAD = '{"type":"event","seq":';
  const tails = rec.events.map((t) => t.slice(t.indexOf(",", HEAD.length)));
  return class MemoryWebSocket {
    static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
    constructor(url) {
      Object.assign(this, { url: String(url), readyState: 0, binaryType: "blob", bufferedAmount: 0, protocol: "", extensions: "" });
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      this.seq = 0;
      this.sent = 0;
      this.streaming = false;
      setTimeout(() => { this.readyState = 1; this.onopen?.({ type: "open" }); }, 0);
    }
    deliver(data) { this.onmessage?.({ type: "message", data }); }
    send(data) {
      const m = JSON.parse(data);
      if (m.type !== "request") return;
      const tpl = rec.responses[m.command];
      const text = tpl
        ? JSON.stringify({ ...JSON.parse(tpl), seq: ++this.seq, request_seq: m.seq })
        : JSON.stringify({ type: "response", seq: ++this.seq, request_seq: m.seq, command: m.command, success: false, message: "Not running" });
      queueMicrotask(() => {
        if (this.readyState !== 1) return;
        this.deliver(text);
        if (m.command === "rrext_monitor" && !this.streaming) {
          this.streaming = true;
          setImmediate(() => this.pump(clock()));
        }
      });
    }
    pump(start) {
      if (this.readyState !== 1) return;
      const end = Math.min(total, this.sent + CHUNK);
      for (; this.sent < end; this.sent += 1) this.deliver(HEAD + ++this.seq + tails[this.sent % tails.length]);
      if (this.sent < total) (GAP_MS ? setTimeout : setImmediate)(() => this.pump(start), GAP_MS);
      else setImmediate(() => done(since(start)));
    }
    close() { this.readyState = 3; }
    addEventListener() {}
    removeEventListener() {}
  };
}

/** Runs one client over `total` frames from memory; resolves with µs per delivered event. */
function feed(rec, total, start) {
  return new Promise((resolve, reject) => {
    let events = 0;
    const count = (n) => { events += n; };
    let client;
    globalThis.WebSocket = memorySocket(rec, total, (ms) => {
      client.close();
      globalThis.WebSocket = RealWebSocket;
      if (events === 0) reject(new Error("no events delivered"));
      else resolve({ us: (ms * 1000) / events, events });
    });
    client = start(count);
  });
}

const CLIENTS = {
  A: (count) => {
    const ws = new WebSocket("ws://127.0.0.1:1/task/service");
    ws.onopen = () => ws.send(JSON.stringify({ type: "request", seq: 1, command: "rrext_monitor" }));
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "event") count(1);
    };
    return ws;
  },
  C: (count) => {
    const client = new runwatch.RocketRideClient({ url: "ws://127.0.0.1:1/task/service", auth: "sim-key" });
    // This loads the wasm-bindgen glue, not the package entry, so a subscription nobody
    // references is freed (unsubscribed) when collected: hold it for the run.
    const subscription = client.subscribe({ token: "*" }, ["ALL"], (events) => count(events.length));
    return { close: () => { subscription.free(); client.close(); } };
  },
  S: (count) => {
    const client = new runwatch.RocketRideClient({ url: "ws://127.0.0.1:1/task/service", auth: "sim-key" });
    const store = client.tasks({ token: "*" });
    let seen = 0;
    // The glue's store has `__listen` (the package entry makes `subscribe` over it); an older
    // build's (`--dist`) has `subscribe` itself.
    const listen = store.__listen ? (f) => store.__listen(f) : store.subscribe;
    listen(() => {
      const events = store.stats().events;
      count(events - seen);
      seen = events;
    });
    return { close: () => { store.free?.(); client.close(); } };
  },
};

const dist = path.resolve(opt.dist ?? fileURLToPath(new URL("../pkg/dist/", import.meta.url)));
const runwatch = await import(pathToFileURL(path.join(dist, "runwatch.js")));
const wasm = runwatch.initSync({ module: readFileSync(path.join(dist, "runwatch_bg.wasm")) });

if (opt.recording && tokens.some((t) => t.kind === "option" && (t.name === "newer" || t.name === "record"))) {
  console.error("feed.mjs: --recording feeds a saved stream; --newer and --record choose a stream to record and cannot go with it");
  process.exit(2);
}
const rec = opt.recording ? JSON.parse(readFileSync(opt.recording, "utf8")) : await record(Number(opt.record));
if (opt["save-recording"]) writeFileSync(opt["save-recording"], JSON.stringify(rec));
if (opt.save) writeFileSync(opt.save, rec.events.join("\n") + "\n");
const best = {};
let delivered = 0;
for (let round = 0; round < ROUNDS; round += 1) {
  for (const name of opt.clients.split(",")) {
    const start = CLIENTS[name];
    const { us, events } = await feed(rec, FRAMES, start);
    best[name] = Math.min(best[name] ?? Infinity, us);
    delivered += events;
  }
}
if (opt.counters) {
  // An instrumented module's counters (bench/counts.mjs): its exported `__count_*` globals.
  const counters = Object.fromEntries(Object.entries(wasm).filter(([k]) => k.startsWith("__count_")).map(([k, g]) => [k, Number(g.value)]));
  writeFileSync(opt.counters, JSON.stringify({ events: delivered, counters }));
}
console.log(`from memory, ${FRAMES} frames × ${ROUNDS} rounds (best), ${CHUNK} per macrotask${GAP_MS ? `, a chunk every ${GAP_MS} ms (CPU time)` : ""}, ${rec.events.length} distinct frames:`);
for (const [name, us] of Object.entries(best)) {
  console.log(`  ${name}  ${us.toFixed(2).padStart(7)} µs/event  ${best.A ? `${(us / best.A).toFixed(2)}× A` : ""}  ${Math.round(1e6 / us).toLocaleString("en")} ev/${GAP_MS ? "CPU-s" : "s"}`);
}
