// Typings and runtime agree for fleet-rlm: every value a FleetRlmClient hands an app in a
// session against runwatch-sim's fleet side (chat and execution frames, state changes,
// diagnostics, turns and runs snapshots, command and probe results, thrown errors) is
// written out as a typed constant and must pass `tsc --strict --exactOptionalPropertyTypes`
// against the generated declarations, as tests/types/runtime.test.mjs does for RocketRide.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT, PKG_DIR } from "../support/paths.mjs";
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { assertValuesTypecheck } from "../support/typecheck.mjs";

const OUT_DIR = path.join(REPO_ROOT, "target", "types-fleet-runtime");
let server, browser, sim;
/** Every value collected: { type, origin, value }. */
const values = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", "runwatch.d.ts")),
    "pkg/dist/runwatch.d.ts is missing; build it with: bash scripts/build-pkg.sh");
  server = await startServer();
  browser = await launchBrowser();
  sim = await startSim({ args: ["--fleet-auth-required", "--fleet-pace", "0.2"] });
});

after(async () => {
  await sim?.stop();
  await browser?.close();
  await server?.close();
});

test("a fleet-rlm session's values are collected from the built package", async () => {
  const { access_token: token } = await sim.control("fleet/token", { tenant: "acme", user: "ada" });
  const base = `http://127.0.0.1:${sim.port}`;
  const page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  await page.evaluate(async ({ base, token }) => {
    const { default: init, FleetRlmClient } = await import("runwatch/fleet-rlm");
    await init();
    const fw = (window.fw = { out: [] });
    const put = (type, origin, value) => fw.out.push({ type, origin, value });
    const plain = (e) => ({ name: e.name, message: e.message, ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== "stack")) });
    fw.record = (client, label) => {
      client.onState((s) => put("FleetStateChange", `${label} state`, s));
      client.onDiagnostic((d) => put("FleetDiagnostic", `${label} diagnostic`, d));
      if (client.chatState !== undefined) {
        client.onChat((frames) => frames.forEach((f) => put("FleetChatDelivered", `${label} chat ${f.type}/${f.kind ?? ""}`, f)));
        client.turns.subscribe(() => put("TurnsSnapshot", `${label} turns`, client.turns.getSnapshot()));
      }
      if (client.eventsState !== undefined) {
        client.onExecution((frames) => frames.forEach((f) => put("FleetExecutionDelivered", `${label} execution ${f.type}`, f)));
        client.runs.subscribe(() => put("RunsSnapshot", `${label} runs`, client.runs.getSnapshot()));
      }
    };
    fw.result = async (type, origin, promise) => {
      try { put(type, origin, await promise); } catch (e) { put(e.name === "RunwatchHttpError" ? "Thrown<RunwatchHttpError>" : "Thrown<RunwatchRequestError>", `${origin} rejected`, plain(e)); }
    };
    fw.thrown = (origin, f) => { try { f(); } catch (e) { put("Thrown<RunwatchError>", origin, plain(e)); } };
    fw.client = new FleetRlmClient({ url: base, auth: token, reconnect: { minDelayMs: 100, maxDelayMs: 300 }, stallAfterMs: 300 });
    fw.record(fw.client, "client");
    fw.put = put;
  }, { base, token });
  const live = () => page.waitForFunction(() => window.fw.client.chatState === "live" && window.fw.client.eventsState === "live");
  const ended = () => page.waitForFunction(() => !["sent", "running"].includes(window.fw.client.turns.getSnapshot().turns.at(-1)?.state)
    && window.fw.client.runs.getSnapshot().runs.at(-1)?.status !== "running");
  await live();
  for (const message of ["a normal turn", "a failing turn #error", "a question #hitl", "cancel me #cancel=60"]) {
    await page.evaluate((m) => window.fw.client.send(m), message);
    await ended();
  }
  await page.evaluate(() => window.fw.client.send("ask and wait #hitl_wait"));
  await page.waitForFunction(() => window.fw.client.turns.getSnapshot().turns.at(-1)?.hitl.length > 0);
  await page.evaluate(async () => {
    const { fw } = window;
    const prompt = fw.client.turns.getSnapshot().turns.at(-1).hitl[0];
    await fw.result("HitlResolution", "resolveHitl", fw.client.resolveHitl(prompt.messageId, prompt.options[0]));
  });
  await ended();
  // The events socket dropped mid-run (resync), and silenced during a turn (stalled).
  const sessionId = await page.evaluate(() => window.fw.client.sessionId);
  const eventsConn = async () => (await sim.control("fleet/connections")).find((c) => c.role === "events" && c.session_id === sessionId);
  await page.evaluate(() => window.fw.client.send("long #long=300"));
  await page.waitForFunction(() => window.fw.client.runs.getSnapshot().runs.at(-1)?.steps >= 2);
  await sim.control("faults", { kind: "drop_all", conn: (await eventsConn()).id });
  await page.waitForFunction(() => window.fw.out.some((v) => v.value.kind === "resync"));
  await ended();
  await live();
  await sim.control("faults", { kind: "half_open", conn: (await eventsConn()).id, seconds: 2 });
  await page.evaluate(() => window.fw.client.send("unheard"));
  await page.waitForFunction(() => window.fw.out.some((v) => v.value.kind === "stalled"));
  await ended();
  await page.evaluate(async () => {
    const { fw } = window;
    const c = fw.client;
    const trace = c.turns.getSnapshot().turns.find((t) => t.finalPayload?.mlflowTraceId)?.finalPayload.mlflowTraceId;
    await fw.result("Health", "health", c.health());
    await fw.result("Ready", "ready", c.ready());
    await fw.result("ConnectivityTest", "testLm", c.testLm());
    await fw.result("ConnectivityTest", "testDaytona", c.testDaytona());
    await fw.result("RuntimeStatus", "runtimeStatus", c.runtimeStatus());
    await fw.result("Identity", "me", c.me());
    await fw.result("FeedbackResponse", "traceFeedback", c.traceFeedback({ traceId: trace, isCorrect: true, expectedResponse: "x" }));
    await fw.result("FeedbackResponse", "traceFeedback unknown", c.traceFeedback({ traceId: "nope", isCorrect: false }));
    await fw.result("unknown", "command", c.command("list_files", {}));
    await fw.result("unknown", "command timeout", c.command("list_files", {}, 1));
    fw.thrown("send blank", () => c.send(" "));
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    fw.thrown("bad option", () => new FleetRlmClient({ url: "http://x", nope: 1 }));
    fw.put("FleetStats", "stats", c.stats());
    c.close();
    await fw.result("unknown", "command after close", c.command("list_files"));
  });
  await page.evaluate(async ({ base }) => {
    const { fw } = window;
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    const refused = new FleetRlmClient({ url: base, auth: "eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJ4In0.c2ln" });
    fw.record(refused, "refused");
    await new Promise((r) => setTimeout(r, 800));
    await fw.result("RuntimeStatus", "runtimeStatus refused", refused.runtimeStatus());
    refused.close();
  }, { base });
  const out = await page.evaluate(() => window.fw.out);
  values.push(...out);
  assertNoPageErrors(page, { allowConsole: /^Failed to load resource: the server responded with a status of (401|404)/ });
  await page.close();
  const types = new Set(out.map((v) => v.type));
  for (const t of ["FleetChatDelivered", "FleetExecutionDelivered", "FleetStateChange", "FleetDiagnostic", "TurnsSnapshot", "RunsSnapshot", "HitlResolution", "Health", "RuntimeStatus", "Thrown<RunwatchHttpError>", "Thrown<RunwatchError>", "Thrown<RunwatchRequestError>"]) {
    assert.ok(types.has(t), `no ${t} collected`);
  }
});

test("tsc accepts every collected fleet-rlm value against the generated declarations", () => {
  assert.ok(values.length > 50, `only ${values.length} values collected`);
  const header = [
    "// Generated by tests/types/fleet-runtime.test.mjs: values the built package handed to an app.",
    'import type { FleetChatDelivered, FleetExecutionDelivered, FleetStateChange, FleetDiagnostic, TurnsSnapshot, RunsSnapshot, HitlResolution, Health, Ready, ConnectivityTest, RuntimeStatus, Identity, FeedbackResponse, FleetStats, RunwatchError, RunwatchRequestError, RunwatchHttpError } from "runwatch/fleet-rlm";',
    "type Thrown<E> = E extends unknown ? Omit<E, \"stack\" | \"cause\"> : never;",
    "// @ts-expect-error: null is not absent",
    'export const control0: FleetExecutionDelivered = { epoch: 1, type: "execution_started", runId: "r", workspaceId: "w", userId: "u", sessionId: "s", bogus: null };',
  ];
  assertValuesTypecheck({ outDir: OUT_DIR, header, values });
});
