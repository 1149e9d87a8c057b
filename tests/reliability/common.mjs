// What the two fault-cycle suites share (RocketRide: cycles.mjs + ledger.mjs; fleet-rlm:
// fleet-cycles.mjs + fleet-ledger.mjs): the oracle's problem list, the fault journal that
// says which injected fault can have cost a connection, reading the simulator's send log,
// and the page checks every cycle ends with (no page error, no credential in what the SDK
// emitted).

import { awayAndBack } from "../support/browser.mjs";

/** The longest any wait of a cycle may take. */
export const SETTLE_TIMEOUT_MS = 15_000;
/** WebAssembly memory a client may use at most. */
export const MEMORY_BOUND = 64 * 1024 * 1024;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Problems kept in full; beyond this only counted (a broken run must not eat memory). */
const MAX_PROBLEMS = 50;
/** Chromium itself logs a refused handshake (the `refuse` fault); the SDK never logs. */
export const BROWSER_NETWORK_ERROR = /^WebSocket connection to '\S+' failed: /;
/** Send-log fault labels of frames that never reached the wire. */
export const WITHHELD = new Set(["dropped", "half_open", "queue_full", "drop_oldest", "drop_newest"]);

/** An oracle's findings: `problems` (the first 50 in full) and `problemCount`. */
export class Problems {
  constructor() {
    this.problems = [];
    this.problemCount = 0;
  }

  problem(message) {
    this.problemCount += 1;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message);
  }
}

/** Injected faults, each with the send-log index at which it began. */
export class FaultJournal {
  constructor() {
    /** [{ kind, i }] */
    this.entries = [];
  }

  note(kind, i) {
    this.entries.push({ kind, i });
  }

  /**
   * The injected fault that can have cost a connection: the fault its close entry carries,
   * else the last fault of a kind in `kinds` injected while it lived (send-log indices
   * `from` ≤ i < `to`).
   */
  connectionCause({ closeFault, from = Infinity, to = Infinity, kinds }) {
    if (closeFault) return closeFault;
    return this.entries.filter((x) => kinds.has(x.kind) && x.i >= from && x.i < to).at(-1)?.kind;
  }
}

/** Waits (bounded) until `fn(arg)` is truthy in the page; the error says what it waited for. */
export function waitForPage(page, fn, arg, what) {
  return page.waitForFunction(fn, arg, { timeout: SETTLE_TIMEOUT_MS, polling: 10 }).catch((e) => {
    throw new Error(`waiting for ${what}: ${e.message}`);
  });
}

/** Injects a fault, noting in the oracle's journal (as `kind`) where in the send log it began. */
export async function injectFault(sim, ledger, spec, kind = spec.kind) {
  const { logNext } = await sim.control("_sim/health");
  ledger.noteFault(kind, logNext);
  return sim.control("_sim/faults", spec);
}

/**
 * The page leaves and comes back while the stream goes on, with the journal noting where in
 * the send log that began: another page is opened in its tab for 100 ms and the page is
 * brought back (`page_hidden`: from the back/forward cache, or reloaded when the browser did
 * not keep it), or the page is reloaded (`reload`: `page_reloaded`). `{ restored, reasons }`
 * as `awayAndBack` gives them. While it is away a garbage collection is forced: a finalizer
 * due for anything let go of since the last collection then runs script in the cached page,
 * which Chromium evicts (`JavaScriptExecution`), instead of only when a collection happens
 * to fall there (harness.test plants one).
 */
export async function leaveAndReturn(sim, ledger, page, { reload = false } = {}) {
  const { logNext } = await sim.control("_sim/health");
  ledger.noteFault(reload ? "page_reloaded" : "page_hidden", logNext);
  if (!reload) {
    return awayAndBack(page, async (cdp) => {
      await sleep(100);
      await cdp.send("HeapProfiler.collectGarbage");
    });
  }
  await page.reload();
  return { restored: false };
}

/** Clears every standing fault. */
export function clearFaults(sim) {
  return sim.control("_sim/faults", undefined, { method: "DELETE" });
}

/** Throws if a client's WebAssembly memory grew past the bound. */
export function assertMemory(where, bytes) {
  if (bytes > MEMORY_BOUND) throw new Error(`${where}: WebAssembly memory ${bytes} B over the ${MEMORY_BOUND} B bound`);
}

/** The send log from index `since` on (every page of it); throws if entries were evicted. */
export async function pullLog(sim, since) {
  const entries = [];
  let next = since;
  for (;;) {
    const page = await sim.control(`_sim/log?since=${next}&limit=20000`);
    if (page.truncated) throw new Error(`the send log overflowed: entries from ${next} are gone (oldest ${page.oldest})`);
    entries.push(...page.entries);
    if (page.entries.length === 0 || page.next === next) break;
    next = page.next;
    if (page.entries.length < 20000) break;
  }
  return { entries, next };
}

/** Throws if the page had an uncaught error or logged a console error other than Chromium's own. */
export function assertNoPageErrors(where, page) {
  const errors = [
    ...page.pageErrors.map((e) => `uncaught: ${e.stack || e.message}`),
    ...page.consoleMessages
      .filter((m) => m.type === "error" && !BROWSER_NETWORK_ERROR.test(m.text))
      .map((m) => `console.error: ${m.text}`),
  ];
  if (errors.length) throw new Error(`${where}: ${errors.join("\n  ")}`);
}

/**
 * Throws if a credential appears in `records` or the page's console; forgets the console.
 * Chromium's own log of a failed handshake names the socket URL, which carries a fleet-rlm
 * access token by design (browsers cannot set WebSocket headers): that line is not the SDK's.
 */
export function assertNoSecret(where, page, records, secrets) {
  const sdkConsole = page.consoleMessages.filter((m) => !BROWSER_NETWORK_ERROR.test(m.text));
  const text = JSON.stringify(records) + JSON.stringify(sdkConsole);
  if (secrets.some((k) => text.includes(k))) throw new Error(`${where}: a credential appears in what the SDK emitted`);
  page.consoleMessages.length = 0;
}

/**
 * A suite's figures as Markdown: the `[figure, value]` rows as a table, then the faults
 * injected by kind and the discards by report and cause (`discardsTitle`).
 */
export function reportTable(rows, { faults, discards, discardsTitle }) {
  const byKind = Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(", ");
  const byCause = Object.entries(discards ?? {}).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return [
    "| figure | value |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    `Faults by kind: ${byKind}.`,
    "",
    `${discardsTitle}: ${byCause}.`,
  ].join("\n");
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
