// Start and control the engine simulator (`runwatch-sim`, built from sim/) for a test.
//
//   const sim = await startSim();            // --port 0: the OS picks a free port
//   sim.url                                  // ws://127.0.0.1:<port>/task/service
//   await sim.control("kill", { ... });      // POST http://127.0.0.1:<port>/_sim/kill
//   await sim.restart();                     // same args, same port
//   await sim.stop();                        // SIGINT, then SIGKILL after a grace period
//
// The binary is `target/debug/runwatch-sim` (see paths.mjs); scripts/test.sh builds it first.
// The simulator announces itself with one stdout line,
//   runwatch-sim listening on ws://127.0.0.1:<port>/task/service
// and everything it prints after that (stdout and stderr) goes to a log file under
// target/test-logs/, whose path is in `sim.logFile` and in every error this module throws.
// Every process started here is killed when the test process exits, even after a failure.
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { LOG_DIR, SIM_BIN } from "./paths.mjs";

const READY_LINE = /runwatch-sim listening on (ws:\/\/127\.0\.0\.1:(\d+)(\/\S*)?)/;
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const CONTROL_TIMEOUT_MS = 10_000;

/** Every live child, so the exit hook can kill what a failed test left behind. */
const live = new Set();
process.once("exit", () => {
  for (const child of live) {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

let serial = 0;

/**
 * Start the simulator.
 * @param {object} [opts]
 * @param {string[]} [opts.args]  extra CLI arguments (e.g. ["--scenario", "demo"])
 * @param {Record<string,string>} [opts.env]  extra environment variables
 * @param {number} [opts.port]  a fixed port; default 0 (any free port)
 * @param {number} [opts.timeoutMs]  how long to wait for the "listening" line
 * @param {string} [opts.bin]  the binary; default SIM_BIN (paths.mjs), or RELEASE_SIM_BIN
 * @returns {Promise<Sim>}
 */
export async function startSim({ args = [], env = {}, port = 0, timeoutMs = START_TIMEOUT_MS, bin = SIM_BIN } = {}) {
  if (!fs.existsSync(bin)) {
    const release = bin.includes(`${path.sep}release${path.sep}`) ? " --release" : "";
    throw new Error(`runwatch-sim binary not found at ${bin}; build it with \`cargo build${release} -p runwatch-sim\` (scripts/test.sh does)`);
  }
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const sim = new Sim({ bin, args, env, timeoutMs, logFile: path.join(LOG_DIR, `sim-${process.pid}-${++serial}.log`) });
  await sim._spawn(port);
  return sim;
}

/**
 * Call the simulator's HTTP control API, `<controlUrl><route>`; `route` may include the
 * `/_sim/` prefix or not.
 * POSTs `body` as JSON when given (or when method is "POST"), else GETs.
 * Resolves to the parsed JSON reply (or its text when it is not JSON); rejects on a non-2xx status.
 */
export async function control(controlUrl, route, body, { method, timeoutMs = CONTROL_TIMEOUT_MS } = {}) {
  // "execute", "/execute", "_sim/execute" and "/_sim/execute" all name the same route.
  const url = new URL(route.replace(/^\/+/, "").replace(/^_sim\//, ""), controlUrl);
  const m = method ?? (body === undefined ? "GET" : "POST");
  const res = await fetch(url, {
    method: m,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sim control ${m} ${url} → ${res.status}: ${text}`);
  try { return JSON.parse(text); } catch { return text; }
}

class Sim {
  constructor({ bin, args, env, timeoutMs, logFile }) {
    this.bin = bin;
    this.args = args;
    this.env = env;
    this.timeoutMs = timeoutMs;
    /** Where the simulator's output goes (appended across restarts). */
    this.logFile = logFile;
    /** ws://127.0.0.1:<port>/task/service */
    this.url = undefined;
    this.port = undefined;
    /** http://127.0.0.1:<port>/_sim/ */
    this.controlUrl = undefined;
    this.child = undefined;
  }

  /** POST/GET the control API; see `control()`. */
  control(route, body, opts) {
    return control(this.controlUrl, route, body, opts);
  }

  /**
   * Graceful stop: SIGINT (the simulator's Ctrl-C path, which shuts its server down), then
   * SIGKILL if it has not exited after a grace period. Resolves once the process is gone.
   */
  async stop() {
    await this._terminate("SIGINT");
  }

  /** Crash it: SIGKILL, no goodbye frames. Resolves once the process is gone. */
  async kill() {
    await this._terminate("SIGKILL");
  }

  /**
   * Stop it and start it again with the same arguments on the same port. `signal` is how it
   * stops: "SIGINT" (default, graceful) or "SIGKILL" (a crash).
   */
  async restart({ signal = "SIGINT" } = {}) {
    const port = this.port;
    await this._terminate(signal);
    // The port was just freed; binding it again can race the kernel briefly.
    let lastErr;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await this._spawn(port);
        return this;
      } catch (err) {
        lastErr = err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw lastErr;
  }

  async _terminate(signal) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    try { await exited; } finally { clearTimeout(timer); }
  }

  async _spawn(port) {
    const log = fs.createWriteStream(this.logFile, { flags: "a" });
    const argv = ["--port", String(port), ...this.args];
    log.write(`\n=== ${new Date().toISOString()} ${this.bin} ${argv.join(" ")}\n`);
    const child = spawn(this.bin, argv, {
      env: { RUST_LOG: "info", ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    child.stderr.pipe(log, { end: false });
    this.child = child;

    const tail = () => {
      try { return fs.readFileSync(this.logFile, "utf8").split("\n").slice(-20).join("\n"); } catch { return ""; }
    };
    const ready = await new Promise((resolve, reject) => {
      let buf = "";
      let found = false;
      const fail = (why) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        // Give the log stream a moment to flush what the process printed.
        setTimeout(() => reject(new Error(`runwatch-sim ${why} (log: ${this.logFile})\n${tail()}`)), 100);
      };
      const timer = setTimeout(() => fail(`did not print its listening line within ${this.timeoutMs} ms`), this.timeoutMs);
      child.once("error", (err) => fail(`could not start: ${err.message}`));
      child.once("exit", (code, sig) => { if (!found) fail(`exited before listening (code ${code}, signal ${sig})`); });
      child.stdout.on("data", (chunk) => {
        log.write(chunk);
        if (found) return;
        buf += chunk.toString("utf8");
        const m = READY_LINE.exec(buf);
        if (m) {
          found = true;
          clearTimeout(timer);
          resolve({ url: m[1], port: Number(m[2]) });
        }
      });
    });
    this.url = ready.url;
    this.port = ready.port;
    this.controlUrl = `http://127.0.0.1:${ready.port}/_sim/`;
    return this;
  }
}
