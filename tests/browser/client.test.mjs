// The SDK through the real path: the built npm package in headless Chromium, a real browser
// WebSocket, and the runwatch-sim process as the engine. Each test drives the page with
// `page.evaluate` and checks what the app's callbacks saw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BLANK_PAGE, MODE } from "../support/server.mjs";
import { assertNoPageErrors, BROWSER_WS_FAILURE, EXACT, rewriteFrames, throughBackForwardCache } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

const KEY = "sim-key";
let server, browser, sim, page;

useBrowserFixture({
  simArgs: ["--api-key", KEY],
  ready: (f) => ({ server, browser, sim } = f),
  openPage: () => page,
  pageClosed: () => { page = undefined; },
  bfcache: true,
});

/** A page with the package loaded and a client recording everything into `window.rw`;
 * `setup(arg)` runs in the page first (e.g. to wrap its WebSocket). */
async function openClient(options = {}, asyncAuth = undefined, setup = undefined, arg = undefined) {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  if (setup) await page.evaluate(setup, arg);
  await page.evaluate(
    async ({ url, options, asyncAuth }) => {
      const { default: init, RocketRideClient } = await import("runwatch");
      await init();
      const rw = (window.rw = { states: [], diags: [], subs: {} });
      // Functions cannot cross page.evaluate: `asyncAuth` becomes an async credential callback.
      const auth = asyncAuth === undefined ? "sim-key" : () => Promise.resolve(asyncAuth);
      rw.client = new RocketRideClient({ url, auth, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, ...options });
      rw.client.onState((s) => rw.states.push(s));
      rw.client.onDiagnostic((d) => rw.diags.push(d));
      rw.subscribe = (name, scope, types, { throwEvery = 0 } = {}) => {
        const log = (rw.subs[name] = { batches: 0, events: [] });
        let calls = 0;
        rw.client.subscribe(scope, types, (events) => {
          log.batches += 1;
          log.events.push(...events);
          if (throwEvery && ++calls % throwEvery === 0) throw new Error(`boom from ${name}`);
        });
      };
    },
    { url: sim.url, options, asyncAuth },
  );
  return page;
}

const waitLive = (p) => p.waitForFunction(() => window.rw.client.state === "live");

async function execute(projectId, source, extra = {}) {
  return sim.control("_sim/execute", { projectId, source, name: `${source} run`, pipelineTraceLevel: "summary", ...extra });
}

/** Starts a scripted run of 1,000 objects, one every 2 ms: a stream of a few thousand frames a second. */
async function executeBurst(projectId, source) {
  const pipeline = {
    source, project_id: projectId,
    components: [{ id: source, provider: "webhook", config: { mode: "Source", type: "webhook",
      fake: { objects: 1000, interval: 0.002, pipes: 1, mode: "batch", sse: false } } }],
  };
  return sim.control("execute", { pipeline, name: `${source} burst`, pipelineTraceLevel: "summary" });
}

test("authenticates, subscribes and receives typed events in seq order", async () => {
  const p = await openClient();
  await p.evaluate(() => window.rw.subscribe("all", { token: "*" }, ["TASK", "SUMMARY", "FLOW", "OUTPUT"]));
  await waitLive(p);
  await execute("proj-typed", "chat_1");
  await p.waitForFunction(() => {
    const types = new Set(window.rw.subs.all.events.map((e) => e.type));
    return ["task", "taskStatus", "flow", "output"].every((t) => types.has(t));
  });
  const events = await p.evaluate(() => window.rw.subs.all.events);
  const begin = events.find((e) => e.type === "task" && e.action === "begin");
  assert.equal(begin.projectId, "proj-typed");
  assert.match(begin.taskId, /^[0-9a-f]{8}\.chat_1$/);
  const status = events.find((e) => e.type === "taskStatus");
  assert.equal(typeof status.status.completedCount, "number");
  assert.ok(["starting", "initializing", "running", "stopping", "completed", "cancelled"].includes(status.status.state));
  const seqs = events.filter((e) => e.seq !== undefined).map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "events arrive in seq order");
  assert.equal(new Set(seqs).size, seqs.length, "no event is delivered twice");
  assert.ok(events.every((e) => e.epoch === 1));
  const states = await p.evaluate(() => window.rw.states.map((s) => s.newState));
  assert.deepEqual(states.slice(0, 4), ["connecting", "authenticating", "subscribing", "live"]);
  assertNoPageErrors(p);
});

test("text outside ASCII arrives exactly as sent (frames are copied into the module by TextEncoder.encodeInto)", async () => {
  // 2-, 3- and 4-byte UTF-8 (a surrogate pair in JavaScript), first, in the middle and last.
  const name = "Ünïcödé — 日本語のタスク 😀 ✓ ascii after 🎉";
  const p = await openClient();
  await p.evaluate(() => window.rw.subscribe("all", { token: "*" }, ["TASK"]));
  await waitLive(p);
  await execute("proj-utf8", "utf8_1", { name });
  await p.waitForFunction(() => window.rw.subs.all.events.some((e) => e.action === "begin" && e.projectId === "proj-utf8"));
  const begin = await p.evaluate(() => window.rw.subs.all.events.find((e) => e.action === "begin" && e.projectId === "proj-utf8"));
  assert.ok(begin.name.startsWith(name), `name as delivered: ${JSON.stringify(begin.name)}`);
  assert.deepEqual(await p.evaluate(() => window.rw.diags.filter((d) => d.kind === "decodeError")), []);
  assertNoPageErrors(p);
});

// Main thread only: in Worker mode the socket lives in the Worker, out of the page's reach; the
// module that decodes the frames there is the same one.
const workerOwnsSocket = MODE === "worker" && "the page cannot rewrite the Worker's socket frames";

test("numbers in command results arrive exactly as JSON.parse reads them", { skip: workerOwnsSocket }, async () => {
  // The float goes into the server's rrext_dashboard reply; the typed result must hold what
  // JSON.parse makes of the same text, to the bit.
  const edits = ["serverUptime", "connectedAt"].map((key) => [`"${key}":[-0-9.eE+]+`, `"${key}":${EXACT}`]);
  const p = await openClient({}, undefined, rewriteFrames, { marker: '"command":"rrext_dashboard"', edits });
  await waitLive(p);
  await execute("proj-floats", "floats_1");
  const { typed, parsed } = await p.evaluate(async () => {
    const typed = await window.rw.client.dashboard();
    return { typed, parsed: JSON.parse(window.rewritten).body };
  });
  assert.equal(parsed.overview.serverUptime, Number(EXACT), "the reply was rewritten");
  assert.ok(typed.connections.length > 0 && typed.tasks.length > 0, JSON.stringify(typed));
  assert.equal(typed.overview.serverUptime, parsed.overview.serverUptime);
  for (const [i, c] of typed.connections.entries()) assert.equal(c.connectedAt, parsed.connections[i].connectedAt);
  // Every other float too (the simulator's own stamps), field by field.
  for (const [i, t] of typed.tasks.entries()) {
    for (const key of ["startTime", "elapsedTime", "idleTime", "ttl", "rateCount", "rateSize"]) assert.equal(t[key], parsed.tasks[i][key], `tasks[${i}].${key}`);
  }
  assertNoPageErrors(p);
});

test("numbers and key order in an event's untyped data and undeclared keys arrive exactly as JSON.parse reads them", { skip: workerOwnsSocket }, async () => {
  // As above, in a field typed `unknown` (an SSE event's `data`), which the SDK reads as a
  // JSON value of any shape; it read it with serde_json's fast parse before, and its
  // objects' keys came out sorted (a BTreeMap) where JSON.parse keeps the wire's order.
  // And in a body key the SDK does not declare (`extra`), kept as JSON text.
  // HARD are numbers that take core::decimal's long path (a tie broken by a digit, the edges of
  // the subnormal and of the double range, more digits than a u64 holds, a negative zero).
  const HARD = ["9007199254740993.0", "9007199254740993.000000000000000000000001", "2.2250738585072011e-308",
    "4.9406564584124654e-324", "2.4703282292062327e-324", "1.7976931348623157e308", "123456789012345678901234567890.5", "-0.0"];
  const keptText = `"kept":{"z":[1.50,${EXACT},-2e3],"a":{"y":null,"b":"\\u00e9"}},`;
  const edits = [['"data":\\{', `${keptText}"data":{"probe":[${EXACT},{"deep":${EXACT},"zeta":1,"alpha":2},${HARD}],"zulu":0,"alpha":0,`]];
  const p = await openClient({}, undefined, rewriteFrames, { marker: '"event":"apaevt_sse"', edits });
  await p.evaluate(() => window.rw.subscribe("sse", { token: "*" }, ["SSE"]));
  await waitLive(p);
  await execute("proj-sse-floats", "chat_1");
  await p.waitForFunction(() => window.rw.subs.sse.events.some((e) => e.data?.probe));
  const data = await p.evaluate(() => window.rw.subs.sse.events.find((e) => e.data?.probe).data);
  assert.deepStrictEqual(data.probe, [Number(EXACT), { deep: Number(EXACT), zeta: 1, alpha: 2 }, ...HARD.map(Number)]);
  assert.deepEqual(Object.keys(data).slice(0, 3), ["probe", "zulu", "alpha"], "keys in the wire's order");
  assert.deepEqual(Object.keys(data.probe[1]), ["deep", "zeta", "alpha"]);
  const kept = await p.evaluate(() => window.rw.subs.sse.events.find((e) => e.data?.probe).extra?.kept);
  assert.deepEqual(kept, { z: [1.5, Number(EXACT), -2000], a: { y: null, b: "é" } });
  assert.deepEqual([Object.keys(kept), Object.keys(kept.a)], [["z", "a"], ["y", "b"]]);
  assertNoPageErrors(p);
});

test("a scoped subscription gets only its project's events", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    window.rw.subscribe("mine", { projectId: "proj-a", source: "*" }, ["TASK"]);
    window.rw.subscribe("all", { token: "*" }, ["TASK"]);
  });
  await waitLive(p);
  await execute("proj-b", "src_b");
  await execute("proj-a", "src_a");
  await p.waitForFunction(() => window.rw.subs.mine.events.some((e) => e.action === "begin"));
  await p.waitForFunction(() => window.rw.subs.all.events.some((e) => e.action === "begin" && e.projectId === "proj-b"));
  const mine = await p.evaluate(() => window.rw.subs.mine.events);
  for (const e of mine) {
    if (e.action === "running") assert.ok(e.tasks.every((t) => t.projectId === "proj-a"), "the running seed is filtered to the scope");
    else assert.equal(e.projectId, "proj-a");
  }
  assertNoPageErrors(p);
});

test("subscriptions that share events each get exactly their own, in order; on the main thread a shared event is one object", async () => {
  // Once per animation frame, so a flush holds many events and the three batches differ.
  const p = await openClient({ batch: "frame" });
  await p.evaluate(() => {
    window.rw.subscribe("all", { token: "*" }, ["TASK", "SUMMARY", "FLOW"]);
    window.rw.subscribe("tasks", { token: "*" }, ["TASK"]);
    window.rw.subscribe("flows", { token: "*" }, ["FLOW"]);
  });
  await waitLive(p);
  // A burst of a few thousand frames a second.
  await executeBurst("proj-shared", "burst_1");
  await p.waitForFunction(() => window.rw.subs.tasks.events.some((e) => e.action === "begin") && window.rw.subs.flows.events.length >= 200);
  // A flush calls every subscription's callback before anything else runs, so between two
  // tasks of the page the three have seen the same events.
  const r = await p.evaluate(() => {
    const { all, tasks, flows } = window.rw.subs;
    const key = (e) => `${e.epoch}:${e.seq}:${e.type}`;
    const inAll = new Set(all.events);
    const runs = (sub) => sub.events.filter((e) => e.action !== "running");
    return {
      tasks: tasks.events.map(key),
      tasksInAll: all.events.filter((e) => e.type === "task").map(key),
      flows: flows.events.map(key),
      flowsInAll: all.events.filter((e) => e.type === "flow").map(key),
      statuses: all.events.filter((e) => e.type === "taskStatus").length,
      // The run's own events; the `running` seed is filtered for each subscription's scope,
      // so each gets one of its own.
      live: runs(tasks).length + runs(flows).length,
      shared: [...runs(tasks), ...runs(flows)].every((e) => inAll.has(e)),
    };
  });
  assert.ok(r.statuses > 0, "the subscription to everything got the statuses no other one asked for");
  assert.ok(r.live >= 200, `live events reached the narrower subscriptions (${r.live})`);
  assert.deepEqual(r.tasks, r.tasksInAll);
  assert.deepEqual(r.flows, r.flowsInAll);
  if (MODE === "main") {
    // One JS object per event, whichever subscriptions it went to (Worker mode parses
    // each subscription's batch on the page on its own).
    assert.ok(r.shared, "an event delivered to several subscriptions is the same object in each");
  }
  assertNoPageErrors(p);
});

test("an unknown type name, a bare string or a pipe scope with more than SSE throws instead of subscribing", async () => {
  const p = await openClient();
  const errors = await p.evaluate(() => {
    const attempt = (types, scope = { token: "*" }) => {
      try {
        window.rw.client.subscribe(scope, types, () => {});
        return null;
      } catch (e) {
        return { name: e.name, code: e.code, message: e.message };
      }
    };
    const pipe = { projectId: "p", source: "s", pipeId: 2 };
    return [attempt(["apaevt_status_upload"]), attempt("SUMMARY"), attempt(256), attempt(["summary"]), attempt(["SSE", "SUMMARY"], pipe), attempt(["sse"], pipe), attempt(4.5), attempt(NaN)];
  });
  assert.equal(errors[0].code, "invalidTypes");
  assert.match(errors[0].message, /apaevt_status_upload/);
  assert.equal(errors[1].code, "invalidTypes");
  assert.equal(errors[2].code, "invalidTypes");
  assert.equal(errors[3], null, "lower-case names are fine");
  assert.equal(errors[4].code, "invalidTypes", "a pipe scope takes SSE only");
  assert.match(errors[4].message, /pipe scope/);
  assert.equal(errors[5], null);
  assert.equal(errors[6].code, "invalidTypes");
  assert.equal(errors[6].message, "a monitor type bitmask must be a whole number from 1 to 255, not the number 4.5");
  assert.equal(errors[7].message, "a monitor type bitmask must be a whole number from 1 to 255, not the number NaN");
});

test("plain ws:// to a remote host, credentials in the URL and URLs no WebSocket takes are refused", async () => {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  const codes = await page.evaluate(async () => {
    const { default: init, RocketRideClient } = await import("runwatch");
    await init();
    const attempt = (opts) => {
      try {
        new RocketRideClient({ auth: "k", ...opts }).close();
        return "ok";
      } catch (e) {
        return `${e.code}: ${e.message}`;
      }
    };
    return [
      attempt({ url: "ws://192.0.2.1:5565" }),
      attempt({ url: "wss://user:hunter2@192.0.2.1:5565" }),
      attempt({ url: "ws://127.0.0.1:1", urlTypo: true }),
      // What the browser's WebSocket throws for on every attempt is refused at once.
      attempt({ url: "ws://127.0.0.1:99999" }),
      attempt({ url: "ws://127.0.0.1:5565/task/service#live" }),
    ];
  });
  assert.match(codes[0], /^invalidUrl: .*allowInsecure/);
  assert.match(codes[1], /^invalidUrl/);
  assert.doesNotMatch(codes[1], /hunter2/);
  assert.match(codes[2], /^invalidOptions: .*urlTypo/);
  assert.match(codes[3], /^invalidUrl: the url's port must be a number from 1 to 65535$/);
  assert.match(codes[4], /^invalidUrl: the url must not have a #fragment/);
});

test("under a Content-Security-Policy, 'wasm-unsafe-eval' in script-src is all the SDK needs; without it init() rejects with a CompileError", async () => {
  // A strict policy as an app would send it: nothing inline but the import map (by nonce),
  // scripts and the Worker from the page's own origin, sockets only to the engine.
  const engine = new URL(sim.url).origin.replace(/^http/, "ws");
  const policy = (wasm) => `default-src 'self'; script-src 'self' 'nonce-rw'${wasm ? " 'wasm-unsafe-eval'" : ""}; connect-src 'self' ${engine}`;
  const outcome = async (wasm) => {
    page = await browser.newPage();
    const url = new URL(BLANK_PAGE, server.url);
    url.searchParams.set("csp", policy(wasm));
    await page.goto(url.href);
    const result = await page.evaluate(async (url) => {
      const { default: init, RocketRideClient } = await import("runwatch");
      try {
        await init();
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
      const client = new RocketRideClient({ url, auth: "sim-key" });
      const live = await new Promise((resolve) => {
        client.onState((s) => s.newState === "live" && resolve(true));
        setTimeout(() => resolve(client.state), 10_000);
      });
      client.close();
      return live === true ? "live" : `not live: ${live}`;
    }, sim.url);
    // Nothing else was refused: no CSP report, and in Worker mode no fallback to the page.
    const refused = page.consoleMessages.filter((m) => /Content Security Policy|Worker mode unavailable/.test(m.text));
    await page.close();
    page = undefined;
    return wasm ? `${result}${refused.map((m) => `; ${m.text}`).join("")}` : result;
  };
  assert.equal(await outcome(true), "live");
  assert.match(await outcome(false), /^CompileError: .*Content Security Polic/);
});

test("option values of the wrong type are refused with the option's name; arguments are sent as JSON.stringify makes them", async () => {
  const p = await openClient();
  await waitLive(p);
  const r = await p.evaluate(async () => {
    const { RocketRideClient } = await import("runwatch");
    const caught = (f) => {
      try {
        f();
        return "ok";
      } catch (e) {
        return `${e.code}: ${e.message}`;
      }
    };
    const make = (extra) => caught(() => new RocketRideClient({ url: "ws://127.0.0.1:1", auth: "secret-key", ...extra }).close());
    const client = window.rw.client;
    const rejection = (promise) => promise.then(() => "resolved", (e) => `${e.code}: ${e.message}`);
    return {
      options: [
        make({ heartbeatIntervalMs: 1.5 }),
        make({ maxBatchEvents: -1 }),
        make({ batch: "fast" }),
        make({ reconnect: 5 }),
        make({ reconnect: { maxAttempts: "3" } }),
        make({ clientName: "secret-key" === "x" ? 1 : ["a"] }),
        make({ allowInsecure: null, clientName: undefined, batch: "frame", reconnect: { minDelayMs: 10 } }),
        caught(() => new RocketRideClient({ auth: "k" })),
        make({ maxFrameBytes: 0 }),
        make({ connectTimeoutMs: 0 }),
        make({ heartbeatIntervalMs: 0 }),
        make({ auth: "" }),
        make({ auth: " " }),
        make({ reorderWindowMs: 0, reconnect: { minDelayMs: 0, maxDelayMs: 0, maxAttempts: 0 } }),
      ],
      scopes: [caught(() => client.subscribe("proj", ["TASK"], () => {})), caught(() => client.tasks({ projectId: "p", source: "s" }, { maxRuns: 2.5 })),
        // A store keeps the run it is on: 0 runs was taken as 1 without a word.
        caught(() => client.tasks({ projectId: "p", source: "s" }, { maxRuns: 0 })),
        caught(() => client.tasks({ projectId: "p", source: "s" }, { maxOutputLines: 0, maxErrors: 0, maxWarnings: 0 }).close())],
      types: caught(() => client.subscribe({ token: "*" }, ["TASK", 3], () => {})),
      requests: [
        await rejection(client.request("rrext_ping", { big: 1n })),
        await rejection(client.execute((() => { const pipeline = { components: [] }; pipeline.self = pipeline; return { pipeline }; })())),
        // toJSON is honoured and undefined members are left out, as in JSON.stringify: the
        // request goes out (whatever the server makes of its arguments).
        await rejection(client.request("rrext_ping", { when: { toJSON: () => "later" }, gone: undefined })),
        // A Map or a Set would reach the server as {}: refused, saying where.
        await rejection(client.execute({ pipeline: { components: [] }, env: new Map([["REGION", "eu"]]) })),
        await rejection(client.request("rrext_ping", { tags: [new Set(["a"])] })),
        await rejection(client.request("rrext_ping", new Map())),
      ],
    };
  });
  assert.match(r.options[0], /^invalidOptions: `heartbeatIntervalMs` must be a whole number from 1 to 4294967295, not the number 1\.5$/);
  assert.match(r.options[1], /^invalidOptions: `maxBatchEvents` must be a whole number .*not the number -1$/);
  assert.match(r.options[2], /^invalidOptions: `batch` must be one of "task", "microtask", "frame", not another string$/);
  assert.match(r.options[3], /^invalidOptions: `reconnect` must be an object, not the number 5$/);
  assert.match(r.options[4], /^invalidOptions: `maxAttempts` must be a whole number/);
  assert.match(r.options[5], /^invalidOptions: `clientName` must be a string, not an array$/);
  assert.equal(r.options[6], "ok", "null and undefined are absent; valid values pass");
  assert.match(r.options[7], /^invalidOptions: missing option `url`$/);
  // 0 would turn these against the client (every frame oversized, every connect timed out,
  // a ping in every task); where 0 means something (no wait, no retry) it is taken.
  assert.equal(r.options[8], "invalidOptions: `maxFrameBytes` must be a whole number from 1 to 4294967295, not the number 0");
  assert.match(r.options[9], /^invalidOptions: `connectTimeoutMs` must be a whole number from 1 /);
  assert.match(r.options[10], /^invalidOptions: `heartbeatIntervalMs` must be a whole number from 1 /);
  assert.equal(r.options[11], "invalidAuth: `auth` is an empty string");
  assert.equal(r.options[12], "invalidAuth: `auth` is an empty string");
  assert.equal(r.options[13], "ok");
  for (const text of [...r.options, ...r.scopes, r.types]) assert.doesNotMatch(text, /secret-key/);
  assert.match(r.scopes[0], /^invalidScope: a scope must be an object/);
  assert.match(r.scopes[1], /^invalidOptions: `maxRuns` must be a whole number/);
  assert.equal(r.scopes[2], "invalidOptions: `maxRuns` must be a whole number from 1 to 4294967295, not the number 0");
  assert.equal(r.scopes[3], "ok", "a store may keep no output lines, errors or warnings");
  assert.match(r.types, /^invalidTypes: types must be an array of type names or a bitmask$/);
  assert.match(r.requests[0], /^invalid: the arguments are not JSON: .*BigInt/);
  assert.match(r.requests[1], /^invalid: the arguments are not JSON: .*circular/i);
  assert.doesNotMatch(r.requests[2], /^invalid/);
  assert.equal(r.requests[3], "invalid: the arguments are not JSON: `env` is a Map, which JSON.stringify sends as {}; pass Object.fromEntries(map)");
  assert.equal(r.requests[4], "invalid: the arguments are not JSON: item 0 is a Set, which JSON.stringify sends as {}; pass [...set]");
  assert.equal(r.requests[5], "invalid: the arguments are not JSON: they are a Map, which JSON.stringify sends as {}; pass Object.fromEntries(map)");
  assertNoPageErrors(p);
});

test("a rejected credential stops reconnecting and surfaces the server's message", async () => {
  const p = await openClient({}, "wrong-key");
  await p.waitForFunction(() => window.rw.client.state === "authFailed");
  const last = await p.evaluate(() => window.rw.states.at(-1));
  assert.equal(last.message, "Invalid API key");
  await new Promise((r) => setTimeout(r, 400));
  const after = await p.evaluate(() => ({ state: window.rw.client.state, n: window.rw.states.length, stats: window.rw.client.stats() }));
  assert.equal(after.state, "authFailed");
  assert.equal(after.stats.reconnects, 0, "no reconnect after an auth rejection");
  const everything = JSON.stringify(await p.evaluate(() => ({ s: window.rw.states, d: window.rw.diags })));
  assert.doesNotMatch(everything, /wrong-key/, "the credential never appears in states or diagnostics");
});

test("a credential callback that throws, rejects or gives a blank key is reported (credentialError) and asked again on the next attempt", async () => {
  // A blank key is a token not loaded yet: sent, the engine would refuse it and end the
  // client in authFailed.
  const p = await openClient();
  const r = await p.evaluate(async ({ url, key }) => {
    const { RocketRideClient } = await import("runwatch");
    let calls = 0;
    const diags = [];
    const answers = [() => { throw new Error("token service down"); }, () => Promise.reject(new Error("expired")), () => "", () => Promise.resolve(" "), () => key];
    const auth = () => answers[Math.min(calls++, answers.length - 1)]();
    const client = new RocketRideClient({ url, auth, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
    client.onDiagnostic((d) => diags.push(d));
    const states = [];
    await new Promise((resolve) => client.onState((s) => { states.push(s.newState); if (s.newState === "live") resolve(); }));
    client.close();
    return { calls, diags, states };
  }, { url: sim.url, key: KEY });
  assert.equal(r.calls, 5);
  assert.deepEqual(r.diags.map((d) => d.kind), Array(4).fill("credentialError"));
  // Thrown or rejected, in either mode (in Worker mode the callback's answer reaches the
  // module as a promise either way).
  assert.match(r.diags[0].message, /^the auth callback failed: .*token service down/);
  assert.match(r.diags[1].message, /^the auth callback failed: .*expired/);
  assert.match(r.diags[2].message, /empty credential/);
  assert.match(r.diags[3].message, /empty credential/);
  assert.ok(!r.states.includes("authFailed"), r.states.join(" → "));
  assert.doesNotMatch(JSON.stringify(r), new RegExp(KEY));
  assertNoPageErrors(p);
});

test("a throwing callback is reported and does not stop delivery", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    window.rw.subscribe("thrower", { token: "*" }, ["TASK", "SUMMARY"], { throwEvery: 1 });
    window.rw.subscribe("calm", { token: "*" }, ["TASK", "SUMMARY"]);
  });
  await waitLive(p);
  await execute("proj-throw", "src_t");
  await p.waitForFunction(() => window.rw.subs.thrower.batches >= 3 && window.rw.subs.calm.events.some((e) => e.type === "taskStatus"));
  const diags = await p.evaluate(() => window.rw.diags.filter((d) => d.kind === "callbackError"));
  assert.ok(diags.length >= 3);
  assert.match(diags[0].message, /boom from thrower/);
  assert.equal(await p.evaluate(() => window.rw.client.state), "live");
});

test("after the server dies and restarts, the client reconnects, resubscribes and reports resync", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    window.rw.subscribe("all", { token: "*" }, ["TASK", "DASHBOARD"]);
    window.rw.subscribe("proj", { projectId: "proj-r", source: "src_r" }, ["SUMMARY", "OUTPUT"]);
    window.rw.subscribe("proj2", { projectId: "proj-r", source: "src_r" }, ["FLOW"]);
  });
  await waitLive(p);
  await sim.restart({ signal: "SIGKILL" });
  await p.waitForFunction(() => window.rw.diags.some((d) => d.kind === "resync"));
  await waitLive(p);
  const resync = await p.evaluate(() => window.rw.diags.find((d) => d.kind === "resync"));
  assert.ok(resync.epoch >= 2, "a later connection (the first retry may hit the restarting server)");
  assert.ok(resync.offlineMs >= 0);
  assert.deepEqual([...resync.resubscribed].sort(), ["*", "p.proj-r.src_r"]);
  // The server's real registry equals the desired set, with the merged bitmask.
  const conns = await sim.control("_sim/connections");
  const mine = conns.filter((c) => c.authenticated && c.monitors.length > 0);
  assert.equal(mine.length, 1);
  const monitors = Object.fromEntries(mine[0].monitors.map((m) => [m.key, m.mask]));
  assert.deepEqual(monitors, { "*": 32 | 128, "p.proj-r.src_r": 4 | 8 | 16 });
  const states = await p.evaluate(() => window.rw.states.map((s) => s.newState));
  assert.ok(states.includes("backoff"));
  // Events flow again on the new connection.
  await execute("proj-r", "src_r");
  await p.waitForFunction((epoch) => window.rw.subs.proj.events.some((e) => e.epoch === epoch && e.type === "output"), resync.epoch);
  // Chromium itself logs a retry that reaches the engine while it is down (full jitter lets
  // the first retry come at once); that is the browser's message, not the SDK's.
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
});

test("a page put in the back/forward cache closes its socket cleanly and is live again as soon as it is shown, with a resync", async () => {
  // Ten minutes of backoff: only the page being shown can bring the client back within the
  // test's waits (the browser cuts a socket left open, and reports it only after the restore).
  const p = await openClient({ clientName: "bfcache-page", reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
  await p.evaluate(() => window.rw.subscribe("all", { token: "*" }, ["TASK"]));
  await waitLive(p);
  const mine = async () => (await sim.control("_sim/connections")).filter((c) => c.clientName === "bfcache-page");
  assert.equal((await mine()).length, 1);
  await throughBackForwardCache(p, async () => {
    // While the page is cached the server holds nothing for it.
    for (let i = 0; i < 50 && (await mine()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await mine(), []);
    await execute("proj-bf", "src_bf");
  });
  await p.waitForFunction(() => window.rw.client.state === "live" && window.rw.diags.some((d) => d.kind === "resync"));
  const r = await p.evaluate(() => ({ states: window.rw.states, resync: window.rw.diags.find((d) => d.kind === "resync") }));
  const hidden = r.states.find((s) => s.newState === "backoff");
  assert.equal(hidden.reason?.kind, "pageHidden", JSON.stringify(r.states));
  assert.deepEqual(r.resync.resubscribed, ["*"]);
  assert.ok(r.resync.offlineMs > 0);
  assert.equal((await mine()).length, 1, "one connection again");
  assertNoPageErrors(p);
});

test("what the app lets go of (removers, ended subscriptions, closed stores) does not keep the page out of the back/forward cache", async () => {
  // wasm-bindgen frees a wrapper or closure the app let go of from a FinalizationRegistry
  // callback. A garbage collection while the page is in the cache runs that callback there,
  // and Chromium evicts a page that runs script while cached (JavaScriptExecution): Back
  // would reload it. So nothing the SDK hands out for a listener or a subscription may need
  // finalizing once the app is done with it.
  const p = await openClient({ clientName: "bfcache-garbage" });
  await waitLive(p);
  const ended = await p.evaluate(async () => {
    const c = window.rw.client;
    window.keptStore = c.tasks({ token: "*" });
    const ids = [];
    const closedStores = [];
    for (let i = 0; i < 20; i++) {
      const sub = c.subscribe({ token: "*" }, ["SUMMARY"], () => {});
      const store = c.tasks({ projectId: "p", source: "*" });
      const offs = [c.onState(() => {}), c.onDiagnostic(() => {}), window.keptStore.subscribe(() => {}), store.subscribe(() => {})];
      await new Promise((r) => setTimeout(r, 5));
      sub.unsubscribe();
      sub.unsubscribe(); // idempotent
      ids.push(sub.id);
      const { getSnapshot, subscribe } = store;
      const before = getSnapshot();
      store.close();
      store.close(); // idempotent
      // Closed, it keeps its last snapshot and answers as before, with the same functions.
      const off = subscribe(() => {});
      off();
      closedStores.push(store.closed && getSnapshot() === before && store.getSnapshot === getSnapshot && store.subscribe === subscribe
        && typeof store.stats().events === "number");
      for (const off of offs) { off(); off(); }
    }
    // `using` disposes through the same end: unsubscribing afterwards does nothing.
    const disposed = c.subscribe({ token: "*" }, ["SUMMARY"], () => {});
    disposed[Symbol.dispose]();
    disposed.unsubscribe();
    const disposedStore = c.tasks();
    disposedStore[Symbol.dispose]();
    disposedStore.close();
    let listenerError;
    try { disposedStore.subscribe(42); } catch (e) { listenerError = `${e.name} ${e.code}`; }
    return { ids, disposedId: disposed.id, closedStores, disposedStoreClosed: disposedStore.closed, listenerError };
  });
  assert.equal(new Set(ended.ids).size, 20, "each ended subscription keeps its own id");
  assert.deepEqual(ended.closedStores, Array(20).fill(true), "a closed store answers from its last snapshot");
  assert.equal(ended.disposedStoreClosed, true);
  assert.equal(ended.listenerError, "RunwatchError invalidListener");
  assert.equal(typeof ended.disposedId, "number");
  const cdp = await p.context().newCDPSession(p);
  await throughBackForwardCache(p, () => cdp.send("HeapProfiler.collectGarbage"));
  await cdp.detach();
  await p.waitForFunction(() => window.rw.client.state === "live");
  assert.deepEqual((await p.evaluate(() => window.rw.client.serverSubscriptions())).map((s) => s.key).sort(), ["*"]);
  assertNoPageErrors(p);
});

test("closed clients, one per view, do not keep the page out of the back/forward cache, and answer as closed", async () => {
  // A dashboard that makes a client per view (React's useClient on each route) closes one
  // at every navigation; its wrapper must not wait for a finalizer either (see the test
  // above). Each view's client ends its own way: closed when live with a request pending,
  // from inside its own state listener, in the tick it was made, by free(), by `using`.
  const p = await openClient({ clientName: "bfcache-views" });
  await waitLive(p);
  const views = await p.evaluate(async (url) => {
    const { RocketRideClient } = await import("runwatch");
    // Callbacks given to an ended client, which it must not keep (it would never call them).
    window.givenAfterEnd = [];
    const given = (f) => (window.givenAfterEnd.push(new WeakRef(f)), f);
    const live = (c) => new Promise((resolve) => c.onState((s) => s.newState === "live" && resolve()));
    const view = async (how) => {
      const c = new RocketRideClient({ url, auth: "sim-key" });
      const states = [];
      c.onState((s) => states.push(s.newState));
      const sub = c.subscribe({ token: "*" }, ["SUMMARY"], () => {});
      const store = c.tasks({ token: "*" });
      const heldStore = c.tasks({ projectId: "p", source: "*" });
      let pending;
      if (how === "from its listener") {
        pending = c.ping().then(() => "resolved", (e) => e.code);
        await new Promise((resolve) => c.onState((s) => {
          if (s.newState === "live") c.close();
          if (s.newState === "closed") resolve();
        }));
      } else {
        if (how !== "in its tick") await live(c);
        pending = c.ping().then(() => "resolved", (e) => e.code);
        if (how === "free") c.free();
        else if (how === "using") c[Symbol.dispose]();
        else c.close();
      }
      const request = await pending;
      await Promise.resolve();
      if (how === "free" || how === "using") return { how, request, states, storeClosed: store.closed, subEnded: (sub.unsubscribe(), typeof sub.id) };
      const stats = c.stats();
      // Every call on an ended client behaves as on a closed one.
      const after = {
        state: c.state,
        statsKept: stats.reconnects === c.stats().reconnects && c.stats() !== c.stats(),
        held: c.serverSubscriptions().map((h) => h.key),
        request: await Promise.race([c.ping().then(() => "resolved", (e) => `${e.name} ${e.code}`), new Promise((r) => setTimeout(r, 5000, "no answer in 5 s"))]),
        subscribe: typeof c.subscribe({ token: "*" }, ["TASK"], given(() => {})).id,
        store: c.tasks().closed,
        remover: typeof c.onState(given(() => {})),
      };
      c.onDiagnostic(given(() => {}));
      let invalid;
      try { c.subscribe({ token: "*" }, ["NOPE"], () => {}); } catch (e) { invalid = e.code; }
      c.close();
      c.free();
      c[Symbol.dispose]();
      return { how, request, states, storeClosed: store.closed && heldStore.closed, snapshot: typeof store.getSnapshot(), subEnded: (sub.unsubscribe(), typeof sub.id), after, invalid };
    };
    const results = [];
    for (const how of ["close", "close", "from its listener", "in its tick", "free", "using", "close"]) results.push(await view(how));
    return results;
  }, sim.url);
  for (const v of views) {
    // (In Worker mode the page hears of `live` after the Worker, whose ping may be answered by then.)
    if (v.how === "from its listener" && MODE === "worker") assert.ok(["closed", "resolved"].includes(v.request), v.request);
    else assert.equal(v.request, "closed", `${v.how}: a request pending at the close rejects with closed`);
    assert.equal(v.storeClosed, true, `${v.how}: the client's stores end with it`);
    assert.equal(v.subEnded, "number", v.how);
    assert.equal(v.states.at(-1), "closed", v.how);
    if (!v.after) continue;
    assert.deepEqual(v.after, { state: "closed", statsKept: true, held: v.after.held, request: "RunwatchRequestError closed", subscribe: "number", store: true, remover: "function" }, v.how);
    assert.equal(v.invalid, "invalidTypes", `${v.how}: arguments are still checked`);
    assert.equal(v.snapshot, "object", v.how);
  }
  const cdp = await p.context().newCDPSession(p);
  await throughBackForwardCache(p, () => cdp.send("HeapProfiler.collectGarbage"));
  await cdp.detach();
  await p.waitForFunction(() => window.rw.client.state === "live");
  assert.deepEqual(await p.evaluate(() => window.givenAfterEnd.filter((r) => r.deref() !== undefined).length), 0, "callbacks given after the end were let go");
  assertNoPageErrors(p);
});

test("back online or visible again, a client waiting out its backoff connects at once", async () => {
  // Ten minutes of backoff (a retry waits a random time up to that): a retry of its own
  // would come within the 5 s wait below once in 120 times; both wakes, once in 14,400.
  const p = await openClient({ reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
  await waitLive(p);
  for (const wake of ["online", "visible"]) {
    await sim.kill();
    await p.waitForFunction(() => window.rw.client.state === "backoff");
    await sim.restart();
    const since = await p.evaluate(() => window.rw.states.length);
    if (wake === "online") {
      // The browser's own offline → online (Chromium fires `online` on the window).
      await p.context().setOffline(true);
      await p.context().setOffline(false);
    } else {
      // Headless pages are always visible: the event alone is what a tab brought to the front fires.
      await p.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    }
    await p.waitForFunction((n) => window.rw.states.slice(n).some((s) => s.newState === "live"), since, { timeout: 5_000 });
  }
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
});

test("a client closed in the tick it was made never opens a socket (an effect, its cleanup, the effect again)", async () => {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  const { next: since } = await sim.control("_sim/log?since=0&limit=1");
  const states = await page.evaluate(async (url) => {
    const { default: init, RocketRideClient } = await import("runwatch");
    await init();
    // Each client's socket is told apart in the server's log by its query.
    const make = (probe) => new RocketRideClient({ url: `${url}?probe=${probe}`, auth: "sim-key" });
    const states = [];
    const first = make("closed-at-once");
    first.onState((s) => states.push(s.newState));
    first.close();
    const second = make("kept");
    await new Promise((resolve) => second.onState((s) => s.newState === "live" && resolve()));
    second.close();
    return states;
  }, sim.url);
  const log = (await sim.control(`_sim/log?since=${since}&limit=50000`)).entries;
  const opened = (probe) => log.filter((e) => e.kind === "open" && e.path?.includes(`probe=${probe}`)).length;
  assert.equal(opened("kept"), 1, "the control: a client that went live is in the server's log");
  assert.equal(opened("closed-at-once"), 0, "the closed client opened a socket");
  assert.equal(states.at(-1), "closed");
});

test("close() removes every timer and closes the socket", async () => {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  const result = await page.evaluate(async (url) => {
    // Count live timers: wrap the globals before the SDK starts using them.
    const live = new Set();
    const { setTimeout: st, clearTimeout: ct } = globalThis;
    globalThis.setTimeout = (fn, ms, ...a) => {
      const id = st(() => { live.delete(id); fn(...a); }, ms);
      live.add(id);
      return id;
    };
    globalThis.clearTimeout = (id) => { live.delete(id); ct(id); };
    const sockets = [];
    const WS = globalThis.WebSocket;
    globalThis.WebSocket = class extends WS {
      constructor(...args) { super(...args); sockets.push(this); }
    };
    const { default: init, RocketRideClient } = await import("runwatch");
    await init();
    const client = new RocketRideClient({ url, auth: "sim-key" });
    client.subscribe({ token: "*" }, ["TASK"], () => {});
    const t0 = performance.now();
    while (client.state !== "live" && performance.now() - t0 < 10000) await new Promise((r) => st(r, 20));
    const timersWhileLive = live.size;
    client.close();
    await new Promise((r) => st(r, 100));
    return { timersWhileLive, timersAfterClose: live.size, state: client.state, socketStates: sockets.map((s) => s.readyState) };
  }, sim.url);
  assert.equal(result.state, "closed");
  if (MODE === "worker") {
    // The socket and the engine's timers live in the Worker: the page has none of either,
    // and the engine sees the connection go.
    assert.deepEqual(result.socketStates, [], "the page opens no WebSocket in Worker mode");
    const t0 = Date.now();
    let open = await sim.control("_sim/connections");
    while (open.length > 0 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      open = await sim.control("_sim/connections");
    }
    assert.equal(open.length, 0, "the Worker's socket is closed");
    return;
  }
  assert.ok(result.timersWhileLive >= 1, "the heartbeat timer runs while live");
  assert.equal(result.timersAfterClose, 0);
  assert.ok(result.socketStates.every((s) => s === 2 || s === 3), `sockets closing or closed: ${result.socketStates}`);
});

test("free() of a subscription unsubscribes, listener removers are idempotent, garbage collection closes nothing", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    const rw = window.rw;
    rw.freed = rw.client.subscribe({ projectId: "proj-free", source: "src_free" }, ["OUTPUT"], () => {});
    rw.client.subscribe({ projectId: "proj-kept", source: "src_kept" }, ["OUTPUT"], () => {});
    const off = rw.client.onState(() => {});
    off();
    off(); // a second call is a no-op, not a throw
  });
  await waitLive(p);
  // Two source keys, and `*` with DASHBOARD: the SDK's own watch for their cleanup.
  await p.waitForFunction(() => window.rw.client.serverSubscriptions().length === 3);
  await p.evaluate(() => window.rw.freed.free());
  await p.waitForFunction(() => window.rw.client.serverSubscriptions().length === 2);
  // The SDK's view changes when it sends the unsubscribe; the server's a moment later.
  const serverHeld = async () => (await sim.control("_sim/connections"))
    .filter((c) => c.monitors.length > 0).flatMap((c) => c.monitors.map((m) => `${m.key}:${m.mask}`)).sort();
  let held = await serverHeld();
  for (let i = 0; i < 100 && held.length !== 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
    held = await serverHeld();
  }
  assert.deepEqual(held, ["*:128", "p.proj-kept.src_kept:8"]);

  // A client and subscription nobody references: after forced garbage collection they
  // still deliver (the package keeps open clients reachable), here a run this client never
  // saw start, on a source scope with OUTPUT only and no {token:"*"} companion.
  await p.evaluate((url) => {
    const rw = window.rw;
    rw.gcEvents = [];
    rw.gcStates = [];
    import("runwatch").then(({ RocketRideClient }) => {
      const c = new RocketRideClient({ url, auth: "sim-key" });
      c.onState((s) => rw.gcStates.push(s.newState));
      c.subscribe({ projectId: "proj-gc", source: "src_gc" }, ["OUTPUT"], (events) => rw.gcEvents.push(...events));
    });
  }, sim.url);
  await p.waitForFunction(() => window.rw.gcStates.includes("live"));
  const cdp = await p.context().newCDPSession(p);
  for (let i = 0; i < 3; i += 1) await cdp.send("HeapProfiler.collectGarbage");
  await execute("proj-gc", "src_gc");
  await p.waitForFunction(() => window.rw.gcEvents.some((e) => e.type === "output"));
  assert.ok(!(await p.evaluate(() => window.rw.gcStates.includes("closed"))));
  assertNoPageErrors(p);
});

test("calls from inside a callback take effect after the current delivery, in order", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    const rw = window.rw;
    rw.log = [];
    rw.client.onState((s) => {
      rw.log.push(`state:${s.newState}`);
      // Closing from the listener of the reconnect's `live`: the resync that completes
      // this reconnect was produced first and must still reach the app before `closed`.
      if (s.newState === "live" && s.epoch >= 2) rw.client.close();
    });
    rw.client.onDiagnostic((d) => rw.log.push(`diag:${d.kind}`));
    rw.subscribe("all", { token: "*" }, ["TASK"]);
  });
  await waitLive(p);
  await p.waitForFunction(() => window.rw.client.serverSubscriptions().length === 1);
  await sim.restart({ signal: "SIGKILL" });
  await p.waitForFunction(() => window.rw.log.includes("state:closed"));
  await new Promise((r) => setTimeout(r, 300));
  const log = await p.evaluate(() => window.rw.log);
  const live = log.lastIndexOf("state:live");
  const resync = log.indexOf("diag:resync");
  const closed = log.indexOf("state:closed");
  assert.ok(live < resync && resync < closed, `live, then resync, then closed: ${log.join(" ")}`);
  assert.equal(closed, log.length - 1, `nothing after closed: ${log.join(" ")}`);
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
});

test("the default batching delivers what queued while the page was busy in one batch, a quiet stream at once", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    window.rw.sizes = []; // [performance.now(), batch size] per batch
    window.rw.client.subscribe({ token: "*" }, ["TASK", "FLOW", "OUTPUT"], (events) => window.rw.sizes.push([performance.now(), events.length]));
  });
  await waitLive(p);
  await executeBurst("b0b0b0b0-0000-4000-8000-000000000001", "burst_1");
  await p.waitForFunction(() => window.rw.sizes.length >= 20);
  // Busy for 300 ms while the run streams: its frames queue up in the browser meanwhile.
  const busyEnd = await p.evaluate(() => {
    const t = performance.now();
    while (performance.now() - t < 300) { /* the page is busy */ }
    return performance.now();
  });
  // Chromium may hand the queued frames to the page some time after the spell: on a slow
  // machine a batch of 459 came 103 ms after it, behind a batch of 1. So look at the second
  // after the spell, and stop watching early once a large batch came.
  const WINDOW_MS = 1000;
  await p.waitForFunction(
    ([end, windowMs]) => performance.now() > end + windowMs || window.rw.sizes.some(([at, n]) => at > end && n >= 20),
    [busyEnd, WINDOW_MS],
  );
  const sizes = await p.evaluate(() => window.rw.sizes);
  const after = sizes.filter(([at]) => at > busyEnd && at < busyEnd + WINDOW_MS).map(([, n]) => n);
  if (MODE === "worker") {
    // The Worker reads the socket while the page is busy and posts a batch per frame of its
    // own; the page then takes the posts in turn: all of it, within a few tasks.
    assert.ok(after.reduce((a, b) => a + b, 0) >= 20, `what arrived during the busy spell is delivered at once: ${after}`);
  } else {
    const before = sizes.filter(([at]) => at < busyEnd - 300).map(([, n]) => n).sort((x, y) => x - y);
    const median = before[before.length >> 1];
    assert.ok(median <= 3, `while the page keeps up, frames are delivered as they come, not held for a frame: ${before}`);
    assert.ok(Math.max(...after) >= 20, `what queued during the busy spell comes in a few large batches: ${after}`);
  }
  assertNoPageErrors(p);
});

test("a request's reply never overtakes the events that came before it", async () => {
  const p = await openClient();
  await p.evaluate(() => {
    window.rw.seqs = [];
    window.rw.client.subscribe({ token: "*" }, ["TASK", "FLOW"], (events) => { for (const e of events) window.rw.seqs.push(e.seq); });
  });
  await waitLive(p);
  const { next: since } = await sim.control("_sim/log?since=0&limit=1");
  await executeBurst("c0c0c0c0-0000-4000-8000-000000000001", "order_1");
  await p.waitForFunction(() => window.rw.seqs.length >= 20);
  // The page is busy; halfway through it sends a ping, whose reply queues up behind the
  // frames that arrived meanwhile (and before those that follow).
  await p.evaluate(() => {
    const busy = (ms) => { const t = performance.now(); while (performance.now() - t < ms) { /* busy */ } };
    busy(150);
    window.rw.client.ping().then(() => { window.rw.atReply = window.rw.seqs.slice(); });
    busy(150);
  });
  await p.waitForFunction(() => window.rw.atReply !== undefined);
  const log = (await sim.control(`_sim/log?since=${since}&limit=50000`)).entries;
  const pong = log.find((e) => e.kind === "response" && e.command === "rrext_ping");
  assert.ok(pong, `the simulator answered the ping: ${[...new Set(log.map((e) => e.command).filter(Boolean))]}`);
  const before = log.filter((e) => e.conn === pong.conn && e.kind === "event" && !e.fault && e.seq < pong.seq
    && (e.event === "apaevt_flow" || e.event === "apaevt_task")).map((e) => e.seq);
  const atReply = new Set(await p.evaluate(() => window.rw.atReply));
  assert.ok(before.length >= 20, `events were sent before the reply (${before.length})`);
  const late = before.filter((s) => !atReply.has(s));
  assert.deepEqual(late, [], "every event sent before the reply reached its callback before the reply's promise settled");
  assertNoPageErrors(p);
});
