// Worker mode ("runwatch/worker") through the built package in headless Chromium against
// runwatch-sim: what only this mode has. The rest of its behaviour is covered by running the
// browser and reliability tests a second time with RUNWATCH_MODE=worker (scripts/test.sh).
//   - the socket and the engine run in the Worker: the page opens no WebSocket, yet gets
//     typed events, states, stats and request results;
//   - the credential function runs on the page, once per connection attempt;
//   - invalid arguments throw the same RunwatchError synchronously, from the page;
//   - a store keeps the object of every run that did not change;
//   - without `Worker` it falls back to the main thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BLANK_PAGE } from "../support/server.mjs";
import { assertNoPageErrors, BROWSER_WS_FAILURE } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

const KEY = "sim-key";
let server, browser, sim, page;

useBrowserFixture({
  simArgs: ["--api-key", KEY],
  ready: (f) => ({ server, browser, sim } = f),
  openPage: () => page,
  pageClosed: () => { page = undefined; },
});

/** A page with `runwatch/worker` loaded (after `prepare` ran on it) and the page's sockets counted. */
async function openPage(prepare = () => {}) {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  await page.evaluate(prepare);
  await page.evaluate(async () => {
    const rw = (window.rw = { pageSockets: 0, events: [], states: [], diags: [], authCalls: 0 });
    const WS = globalThis.WebSocket;
    globalThis.WebSocket = class extends WS {
      constructor(...args) { super(...args); rw.pageSockets += 1; }
    };
    rw.mod = await import("/pkg/worker.js");
    await rw.mod.default();
  });
  return page;
}

const execute = (projectId, source, extra = {}) =>
  sim.control("_sim/execute", { projectId, source, name: `${source} run`, pipelineTraceLevel: "summary", ...extra });

test("the socket runs in the Worker: typed events, states, stats, requests and a per-attempt credential on the page", async () => {
  const p = await openPage();
  await p.evaluate((url) => {
    const rw = window.rw;
    rw.client = new rw.mod.RocketRideClient({
      url,
      auth: () => { rw.authCalls += 1; return Promise.resolve("sim-key"); },
      reconnect: { minDelayMs: 50, maxDelayMs: 200 },
    });
    rw.client.onState((s) => rw.states.push(s.newState));
    rw.client.onDiagnostic((d) => rw.diags.push(d));
    rw.client.subscribe({ token: "*" }, ["TASK", "SUMMARY", "OUTPUT"], (events) => rw.events.push(...events));
  }, sim.url);
  await p.waitForFunction(() => window.rw.client.state === "live");
  await execute("proj-worker", "chat_1");
  await p.waitForFunction(() => ["task", "taskStatus", "output"].every((t) => window.rw.events.some((e) => e.type === t)));

  // A reconnect asks the page's credential function again.
  const conns = await sim.control("_sim/connections");
  await sim.control("_sim/faults", { kind: "drop_all", conn: conns[0].id });
  await p.waitForFunction(() => window.rw.diags.some((d) => d.kind === "resync") && window.rw.client.state === "live");

  const seen = await p.evaluate(async () => {
    const rw = window.rw;
    let serverError;
    try { await rw.client.request("no_such_command", {}); } catch (e) { serverError = { isError: e instanceof Error, name: e.name, code: e.code, message: e.message }; }
    const ping = await rw.client.ping();
    const stats = rw.client.stats();
    return {
      pageSockets: rw.pageSockets, authCalls: rw.authCalls, states: rw.states, serverError, ping: typeof ping,
      epochs: [...new Set(rw.events.map((e) => e.epoch))], framesReceived: stats.framesReceived, reconnects: stats.reconnects,
      held: rw.client.serverSubscriptions().map((s) => s.key),
      seqOrdered: rw.events.filter((e) => e.epoch === 1 && e.seq !== undefined).every((e, i, a) => i === 0 || a[i - 1].seq < e.seq),
    };
  });
  assert.equal(seen.pageSockets, 0, "the page opened no WebSocket");
  assert.equal(seen.authCalls, 2, "one credential per connection attempt");
  assert.deepEqual(seen.states.slice(0, 5), ["connecting", "authenticating", "subscribing", "live", "backoff"]);
  assert.deepEqual(seen.serverError && { ...seen.serverError, message: undefined }, { isError: true, name: "RunwatchRequestError", code: "server", message: undefined });
  assert.equal(seen.ping, "object");
  assert.ok(seen.epochs.includes(1) && seen.seqOrdered);
  assert.ok(seen.framesReceived > 0 && seen.reconnects === 1, JSON.stringify(seen));
  assert.ok(seen.held.includes("*"));
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
});

test("invalid arguments throw the same RunwatchError synchronously", async () => {
  const p = await openPage();
  const codes = await p.evaluate((url) => {
    const { RocketRideClient } = window.rw.mod;
    const code = (fn) => { try { fn(); return "no throw"; } catch (e) { return `${e.name}:${e.code}`; } };
    const client = new RocketRideClient({ url, auth: "sim-key" });
    const out = [
      code(() => new RocketRideClient({ url: "ws://example.com:5565", auth: "k" })),
      code(() => new RocketRideClient({ url, auth: "k", colour: "red" })),
      code(() => new RocketRideClient({ url })),
      code(() => client.subscribe({ token: "*" }, ["TAKS"], () => {})),
      code(() => client.subscribe({ projectId: "p", source: "s", pipeId: 1 }, ["TASK"], () => {})),
      code(() => client.tasks({ token: "*" }, { maxRuns: "many" })),
    ];
    client.close();
    return out;
  }, sim.url);
  assert.deepEqual(codes, [
    "RunwatchError:invalidUrl", "RunwatchError:invalidOptions", "RunwatchError:invalidOptions",
    "RunwatchError:invalidTypes", "RunwatchError:invalidTypes", "RunwatchError:invalidOptions",
  ]);
});

test("a request argument the Worker cannot be sent rejects that request alone; the rest of the task's calls go", async () => {
  const p = await openPage();
  const r = await p.evaluate(async (url) => {
    const rw = window.rw;
    rw.client = new rw.mod.RocketRideClient({ url, auth: "sim-key" });
    // In one task: a call holding a function (the structured clone refuses it), then a ping.
    const bad = rw.client.getTaskStatus(() => "token").then(() => "resolved", (e) => `${e.name}:${e.code}: ${e.message}`);
    const ping = rw.client.ping().then(() => "pong", (e) => `${e.code}`);
    return { bad: await bad, ping: await ping };
  }, sim.url);
  assert.match(r.bad, /^RunwatchRequestError:invalid: invalid arguments: /);
  assert.equal(r.ping, "pong");
  assertNoPageErrors(p);
});

test("a store in the Worker: the page's snapshot keeps the object of every run that did not change", async () => {
  const p = await openPage();
  await p.evaluate((url) => {
    const rw = window.rw;
    rw.client = new rw.mod.RocketRideClient({ url, auth: "sim-key" });
    rw.store = rw.client.tasks({ projectId: "proj-store", source: "*" });
    rw.snaps = [];
    rw.store.subscribe(() => rw.snaps.push(rw.store.getSnapshot()));
  }, sim.url);
  await p.waitForFunction(() => window.rw.client.state === "live");
  await execute("proj-store", "chat_1", { durationMs: 1500 });
  await p.waitForFunction(() => window.rw.store.getSnapshot().runs.some((r) => r.phase === "ended"));
  await execute("proj-store", "webhook_1", { durationMs: 60_000 });
  await p.waitForFunction(() => window.rw.store.getSnapshot().runs.length === 2);
  await p.waitForTimeout(1500); // run b progresses; ended run a does not change
  const r = await p.evaluate(() => {
    const { snaps, store } = window.rw;
    const last = store.getSnapshot();
    const ended = last.runs.find((x) => x.phase === "ended");
    // The snapshots after run b appeared: run a is the very same object in each.
    const withB = snaps.filter((s) => s.runs.length === 2);
    return {
      runs: last.runs.length, same: withB.every((s) => s.runs.find((x) => x.runId === ended.runId) === ended),
      updates: withB.length, frozen: Object.isFrozen(last) && Object.isFrozen(last.runs) && Object.isFrozen(ended),
      stable: store.getSnapshot() === last, events: store.stats().events,
    };
  });
  assert.equal(r.runs, 2);
  assert.ok(r.updates >= 2, `run b changed the snapshot several times (${r.updates})`);
  assert.ok(r.same, "the ended run kept its object");
  assert.ok(r.frozen && r.stable);
  assert.ok(r.events > 0);
});

test("an init whose module cannot load rejects; the next init starts the Worker", async () => {
  // The Worker starts while the page compiles its copy of the module; when the page's copy
  // fails, init() rejects and the Worker goes, and a later init() starts afresh.
  page = await browser.newPage();
  const p = page;
  await p.goto(new URL(BLANK_PAGE, server.url).href);
  const r = await p.evaluate(async (url) => {
    const rw = (window.rw = { pageSockets: 0 });
    const WS = globalThis.WebSocket;
    globalThis.WebSocket = class extends WS {
      constructor(...args) { super(...args); rw.pageSockets += 1; }
    };
    const mod = await import("/pkg/worker.js");
    const failed = await mod.default("/pkg/dist/missing.wasm").then(() => "resolved", (e) => String(e?.message ?? e));
    await mod.default();
    rw.client = new mod.RocketRideClient({ url, auth: "sim-key" });
    const t0 = performance.now();
    while (rw.client.state !== "live" && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    return { failed, state: rw.client.state, pageSockets: rw.pageSockets };
  }, sim.url);
  assert.match(r.failed, /404|missing\.wasm|fetch/i);
  assert.deepEqual({ state: r.state, pageSockets: r.pageSockets }, { state: "live", pageSockets: 0 });
  assertNoPageErrors(p, { allowConsole: /^Failed to load resource: the server responded with a status of 404/ });
});

test("without Worker support it runs on the main thread", async () => {
  const p = await openPage(() => { delete globalThis.Worker; });
  const r = await p.evaluate(async (url) => {
    const rw = window.rw;
    rw.client = new rw.mod.RocketRideClient({ url, auth: "sim-key" });
    const t0 = performance.now();
    while (rw.client.state !== "live" && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    return { state: rw.client.state, pageSockets: rw.pageSockets };
  }, sim.url);
  assert.deepEqual(r, { state: "live", pageSockets: 1 });
});
