// Typings and runtime agree: real values that reach an app — every event, diagnostic, state
// change, command result and thrown error of a session — are collected from the built package
// in headless Chromium and checked against the package's generated declarations
// (pkg/dist/runwatch.d.ts) by the TypeScript compiler itself: each value is written out as a
// typed constant (`const v: Delivered = <the value as received>`), and `tsc --strict
// --exactOptionalPropertyTypes` must accept every one. So a `null` where the typings say
// `?: T`, a missing required field, a wrong kind (number vs string vs object) or a field the
// typings do not declare at all fails, with the value's origin named in the error.
//
// Sources: the spec's sample session (replayed to the page through a routed WebSocket, plus
// the frames the sample leaves out: every DETAIL event, every dashboard action, the account
// event, an unknown event, newer-server stamps and an undeclared field), and the simulator,
// both as the spec's server and as the newer server (`runwatch-sim --newer`: eventTime,
// logSeq, beginSeq, final).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT, PKG_DIR } from "../support/paths.mjs";
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { assertValuesTypecheck } from "../support/typecheck.mjs";

const KEY = "sim-key";
const SAMPLE = fs.readFileSync(path.join(REPO_ROOT, "tests/fixtures/rocketride-sample.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const OUT_DIR = path.join(REPO_ROOT, "target", "types-runtime");

let server, browser;
/** Every value collected: { type: the declared type to check against, origin, value }. */
const values = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", "runwatch.d.ts")),
    "pkg/dist/runwatch.d.ts is missing; build it with: bash scripts/build-pkg.sh");
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens a page with the package loaded and a recorder in `window.rw`. */
async function openPage() {
  const page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  await page.evaluate(async () => {
    const { default: init, RocketRideClient } = await import("runwatch");
    await init();
    const rw = (window.rw = { events: [], diags: [], states: [], results: [], errors: [] });
    const plain = (e) => ({ name: e.name, message: e.message,
      ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== "stack")) });
    rw.start = (url, options = {}) => {
      rw.client = new RocketRideClient({ url, auth: "sim-key", reconnect: { minDelayMs: 50, maxDelayMs: 500 }, ...options });
      rw.client.onState((s) => rw.states.push(s));
      rw.client.onDiagnostic((d) => rw.diags.push(d));
      rw.client.subscribe({ token: "*" }, ["ALL"], (events) => rw.events.push(...events));
    };
    rw.result = async (type, promise) => {
      try { rw.results.push({ type, value: await promise }); } catch (e) { rw.errors.push({ type: "RunwatchRequestError", value: plain(e) }); }
    };
    rw.throws = (fn) => { try { fn(); } catch (e) { rw.errors.push({ type: "RunwatchError", value: plain(e) }); } };
    rw.RocketRideClient = RocketRideClient;
  });
  return page;
}

/** Moves what the page recorded into `values`, labelled with where it came from. */
async function collect(page, origin) {
  const rw = await page.evaluate(() => {
    const { events, diags, states, results, errors } = window.rw;
    return JSON.parse(JSON.stringify({ events, diags, states, results, errors }));
  });
  rw.events.forEach((v, i) => values.push({ type: "Delivered", origin: `${origin} event #${i} (${v.type})`, value: v }));
  rw.diags.forEach((v, i) => values.push({ type: "Diagnostic", origin: `${origin} diagnostic #${i} (${v.kind})`, value: v }));
  rw.states.forEach((v, i) => values.push({ type: "StateChange", origin: `${origin} state #${i}`, value: v }));
  rw.results.forEach((r, i) => values.push({ type: r.type, origin: `${origin} ${r.type} result #${i}`, value: r.value }));
  rw.errors.forEach((r, i) => values.push({ type: `Thrown<${r.type}>`, origin: `${origin} thrown ${r.type} #${i}`, value: r.value }));
  return rw;
}

test("sample session frames (and the ones it leaves out) reach the app as declared", async () => {
  const page = await openPage();
  const url = "ws://sample.invalid:5565/task/service";
  const [sampleAuth] = SAMPLE.filter((f) => f.type === "response" && f.command === "auth");
  const sampleEvents = SAMPLE.filter((f) => f.type === "event");
  const task = { __id: "bee3a8ea.chat_1" };
  const stamps = (i) => ({ eventTime: 1780052401.25 + i, logSeq: 400 + i, project_id: "6f1c2d3e", source: "chat_1" });
  const metrics = sampleEvents.find((f) => f.event === "apaevt_status_update").body.metrics;
  const extraEvents = [
    ["apaevt_status_object", { object: "a.pdf", size: 12, ...task }],
    ["apaevt_status_counts", { totalSize: 1, totalCount: 2, completedSize: 3, completedCount: 4, failedSize: 0, failedCount: 0, wordsSize: 7, wordsCount: 8, rateSize: 9, rateCount: 10, ...task }],
    ["apaevt_status_error", { message: "boom", ...task }],
    ["apaevt_status_warning", { message: "hmm", ...task }],
    ["apaevt_status_message", { message: "ok", ...task }],
    ["apaevt_status_download", { info: { name: "model", status: "50%", error: null }, ...task }],
    ["apaevt_status_metrics", { metrics, ...task }],
    ["apaevt_status_user", { notes: ["plain", { token: "tk_x" }], ...task }],
    ["apaevt_status_info", { info: { version: 3 }, ...task }],
    ["apaevt_dashboard", { action: "connection_added", timestamp: 1.5, connectionId: 7, clientName: "x", clientVersion: null, clientId: null, __id: "" }],
    ["apaevt_dashboard", { action: "connection_removed", timestamp: 1.5, connectionId: 7, clientName: null, clientVersion: null, __id: "" }],
    ["apaevt_dashboard", { action: "monitor_changed", timestamp: 1.5, connectionId: 7, clientName: null, clientVersion: "1", key: "<all>", change: "subscribed", __id: "" }],
    ["apaevt_dashboard", { action: "auth_failed", timestamp: 1.5, connectionId: 8, reason: "Invalid API key", code: 401, __id: "" }],
    ["apaevt_dashboard", { action: "task_removed", timestamp: 1.5, taskId: "bee3a8ea.chat_1", __id: "" }],
    ["apaevt_dashboard", { action: "task_error", timestamp: 1.5, taskId: "bee3a8ea.chat_1", exitCode: 1, exitMessage: null, __id: "" }],
    ["apaevt_dashboard", { action: "connection_updated", timestamp: 1.5, __id: "" }],
    ["apaext_account", { userId: "local", apps: [] }],
    ["apaevt_brand_new", { thing: 1, ...task }],
    ["apaevt_flow", { id: 0, op: "begin", pipes: ["Question 1"], trace: {}, project_id: "p", source: "chat_1", ...task }],
    ["apaevt_flow", { id: 0, op: "leave", pipes: ["Question 1"], trace: { lane: "text", data: { length: 5 }, result: "continue" }, component: "parse_1", project_id: "p", source: "chat_1", ...task }],
    ["apaevt_flow", { id: 0, op: "end", pipes: [], trace: { result: { answers: [] } }, project_id: "p", source: "chat_1", ...task }],
  ];
  // Each sample event again as a newer server sends it: stamped, plus a field no SDK knows.
  const newer = sampleEvents.map((f, i) => [f.event, { ...f.body, ...(f.body.__id ? stamps(i) : {}), brandNewField: { n: i } }]);
  newer.push(["apaevt_task", { action: "begin", name: "A.chat_1", projectId: "p", project_id: "p", source: "chat_1", beginSeq: null, ...stamps(90), ...task }]);
  newer.push(["apaevt_status_update", { ...sampleEvents.find((f) => f.event === "apaevt_status_update").body, final: true, ...stamps(91),
    componentStats: { parse_1: { calls: 2, totalSeconds: 0.5, maxSeconds: 0.25 } },
    slowestDocs: [{ name: "a.pdf", elapsed: 0.25, beginTime: 1780052401.5, beginSeq: 12 }],
    completionSeconds: 3.5, idleSeconds: 0.5, idleLongestSeconds: 0.25, idleLongestAt: 1780052402.0 }]);

  await page.routeWebSocket(url, (ws) => {
    let seq = 0;
    const send = (frame) => ws.send(JSON.stringify({ ...frame, seq: ++seq }));
    const reply = (req, body, extra = {}) => send({ type: "response", request_seq: req.seq, command: req.command, success: true, ...(body === undefined ? {} : { body }), ...extra });
    ws.onMessage((text) => {
      const req = JSON.parse(text);
      switch (req.command) {
        case "auth": return reply(req, sampleAuth.body);
        case "rrext_monitor":
          reply(req);
          for (const f of sampleEvents) send({ type: "event", event: f.event, body: f.body });
          for (const [event, body] of [...extraEvents, ...newer]) send({ type: "event", event, body });
          return;
        case "rrext_ping": return reply(req, { pong: true });
        default: return send({ type: "response", request_seq: req.seq, command: req.command, success: false, message: "Your pipeline is not running", trace: { file: "task_server.py", lineno: 674 } });
      }
    });
  });

  const expected = sampleEvents.length + extraEvents.length + newer.length;
  await page.evaluate((u) => window.rw.start(u, { allowInsecure: true }), url);
  await page.waitForFunction((n) => window.rw.events.length >= n, expected);
  await page.evaluate(async () => {
    const { rw } = window;
    await rw.result("TaskStatus", rw.client.getTaskStatus("tk_00000000000000000000000000000000"));
    await rw.result("PingResult", rw.client.ping());
    await rw.result("unknown", rw.client.request("rrext_ping", {}, 0));
    rw.throws(() => rw.client.subscribe({ token: "*" }, ["SUMARY"], () => {}));
    rw.throws(() => rw.client.subscribe({ token: "*" }, "SUMMARY", () => {}));
    rw.throws(() => rw.client.subscribe({ nope: 1 }, ["TASK"], () => {}));
    rw.throws(() => new rw.RocketRideClient({ url: "ws://remote.example", auth: "k" }));
    rw.throws(() => new rw.RocketRideClient({ url: "ws://127.0.0.1", auth: 3 }));
    rw.throws(() => new rw.RocketRideClient({ url: "ws://127.0.0.1", auth: "k", colour: "red" }));
    rw.client.close();
    await rw.result("PingResult", rw.client.ping());
  });
  const rw = await collect(page, "sample");
  assertNoPageErrors(page);
  await page.close();

  // What this source must have covered.
  const kinds = new Set(rw.events.map((e) => e.type === "flow" ? `flow/${e.op}` : e.type === "dashboard" ? `dashboard/${e.action}` : e.type));
  for (const k of ["task", "taskStatus", "flow/begin", "flow/enter", "flow/leave", "flow/end", "sse", "output", "statusObject", "statusCounts",
    "statusError", "statusWarning", "statusMessage", "statusDownload", "statusMetrics", "statusUser", "statusInfo", "dashboard/task_error",
    "dashboard/connection_added", "dashboard/monitor_changed", "dashboard/auth_failed", "dashboard/task_removed", "account", "unknown"]) {
    assert.ok(kinds.has(k), `no ${k} event reached the app; got ${[...kinds].join(", ")}`);
  }
  const codes = rw.errors.map((e) => e.value.code).sort();
  assert.deepEqual(codes, ["closed", "invalidAuth", "invalidOptions", "invalidScope", "invalidTypes", "invalidTypes", "invalidUrl", "server", "timeout"].sort());
  // A field no SDK declares is readable, and stamps arrive typed.
  const stamped = rw.events.find((e) => e.type === "output" && e.extra);
  assert.deepEqual(stamped.extra, { brandNewField: { n: sampleEvents.findIndex((f) => f.event === "output") } });
  assert.equal(typeof stamped.logSeq, "number");
  assert.equal(rw.events.find((e) => e.type === "dashboard" && e.action === "task_error").exitMessage, undefined, "null on the wire = absent");
});

for (const newerServer of [false, true]) {
  test(`simulator${newerServer ? " --newer" : ""} session reaches the app as declared`, async () => {
    const sim = await startSim({ args: ["--api-key", KEY, ...(newerServer ? ["--newer"] : [])] });
    try {
      const page = await openPage();
      await page.evaluate((u) => window.rw.start(u), sim.url);
      await page.waitForFunction(() => window.rw.client.state === "live");
      const run = await sim.control("_sim/execute", { projectId: "proj-types", source: "chat_1", name: "Types", pipelineTraceLevel: "full", ttl: 0 });
      await page.waitForFunction(() => window.rw.events.some((e) => e.type === "flow" && e.op === "leave"));
      await page.evaluate(async ({ token }) => {
        const { rw } = window;
        await rw.result("DashboardSnapshot", rw.client.dashboard());
        await rw.result("TaskStatus", rw.client.getTaskStatus(token));
        await rw.result("TokenResult", rw.client.getToken("proj-types", "chat_1"));
        await rw.result("ExecuteResult", rw.client.execute({
          pipeline: { source: "svc_1", project_id: "proj-exec", components: [{ id: "svc_1", provider: "webhook", config: {} }] },
          pipelineTraceLevel: "metadata", name: "Exec",
        }));
        await rw.result("TaskStatus", rw.client.getTaskStatus("tk_00000000000000000000000000000000"));
      }, run);
      await sim.control("_sim/terminate", { token: run.token });
      await page.waitForFunction(() => window.rw.events.some((e) => e.type === "task" && e.action === "end"));
      await page.evaluate(async () => { const { rw } = window; await rw.result("DashboardSnapshot", rw.client.dashboard()); rw.client.close(); });
      const rw = await collect(page, newerServer ? "sim --newer" : "sim");
      assertNoPageErrors(page);
      await page.close();
      const types = new Set(rw.events.map((e) => e.type));
      for (const t of ["task", "taskStatus", "flow"]) assert.ok(types.has(t), `no ${t} event from the simulator`);
      assert.equal(rw.results.length, 5, JSON.stringify(rw.errors));
      assert.deepEqual(rw.errors.map((e) => e.value.code), ["server"], "the unknown token is refused");
      if (newerServer) {
        assert.ok(rw.events.some((e) => typeof e.logSeq === "number" && typeof e.eventTime === "number"), "stamps reach the app");
        assert.ok(rw.events.some((e) => e.type === "taskStatus" && e.final === true), "the final status says so");
      }
    } finally {
      await sim.stop();
    }
  });
}

test("tsc accepts every collected value against the generated declarations", () => {
  assert.ok(values.length > 100, `only ${values.length} values collected`);
  const header = [
    "// Generated by tests/types/runtime.test.mjs: values the built package handed to an app.",
    'import type { Delivered, Diagnostic, StateChange, TaskStatus, DashboardSnapshot, TokenResult, PingResult, ExecuteResult, RunwatchError, RunwatchRequestError } from "runwatch";',
    "type Thrown<E> = E extends unknown ? Omit<E, \"stack\" | \"cause\"> : never;",
    "void (0 as unknown as RunwatchError), (0 as unknown as RunwatchRequestError);",
    // The check itself must catch the old bug: `null` where the typings say `?:`.
    "// @ts-expect-error: null is not absent",
    'export const control0: Delivered = { epoch: 1, type: "output", taskId: "t", category: "console", output: "", source: null };',
    "// @ts-expect-error: a field the typings do not declare",
    'export const control1: Delivered = { epoch: 1, type: "output", taskId: "t", category: "console", output: "", bogus: 1 };',
  ];
  assertValuesTypecheck({ outDir: OUT_DIR, header, values });
});
