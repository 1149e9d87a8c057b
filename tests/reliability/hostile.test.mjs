// Hostile input through the real path: the built npm package in headless Chromium, a real
// browser WebSocket, and runwatch-sim injecting bad frames into the client's own connection
// (`POST /_sim/faults {kind, conn}`) while a load pipeline keeps valid events flowing.
//
// For every frame of the corpus (not JSON, truncated, 16 MiB, nested 100 000 deep, NaN,
// binary, invalid UTF-8, `__proto__`/`constructor` keys, unknown event, wrongly typed
// fields, a response to a request never sent, a lying `seq`) this file proves that:
//   - the client reports exactly the diagnostic the code promises for it (or, for frames the
//     SDK accepts by design, delivers the event and reports nothing), with its details;
//   - it stays `live` on the same connection (no reconnect), and the valid events the
//     simulator sent after the bad frame still arrive, identified by their seq in the
//     simulator's send log;
//   - no prototype is polluted and delivered events are plain objects;
//   - nothing is thrown or printed as an error on the page;
//   - WebAssembly memory does not grow by the size of a huge or deeply nested frame.
// One exception the browser imposes: a text frame that is not UTF-8 makes Chromium fail the
// socket itself (RFC 6455 §8.1, the WHATWG WebSocket spec), before any script sees the
// frame; that test checks the client recovers (reconnect, resync, events flow again).
// Then the whole corpus goes in back to back, several times, and the client must survive it;
// and the API key must never appear in anything the SDK emitted or in a WebSocket URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BLANK_PAGE, MODE } from "../support/server.mjs";
import { assertNoPageErrors } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

const SECRET = `hostile-secret-${randomBytes(12).toString("hex")}`;
const ALL_TYPES = ["TASK", "SUMMARY", "FLOW", "OUTPUT", "SSE", "DASHBOARD"];
const MIB = 1024 * 1024;
/** The SDK's default `maxFrameBytes`. */
const FRAME_LIMIT = 8 * MIB;
/** How much WebAssembly memory one hostile frame (or the whole corpus) may add. */
const MEMORY_BOUND = 4 * MIB;
/** How far ahead the simulator's lying_seq jumps (sim/src/inject.rs LIE_AHEAD). */
const LIE_AHEAD = 1_000_000;
/** The request_seq of the simulator's unknown_response (sim/src/inject.rs). */
const UNKNOWN_REQUEST_SEQ = 987_654_321;
/** Chromium's own console error when it fails a socket over a non-UTF-8 text frame. */
const BROWSER_UTF8_ERROR = /Could not decode a text frame as UTF-8/;
/**
 * The simulator's garbage samples (sim/src/inject.rs), told apart by their size in the send
 * log, with the decode error each must produce.
 */
const GARBAGE = {
  6: ["notAnEnvelope", /^frame: invalid type: sequence, expected struct Envelope at line 1 column 1$/], // [[[[,]
  10: ["invalidJson", /^frame: expected value at line 1 column 1$/], // \x01\x02garbage\x7f
  11: ["invalidJson", /^frame: expected value at line 1 column 1$/], // }{ not json
  22: ["invalidJson", /^frame: EOF while parsing/], // {"type":"event","seq":
};

let server, browser, sim, page;
let clients = 0;

// One load task keeps ~50 valid events per second flowing to every subscribed client.
useBrowserFixture({
  simArgs: ["--api-key", SECRET, "--scenario", "load", "--tasks", "1", "--rate", "50"],
  ready: (f) => ({ server, browser, sim } = f),
  openPage: () => page,
  pageClosed: () => { page = undefined; },
});

/**
 * A page with the package loaded and one client subscribed to everything (`{token:"*"}`),
 * recording states, diagnostics and events into `window.rw`. `window.WebSocket` is wrapped
 * before the SDK loads, to record the URL of every socket it opens, and the prototypes'
 * property names are captured before the SDK runs, to detect pollution. Resolves once the
 * client is live and events flow; returns `{ page, name, conn }` where `conn` is the
 * simulator's id of the client's connection (found by its unique `clientName`).
 */
async function openClient({ onPage } = {}) {
  const name = `hostile-${++clients}`;
  page = await browser.newPage();
  onPage?.(page);
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  await page.evaluate(
    async ({ url, key, name, types }) => {
      const names = (o) => Object.getOwnPropertyNames(o).sort();
      const protos = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype };
      const baseline = Object.fromEntries(Object.entries(protos).map(([k, o]) => [k, names(o)]));
      const sockets = [];
      const WS = globalThis.WebSocket;
      globalThis.WebSocket = class extends WS {
        constructor(...args) {
          super(...args);
          sockets.push(args.map(String));
        }
      };
      window.workerProbe?.onSocket((args) => sockets.push(args)); // Worker mode
      const { default: init, RocketRideClient } = await import("runwatch");
      const wasm = await init();
      const rw = (window.rw = { states: [], diags: [], events: [], sockets, RocketRideClient });
      rw.memory = () => Math.max(wasm.memory.buffer.byteLength, window.workerProbe?.memory ?? 0);
      // Everything that would show a polluted prototype or a non-plain event.
      rw.pollution = () => {
        const problems = [];
        for (const [k, o] of Object.entries(protos)) {
          const now = names(o);
          if (JSON.stringify(now) !== JSON.stringify(baseline[k])) problems.push(`${k}.prototype own names changed: ${now.filter((n) => !baseline[k].includes(n))}`);
        }
        if (Object.prototype.constructor !== Object) problems.push("Object.prototype.constructor replaced");
        if (Object.getPrototypeOf(Object.prototype) !== null) problems.push("Object.prototype got a prototype");
        for (const probe of [{}, [], Object.create(Object.prototype)]) {
          if (probe.polluted !== undefined || probe.prototype !== undefined) problems.push("a fresh object inherits `polluted`/`prototype`");
        }
        // Every object inside every delivered event is a plain object or array with no
        // borrowed prototype. A `__proto__`/`constructor` key the server sent in an untyped
        // payload may be there, but only as a plain own data property, never an accessor.
        const walk = (v, path) => {
          if (v === null || typeof v !== "object") return;
          const proto = Object.getPrototypeOf(v);
          if (proto !== Object.prototype && proto !== Array.prototype) problems.push(`${path} has a foreign prototype`);
          for (const k of ["__proto__", "constructor", "prototype"]) {
            const d = Object.getOwnPropertyDescriptor(v, k);
            if (d && !("value" in d)) problems.push(`${path} has an accessor ${k}`);
          }
          if (v.polluted !== undefined && !Object.hasOwn(v, "polluted")) problems.push(`${path}.polluted is inherited`);
          for (const [k, child] of Object.entries(v)) walk(child, `${path}.${k}`);
        };
        rw.events.forEach((e, i) => walk(e, `event[${i}] (seq ${e.seq})`));
        return problems;
      };
      rw.client = new RocketRideClient({ url, auth: key, clientName: name, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
      rw.client.onState((s) => rw.states.push(s));
      rw.client.onDiagnostic((d) => rw.diags.push(d));
      rw.client.subscribe({ token: "*" }, types, (events) => rw.events.push(...events));
    },
    { url: sim.url, key: SECRET, name, types: ALL_TYPES },
  );
  await page.waitForFunction(() => window.rw.client.state === "live" && window.rw.events.filter((e) => e.seq !== undefined).length >= 3);
  const conns = await sim.control("_sim/connections");
  const mine = conns.filter((c) => c.clientName === name && c.authenticated);
  assert.equal(mine.length, 1, `exactly one simulator connection is ${name}'s: ${JSON.stringify(conns)}`);
  return { page, name, conn: mine[0].id };
}

/** What the page has recorded so far, plus counters. */
const snapshot = (p) =>
  p.evaluate(() => ({
    state: window.rw.client.state,
    stats: window.rw.client.stats(),
    states: window.rw.states.length,
    diags: window.rw.diags.length,
    events: window.rw.events.length,
    memory: window.rw.memory(),
  }));

/** Injects one fault into connection `conn`; returns what the simulator says it did. */
async function inject(conn, kind, params = {}) {
  const applied = await sim.control("_sim/faults", { kind, conn, ...params });
  assert.deepEqual(applied.conns, [conn], `${kind} went to the client's connection only`);
  return applied;
}

/** The simulator's send-log entries of `conn` from log index `since` on. */
async function logOf(conn, since) {
  const res = await sim.control(`_sim/log?since=${since}&conn=${conn}`);
  assert.equal(res.truncated, false, "the send log still holds the test's entries");
  return res.entries;
}

/**
 * Waits until the simulator has sent `n` valid events on `conn` after log index `afterI`,
 * then until the page has received every one of them (same epoch, same seq). Returns their seqs.
 */
async function laterEventsArrive(p, conn, afterI, { epoch = 1, n = 3 } = {}) {
  const deadline = Date.now() + 10_000;
  let later = [];
  while (later.length < n) {
    assert.ok(Date.now() < deadline, `the simulator sent ${n} events after log index ${afterI} within 10 s (got ${later.length})`);
    await new Promise((r) => setTimeout(r, 50));
    later = (await logOf(conn, afterI + 1)).filter((e) => e.kind === "event" && !e.fault && e.seq !== undefined);
  }
  const seqs = later.slice(0, n).map((e) => e.seq);
  await p
    .waitForFunction(({ seqs, epoch }) => seqs.every((s) => window.rw.events.some((e) => e.epoch === epoch && e.seq === s)), { seqs, epoch })
    .catch(async (err) => {
      const got = await p.evaluate(() => window.rw.events.slice(-10).map((e) => [e.epoch, e.seq, e.type]));
      throw new Error(`valid events ${seqs} sent after the bad frame never arrived (last received: ${JSON.stringify(got)}): ${err.message}`);
    });
  return seqs;
}

/** Asserts the page is unharmed: no pollution, no page error, memory within bound. */
async function assertUnharmed(t, p, before, { allowConsole } = {}) {
  const pollution = await p.evaluate(() => window.rw.pollution());
  assert.deepEqual(pollution, [], "no prototype pollution; every delivered event is a plain object");
  const memory = await p.evaluate(() => window.rw.memory());
  assert.ok(memory - before.memory < MEMORY_BOUND, `wasm memory grew by ${memory - before.memory} bytes (bound ${MEMORY_BOUND})`);
  t.diagnostic(`wasm memory ${before.memory} → ${memory} bytes`);
  assertNoPageErrors(p, { allowConsole });
}

// ── one test per hostile frame ──────────────────────────────────────────────────────────

/** A frame the SDK accepts by design: no diagnostic, and the event at its seq arrived. */
function acceptedEvent({ diags, events, faults }, why) {
  const seq = faults[0].seq;
  assert.deepEqual(diags, [], why);
  const ev = events.find((e) => e.seq === seq);
  assert.ok(ev, `the event at seq ${seq} is delivered`);
  return ev;
}

/**
 * One event frame whose envelope was readable but whose body was not: exactly one
 * `decodeError` naming its seq and event, nothing delivered for that seq, no gap opened.
 * Returns the diagnostic.
 */
function assertSkippedEvent({ diags, events, delta, seq }, event, kind) {
  assert.equal(diags.length, 1, JSON.stringify(diags));
  const [d] = diags;
  assert.deepEqual({ kind: d.kind, epoch: d.epoch, seq: d.seq, event: d.event, error: d.error.kind }, { kind: "decodeError", epoch: 1, seq, event, error: kind });
  assert.ok(d.error.reason.length < 140, "the reason is short, never the frame");
  assert.ok(!events.some((e) => e.seq === seq), "nothing delivered for that seq");
  assert.equal(delta.decodeErrors, 1);
  assert.equal(delta.gaps, 0, "the envelope was readable, so the seq is known and no gap opens");
  return d;
}

/**
 * Each case: the fault and its parameters, how many frames the simulator injects, and a
 * `check({ diags, events, faults, delta })` of what the client must have made of them:
 * `diags` are the diagnostics since the injection, `events` every delivered event,
 * `faults` the simulator's log entries of the injected frames, `delta` the change of the
 * client's stats.
 */
const CASES = [
  {
    kind: "garbage",
    what: "text frames that are not JSON",
    outcome: "a decodeError each (invalidJson / notAnEnvelope)",
    params: { count: 8 },
    frames: 8,
    check({ diags, faults, delta }) {
      assert.ok(faults.every((f) => f.seq === undefined), "garbage frames carry no seq");
      assert.equal(diags.length, 8, `one diagnostic per frame, nothing else: ${JSON.stringify(diags)}`);
      diags.forEach((d, k) => {
        const [kind, reason] = GARBAGE[faults[k].bytes];
        assert.equal(d.kind, "decodeError");
        assert.equal(d.epoch, 1);
        assert.equal(d.error.kind, kind, `garbage frame of ${faults[k].bytes} bytes: ${JSON.stringify(d)}`);
        assert.match(d.error.reason, reason);
        assert.equal(d.seq, undefined, "no seq is known for an unreadable frame");
        assert.equal(d.event, undefined);
      });
      assert.equal(delta.decodeErrors, 8);
      assert.equal(delta.gaps, 0, "garbage takes no seq, so it opens no gap");
    },
  },
  {
    kind: "truncated",
    what: "an event frame cut in half",
    outcome: "decodeError invalidJson + a one-frame gap",
    frames: 1,
    check({ diags, faults, delta }) {
      const seq = faults[0].seq;
      assert.deepEqual(diags.map((d) => d.kind), ["decodeError", "gap"], JSON.stringify(diags));
      const [decode, gap] = diags;
      assert.equal(decode.error.kind, "invalidJson");
      assert.match(decode.error.reason, /^frame: EOF while parsing/);
      assert.equal(decode.seq, undefined, "a truncated frame's seq cannot be read");
      // Its seq is then missing from the stream: reported as a gap of exactly that frame.
      assert.deepEqual(gap, { kind: "gap", epoch: 1, first: seq, last: seq, missing: 1 });
      assert.equal(delta.decodeErrors, 1);
    },
  },
  {
    kind: "oversized",
    what: "a 16 MiB event frame",
    outcome: "oversizedFrame (dropped unread) + a one-frame gap",
    params: { bytes: 16 * MIB },
    frames: 1,
    check({ diags, events, faults, delta }) {
      const { seq, bytes } = faults[0];
      assert.ok(bytes > 16 * MIB - 100, `the simulator sent a ~16 MiB frame (${bytes} bytes)`);
      assert.deepEqual(diags.map((d) => d.kind), ["oversizedFrame", "gap"], JSON.stringify(diags));
      assert.deepEqual(diags[0], { kind: "oversizedFrame", epoch: 1, bytes, limit: FRAME_LIMIT }, "the exact frame size and the limit");
      // Dropped unread, so its seq is unknown: it shows up as a one-frame gap.
      assert.deepEqual(diags[1], { kind: "gap", epoch: 1, first: seq, last: seq, missing: 1 });
      assert.ok(!events.some((e) => e.seq === seq), "the oversized event is not delivered");
      assert.equal(delta.decodeErrors, 0);
    },
  },
  {
    kind: "deep_nesting",
    what: "an SSE event whose untyped data nests arrays 100 000 deep",
    outcome: "decodeError tooDeep with seq and event, no gap",
    params: { depth: 100_000 },
    frames: 1,
    check({ diags, events, faults, delta }) {
      const { seq, bytes } = faults[0];
      assert.ok(bytes > 200_000, `the frame really is deep (${bytes} bytes)`);
      // The nesting is in `data`, which the SDK must walk: serde_json's recursion limit
      // stops it, and the envelope (seq, event name) is still read.
      assertSkippedEvent({ diags, events, delta, seq }, "apaevt_sse", "tooDeep");
    },
  },
  {
    kind: "nan",
    what: "a status update with a bare NaN token (Python json.dumps)",
    outcome: "delivered with the NaN metric as null, no error",
    frames: 1,
    check({ diags, events, faults }) {
      const ev = acceptedEvent({ diags, events, faults }, "NaN is accepted, not an error");
      assert.equal(ev.type, "taskStatus");
      // JSON has no NaN: the typings declare such metrics `number | null`.
      assert.equal(ev.status.metrics.cpuPercent, null);
      assert.ok(Number.isFinite(ev.status.metrics.cpuMemoryMb), "the other metrics are intact");
    },
  },
  {
    kind: "binary",
    what: "an event sent as a binary frame",
    outcome: "delivered like a text frame, no error",
    frames: 1,
    check({ diags, events, faults }) {
      // src/web/socket.rs: binary frames reach the decoder as bytes like text frames do;
      // one that holds a valid event is delivered (one that does not is a decodeError).
      const ev = acceptedEvent({ diags, events, faults }, "a binary frame holding a valid event is accepted");
      assert.equal(ev.output, "sent as a binary frame\n");
    },
  },
  {
    kind: "proto_keys",
    what: "an SSE event with __proto__ and constructor keys in its body and its untyped data, lone surrogate escapes in the data",
    outcome: "delivered; the keys are plain own data, no prototype changes",
    frames: 1,
    async check({ diags, events, faults, page: p }) {
      const ev = acceptedEvent({ diags, events, faults }, "hostile keys are not an error");
      const { seq } = ev;
      assert.equal(ev.type, "sse");
      // Top-level keys the types do not declare are kept in `extra` (as plain own data, below).
      assert.deepEqual(Object.keys(ev).sort(), ["data", "epoch", "extra", "kind", "pipeId", "seq", "taskId", "type"]);
      // In the untyped payload they are data: own properties, the prototype untouched.
      // Looked at in the page: copying the event out to Node would not keep `__proto__`.
      const data = await p.evaluate((s) => {
        const { data: d } = window.rw.events.find((e) => e.seq === s);
        const own = Object.getOwnPropertyDescriptor(d, "__proto__");
        return {
          plainPrototype: Object.getPrototypeOf(d) === Object.prototype,
          protoValue: own && "value" in own ? JSON.stringify(own.value) : null,
          ownConstructor: Object.hasOwn(d, "constructor"),
          polluted: d.polluted,
          ok: d.ok,
          // A lone surrogate escape reaches the app as JSON.parse reads it, key and value.
          loneSurrogates: d["\udc80key"] === "caf\udce9",
        };
      }, seq);
      assert.deepEqual(data, { plainPrototype: true, protoValue: '{"polluted":true}', ownConstructor: true, polluted: undefined, ok: 1, loneSurrogates: true });
      const extra = await p.evaluate((s) => {
        const { extra: x } = window.rw.events.find((e) => e.seq === s);
        const own = Object.getOwnPropertyDescriptor(x, "__proto__");
        return { plainPrototype: Object.getPrototypeOf(x) === Object.prototype, protoValue: own && "value" in own ? JSON.stringify(own.value) : null,
          ownConstructor: Object.hasOwn(x, "constructor"), polluted: x.polluted };
      }, seq);
      assert.deepEqual(extra, { plainPrototype: true, protoValue: '{"polluted":true}', ownConstructor: true, polluted: undefined });
    },
  },
  {
    kind: "unknown_event",
    what: "an event with an unknown name",
    outcome: "delivered as type \"unknown\"",
    frames: 1,
    check({ diags, events, faults }) {
      // events.rs: an unknown name decodes as type "unknown" with the raw body, and
      // matches any types, so a `{token:"*"}` subscription receives it; nothing is dropped.
      const ev = acceptedEvent({ diags, events, faults }, "an unknown event is delivered, not an error");
      assert.deepEqual({ ...ev }, { epoch: 1, seq: ev.seq, type: "unknown", event: "apaevt_sim_unknown", raw: '{"action":"surprise","value":42,"__id":""}' });
    },
  },
  {
    kind: "bad_types",
    what: "a status update with wrongly typed fields",
    outcome: "decodeError wrongShape with seq and event",
    frames: 1,
    check({ diags, events, faults, delta }) {
      const d = assertSkippedEvent({ diags, events, delta, seq: faults[0].seq }, "apaevt_status_update", "wrongShape");
      assert.match(d.error.reason, /^apaevt_status_update body: invalid type/);
    },
  },
  {
    kind: "unknown_response",
    what: "a response to a request seq never sent",
    outcome: "unknownResponse with the request_seq",
    frames: 1,
    check({ diags, faults, delta }) {
      assert.equal(faults[0].command, "rrext_ping");
      assert.deepEqual(diags, [{ kind: "unknownResponse", epoch: 1, requestSeq: UNKNOWN_REQUEST_SEQ, command: "rrext_ping" }]);
      assert.equal(delta.gaps, 0, "the response's seq counts: no gap");
    },
  },
  {
    kind: "lying_seq",
    what: "an event whose seq is a million ahead",
    outcome: "seqAnomaly, delivered without moving the counter",
    frames: 1,
    check({ diags, events, faults, delta }) {
      const seq = faults[0].seq;
      const expected = seq - LIE_AHEAD + 1; // the simulator does not advance its counter
      assert.deepEqual(diags, [{ kind: "seqAnomaly", epoch: 1, seq, expected }]);
      const ev = events.find((e) => e.seq === seq);
      assert.ok(ev, "the anomalous event is still delivered");
      assert.equal(ev.output, "seq from the future\n");
      // The frame numbered `expected` may be a response (a ping's), not an event: any later
      // event numbered on the true counter shows the lie did not move the SDK's counter
      // (which would have dropped them all as stale).
      const onward = events.filter((e) => e.seq >= expected && e.seq < seq);
      assert.ok(onward.length > 0, `the stream goes on from seq ${expected}: the lie did not move the counter`);
      assert.equal(delta.gaps, 0);
      assert.equal(delta.duplicates, 0);
    },
  },
];

for (const c of CASES) {
  test(`${c.kind}: ${c.what} → ${c.outcome}; stays live, later events arrive`, async (t) => {
    const { page: p, conn } = await openClient();
    const before = await snapshot(p);
    const since = (await sim.control("_sim/health")).logNext;
    const applied = await inject(conn, c.kind, c.params);
    assert.equal(applied.frames, c.frames, `the simulator injected ${c.frames} frame(s)`);
    const faults = (await logOf(conn, since)).filter((e) => e.fault === c.kind);
    assert.equal(faults.length, c.frames, `the send log shows the injected frame(s): ${JSON.stringify(faults)}`);

    await laterEventsArrive(p, conn, faults.at(-1).i);
    const after = await snapshot(p);
    const { diags, events } = await p.evaluate((n) => ({ diags: window.rw.diags.slice(n), events: window.rw.events }), before.diags);
    const delta = Object.fromEntries(Object.keys(after.stats).map((k) => [k, after.stats[k] - before.stats[k]]));
    await c.check({ diags, events, faults, delta, page: p });

    assert.equal(after.state, "live");
    assert.equal(after.stats.epoch, 1, "still the first connection");
    assert.equal(after.stats.reconnects, 0, "bad input never causes a reconnect");
    assert.equal(after.states, before.states, "no state change at all");
    const seqs = events.filter((e) => e.seq !== undefined && e.seq < LIE_AHEAD).map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "events still arrive in seq order");
    assert.equal(new Set(seqs).size, seqs.length, "no event is delivered twice");
    await assertUnharmed(t, p, before);
  });
}

/**
 * After an invalid UTF-8 text frame on `conn` (send-log entry `fault`): the browser failed
 * the socket, and the client must have reconnected once, resynced, and streamed again; the
 * lost tail it reports must be honest: every valid event the simulator sent up to it arrived.
 * (Chromium drops frames it had received but not yet dispatched when it fails a socket, so the
 * tail may end before the last frame the simulator sent ahead of the bad one.)
 */
async function assertRecoveredFromUtf8(p, conn, before, fault) {
  await p.waitForFunction(() => window.rw.client.state === "live" && window.rw.client.stats().epoch === 2);
  await p.waitForFunction(() => window.rw.events.filter((e) => e.epoch === 2 && e.seq !== undefined).length >= 3);
  const after = await snapshot(p);
  const { states, diags, events } = await p.evaluate(
    (b) => ({ states: window.rw.states.slice(b.states), diags: window.rw.diags.slice(b.diags), events: window.rw.events }),
    before,
  );
  assert.deepEqual(states.map((s) => s.newState), ["backoff", "connecting", "authenticating", "subscribing", "live"]);
  assert.deepEqual(states[0].reason, { kind: "closed", code: 1006, reason: "" }, "the browser's failure, seen as an abnormal close");
  assert.equal(after.stats.reconnects, 1, "exactly one reconnect");
  const resyncs = diags.filter((d) => d.kind === "resync");
  assert.equal(resyncs.length, 1, JSON.stringify(diags));
  assert.equal(resyncs[0].epoch, 2);
  assert.deepEqual(resyncs[0].resubscribed, ["*"]);
  assert.equal(resyncs[0].lost.length, 1);
  const { epoch, lastSeq } = resyncs[0].lost[0];
  assert.equal(epoch, 1);
  const sent = (await logOf(conn, 0)).filter((e) => e.i < fault.i && e.seq !== undefined && e.fault !== "lying_seq");
  assert.ok(lastSeq <= Math.max(...sent.map((e) => e.seq)), `lastSeq ${lastSeq} was sent before the bad frame`);
  const delivered = new Set(events.filter((e) => e.epoch === 1).map((e) => e.seq));
  const missing = sent.filter((e) => e.kind === "event" && !e.fault && e.seq <= lastSeq && !delivered.has(e.seq)).map((e) => e.seq);
  assert.deepEqual(missing, [], `every valid event up to lastSeq ${lastSeq} arrived`);
  assert.equal(after.state, "live");
  assert.ok(!diags.some((d) => d.kind === "decodeError" && d.epoch === 1 && d.error.kind === "invalidUtf8"), "the frame never reached script");
  const consoleErrors = p.consoleMessages.filter((m) => m.type === "error");
  // In Worker mode Chromium logs its message on the Worker's console, which its DevTools
  // protocol does not report to Playwright: there, no message at all is right too.
  const expected = MODE === "worker" ? [0, 1] : [1];
  assert.ok(expected.includes(consoleErrors.length), `only Chromium's own message: ${JSON.stringify(consoleErrors)}`);
  for (const m of consoleErrors) assert.match(m.text, BROWSER_UTF8_ERROR);
}

test("invalid_utf8: Chromium fails the socket itself; the client reconnects, resyncs, events flow", async (t) => {
  // A text frame that is not UTF-8 never reaches script: the browser must fail the
  // connection (RFC 6455 §8.1) and close it with 1006. The SDK cannot report it as a
  // decodeError; what it must do is recover like from any other loss.
  const { page: p, conn } = await openClient();
  const before = await snapshot(p);
  const since = (await sim.control("_sim/health")).logNext;
  const applied = await inject(conn, "invalid_utf8");
  assert.equal(applied.frames, 1);
  const fault = (await logOf(conn, since)).find((e) => e.fault === "invalid_utf8");
  assert.ok(fault && fault.seq === undefined, "the frame carries no seq");
  await assertRecoveredFromUtf8(p, conn, before, fault);
  const diags = await p.evaluate((n) => window.rw.diags.slice(n), before.diags);
  // The reconnect's report, and the re-seed it started (the `*` SUMMARY scope gets no seed
  // from the server).
  assert.deepEqual(diags.map((d) => d.kind).filter((k) => k !== "reseeded"), ["resync"], `nothing but the resync: ${JSON.stringify(diags)}`);
  assert.ok(diags.filter((d) => d.kind === "reseeded").every((d) => d.failed.length === 0), JSON.stringify(diags));
  await assertUnharmed(t, p, before, { allowConsole: BROWSER_UTF8_ERROR });
});

// ── the whole corpus, back to back ──────────────────────────────────────────────────────

test("the whole corpus back to back, three times: the client survives, reports each frame, events flow", async (t) => {
  const ROUNDS = 3;
  const { page: p, conn } = await openClient();
  const before = await snapshot(p);
  const since = (await sim.control("_sim/health")).logNext;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CASES) await inject(conn, c.kind, c.params);
  }
  let log = await logOf(conn, since);
  const byKind = (kind) => log.filter((e) => e.fault === kind);
  // Everything the simulator sent up to a few events after the burst arrives: the stream
  // does not stall behind the holes the unreadable frames left.
  await laterEventsArrive(p, conn, log.filter((e) => e.fault).at(-1).i);
  const mid = await snapshot(p);
  const { diags, events } = await p.evaluate((n) => ({ diags: window.rw.diags.slice(n), events: window.rw.events }), before.diags);
  const of = (kind) => diags.filter((d) => d.kind === kind);

  assert.equal(mid.state, "live");
  assert.equal(mid.stats.epoch, 1);
  assert.equal(mid.stats.reconnects, 0, "the corpus caused no reconnect");
  // One decodeError per garbage, truncated and bad_types frame. (Seq-less frames are
  // reported on arrival, seq'd ones in seq order, so the order may differ from the log's.)
  const unreadable = { truncated: "invalidJson", bad_types: "wrongShape", deep_nesting: "tooDeep" };
  const expectedDecode = log.filter((e) => e.fault === "garbage" || e.fault in unreadable).map((e) => (e.fault === "garbage" ? GARBAGE[e.bytes][0] : unreadable[e.fault]));
  assert.equal(expectedDecode.length, ROUNDS * 11, "8 garbage, 1 truncated, 1 bad_types, 1 deep_nesting per round");
  assert.deepEqual(of("decodeError").map((d) => d.error.kind).sort(), expectedDecode.sort());
  const withSeq = [...byKind("bad_types"), ...byKind("deep_nesting")].map((e) => e.seq).sort((a, b) => a - b);
  assert.deepEqual(of("decodeError").filter((d) => d.seq !== undefined).map((d) => d.seq).sort((a, b) => a - b), withSeq);
  assert.deepEqual(of("oversizedFrame").map((d) => d.bytes), byKind("oversized").map((e) => e.bytes));
  assert.ok(of("oversizedFrame").every((d) => d.limit === FRAME_LIMIT && d.epoch === 1));
  assert.deepEqual(of("unknownResponse").map((d) => d.requestSeq), Array(ROUNDS).fill(UNKNOWN_REQUEST_SEQ));
  assert.deepEqual(of("seqAnomaly").map((d) => d.seq), byKind("lying_seq").map((e) => e.seq));
  // The gaps are exactly the frames whose seq could not be read.
  const gapSeqs = of("gap").flatMap((g) => Array.from({ length: g.missing }, (_, k) => g.first + k));
  const holes = [...byKind("truncated"), ...byKind("oversized")].map((e) => e.seq).sort((a, b) => a - b);
  assert.deepEqual(gapSeqs, holes);
  const known = new Set(["decodeError", "oversizedFrame", "unknownResponse", "seqAnomaly", "gap"]);
  assert.deepEqual(diags.filter((d) => !known.has(d.kind)), [], "no other diagnostic (no duplicate, late, resync...)");
  assert.equal(mid.stats.decodeErrors - before.stats.decodeErrors, ROUNDS * 11);

  // Every valid event the simulator sent and every frame the SDK accepts by design arrived,
  // once each and in order.
  const delivered = new Set(events.filter((e) => e.epoch === 1).map((e) => e.seq));
  const accepted = new Set(["nan", "binary", "proto_keys", "unknown_event", "lying_seq"]);
  const shouldArrive = log.filter((e) => (e.kind === "event" && !e.fault) || accepted.has(e.fault));
  assert.equal(shouldArrive.filter((e) => e.fault).length, ROUNDS * accepted.size);
  const lost = shouldArrive.filter((e) => !delivered.has(e.seq)).map((e) => `${e.seq}:${e.fault ?? e.event}`);
  assert.deepEqual(lost, [], "no valid event was lost");
  const seqs = events.filter((e) => e.epoch === 1 && e.seq !== undefined && e.seq < LIE_AHEAD).map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "epoch 1 events in seq order");
  assert.equal(new Set(seqs).size, seqs.length, "no event delivered twice");
  await assertUnharmed(t, p, before);

  // Last, the one frame that kills the socket (in the browser): the client comes back.
  const sinceUtf8 = (await sim.control("_sim/health")).logNext;
  await inject(conn, "invalid_utf8");
  log = await logOf(conn, sinceUtf8);
  await assertRecoveredFromUtf8(p, conn, mid, byKind("invalid_utf8")[0]);
  await assertUnharmed(t, p, before, { allowConsole: BROWSER_UTF8_ERROR });
});

// ── the credential never leaks ─────────────────────────────────────────────────────────

test("the API key never appears in states, diagnostics, events, errors, console output or socket URLs", async () => {
  const sent = [];
  const { page: p, conn } = await openClient({
    onPage: (pg) => pg.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(String(f.payload)))),
  });
  // Diagnostics of several kinds, with hostile frames in them.
  for (const kind of ["garbage", "truncated", "bad_types", "unknown_response", "lying_seq", "proto_keys"]) await inject(conn, kind);
  await p.waitForFunction(() => ["decodeError", "gap", "unknownResponse", "seqAnomaly"].every((k) => window.rw.diags.some((d) => d.kind === k)));
  // Request errors and thrown usage errors, some made with the key at hand.
  await p.evaluate(async (secret) => {
    const rw = window.rw;
    const record = (e) => ({ name: e?.name, code: e?.code, message: e?.message, stack: e?.stack, trace: e?.trace, json: JSON.stringify(e) });
    rw.errors = [];
    for (const [command, args] of [["no_such_command", {}], ["auth", { auth: "x" }]]) {
      try {
        await rw.client.request(command, args, 5000);
        rw.errors.push({ unexpected: `${command} resolved` });
      } catch (e) {
        rw.errors.push(record(e));
      }
    }
    for (const opts of [
      { url: "ws://192.0.2.1:5565", auth: secret },
      { url: `wss://user:${secret}@192.0.2.1:5565`, auth: secret },
      { url: "ws://127.0.0.1:1", auth: secret, notAnOption: secret.length },
    ]) {
      try {
        new rw.RocketRideClient(opts).close();
        rw.errors.push({ unexpected: "constructed" });
      } catch (e) {
        rw.errors.push(record(e));
      }
    }
  }, SECRET);
  // A reconnect: a second socket, a second auth, a resync.
  await sim.control("_sim/faults", { kind: "drop_all", conn });
  await p.waitForFunction(() => window.rw.client.state === "live" && window.rw.client.stats().epoch === 2);
  await p.waitForFunction(() => window.rw.diags.some((d) => d.kind === "resync"));
  await p.evaluate(() => window.rw.client.close());
  await p.waitForFunction(() => window.rw.client.state === "closed");

  const emitted = await p.evaluate(() => {
    const rw = window.rw;
    return {
      states: JSON.stringify(rw.states),
      diags: JSON.stringify(rw.diags),
      events: JSON.stringify(rw.events),
      errors: JSON.stringify(rw.errors),
      stats: JSON.stringify(rw.client.stats()),
      sockets: JSON.stringify(rw.sockets),
      storage: JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, url: location.href }),
    };
  });
  emitted.console = JSON.stringify(p.consoleMessages);
  emitted.pageErrors = JSON.stringify(p.pageErrors.map((e) => e.stack || String(e)));
  const forms = [SECRET, SECRET.slice("hostile-secret-".length), encodeURIComponent(SECRET), Buffer.from(SECRET).toString("base64")];
  for (const [where, text] of Object.entries(emitted)) {
    for (const form of forms) assert.ok(!text.includes(form), `the key (as ${JSON.stringify(form)}) leaked into ${where}: ${text.slice(0, 400)}`);
  }

  // The checks above looked at real material: errors were raised, diagnostics recorded, two sockets opened.
  const errors = JSON.parse(emitted.errors);
  assert.deepEqual(errors.map((e) => e.code), ["server", "invalid", "invalidUrl", "invalidUrl", "invalidOptions"], emitted.errors);
  assert.deepEqual(JSON.parse(emitted.sockets), [[sim.url], [sim.url]], "two sockets, to the bare URL, no subprotocol");
  assert.ok(JSON.parse(emitted.diags).length >= 5);
  // Positive control: the key did travel, only inside the `auth` request of each connection.
  const carrying = sent.filter((f) => f.includes(SECRET)).map((f) => JSON.parse(f));
  assert.equal(carrying.length, 2, "one auth frame per connection carries the key");
  for (const frame of carrying) {
    assert.equal(frame.command, "auth");
    assert.equal(frame.arguments.auth, SECRET);
  }
  assertNoPageErrors(p);
});
