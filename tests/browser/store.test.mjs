// The task store (`client.tasks()`) through the built package in headless Chromium against
// runwatch-sim: runs of one pipeline told apart, status/flow/output per run, a simulator
// restart, a late joiner seeded from the server, and the listener contract that React's
// useSyncExternalStore relies on (same snapshot object until a change, one call per batch).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BLANK_PAGE } from "../support/server.mjs";
import { assertNoPageErrors, BROWSER_WS_FAILURE } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

const KEY = "sim-key";
const TYPES = ["TASK", "SUMMARY", "FLOW", "OUTPUT", "DETAIL", "SSE"]; // the store's defaults
let server, browser, sim, page;

useBrowserFixture({
  simArgs: ["--api-key", KEY],
  ready: (f) => ({ server, browser, sim } = f),
  openPage: () => page,
  pageClosed: () => { page = undefined; },
});

/**
 * A page with a client, a store of `scope`, and beside it a raw subscription of the same
 * scope and types (the store's batches are the raw subscription's batches). The store's
 * listener records, on every call, the snapshot it reads.
 */
async function openStore(scope) {
  page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  await page.evaluate(
    async ({ url, key, scope, types }) => {
      const { default: init, RocketRideClient } = await import("runwatch");
      await init();
      const rw = (window.rw = { diags: [], rawBatches: 0, calls: [] });
      rw.client = new RocketRideClient({ url, auth: key, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
      rw.client.onDiagnostic((d) => rw.diags.push(d));
      rw.client.subscribe(scope ?? { token: "*" }, types, () => { rw.rawBatches += 1; });
      rw.store = scope ? rw.client.tasks(scope) : rw.client.tasks();
      // Detached, as useSyncExternalStore(store.subscribe, store.getSnapshot) uses them.
      const { subscribe, getSnapshot } = rw.store;
      rw.unsubscribe = subscribe(() => {
        const snap = getSnapshot();
        rw.calls.push({ version: snap.version, same: snap === getSnapshot(), frozen: Object.isFrozen(snap) && Object.isFrozen(snap.runs), rawBatches: rw.rawBatches });
      });
      rw.snap = () => rw.store.getSnapshot();
    },
    { url: sim.url, key: KEY, scope, types: TYPES },
  );
  return page;
}

const waitLive = (p) => p.waitForFunction(() => window.rw.client.state === "live");

async function execute(projectId, source, extra = {}) {
  return sim.control("_sim/execute", { projectId, source, name: `${source} run`, pipelineTraceLevel: "summary", ...extra });
}

/** Waits until `predicate(snapshot)` holds in the page; returns that snapshot. */
async function waitSnap(p, predicate, arg) {
  await p.waitForFunction(
    ({ src, arg }) => new Function("s", "arg", `return (${src})(s, arg)`)(window.rw.snap(), arg),
    { src: predicate.toString(), arg },
    { timeout: 20_000 },
  );
  return p.evaluate(() => window.rw.snap());
}

test("two runs of one pipeline are two runs, each with its status, flow and output; a simulator restart ends the live one", async () => {
  const p = await openStore({ projectId: "proj-store", source: "chat_1" });
  await waitLive(p);
  assert.deepEqual(await p.evaluate(() => window.rw.snap().runs), [], "the \"Not running\" seed is no run");

  await execute("proj-store", "chat_1", { durationMs: 2500 });
  const first = await waitSnap(p, (s) => s.runs.length === 1 && s.runs[0].lifecycle.ended && s.runs[0].output.length > 0);

  await execute("proj-store", "chat_1", { durationMs: 120_000 });
  const second = await waitSnap(
    p,
    (s) => s.runs.length === 2 && s.runs[1].phase === "running" && s.runs[1].flow.length > 0 && s.runs[1].output.length > 0,
  );
  const [a, b] = second.runs;
  assert.equal(a.taskId, b.taskId, "tokens and task ids repeat across runs");
  assert.match(a.taskId, /^[0-9a-f]{8}\.chat_1$/);
  assert.notEqual(a.startTime, b.startTime, "startTime tells the runs apart");
  assert.ok(a.startTime > 0 && b.startTime > a.startTime);
  assert.ok(b.runId > a.runId);
  assert.equal(a.phase, "ended");
  assert.ok(["status", "end"].includes(a.lifecycle.endedBy), a.lifecycle.endedBy);
  assert.ok(a.lifecycle.begun && b.lifecycle.begun);
  assert.ok(["completed", "cancelled"].includes(a.status.state));
  assert.equal(b.status.state, "running");
  assert.equal(b.projectId, "proj-store");
  assert.equal(b.source, "chat_1");
  assert.ok(b.flow.every((pipe) => typeof pipe.pipeId === "number" && Array.isArray(pipe.stack)));
  assert.ok(b.output.every((line) => typeof line === "string" && !line.endsWith("\n")));
  assert.equal(b.stale, false);
  assert.ok(!("endedBy" in b.lifecycle), "absent values are missing keys");
  assert.deepEqual(first.runs[0].startTime, a.startTime);
  // The ended run did not change, so it is the very same object in every later snapshot.
  assert.ok(await p.evaluate(() => window.rw.snap().runs[0] === window.rw.snap().runs[0]));
  const same = await p.evaluate(async () => {
    const before = window.rw.snap();
    const v = before.version;
    const t0 = performance.now();
    while (window.rw.snap().version === v && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    const after = window.rw.snap();
    return { changed: after !== before, first: after.runs[0] === before.runs[0], second: after.runs[1] === before.runs[1] };
  });
  assert.deepEqual(same, { changed: true, first: true, second: false }, "only the changed run gets a new object");

  // The listener contract: each call sees a new version, reads one stable frozen snapshot,
  // and there is never more than one call per delivery batch.
  const calls = await p.evaluate(() => window.rw.calls);
  const rawBatches = await p.evaluate(() => window.rw.rawBatches);
  assert.ok(calls.length >= 3, `listener calls: ${calls.length}`);
  assert.ok(calls.every((c) => c.same && c.frozen));
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i].version > calls[i - 1].version, "a call only after a change");
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i].rawBatches > calls[i - 1].rawBatches, "at most one call per batch");
  assert.ok(calls.length <= rawBatches);

  // The engine dies with run 2 live and comes back without it: the store keeps both runs,
  // marks run 2 ended (the re-seed after the reconnect no longer lists it), and tracks the
  // run started afterwards as a third run.
  await sim.restart({ signal: "SIGKILL" });
  await p.waitForFunction(() => window.rw.diags.some((d) => d.kind === "resync"), null, { timeout: 20_000 });
  await waitLive(p);
  const afterRestart = await waitSnap(p, (s) => s.runs.length === 2 && s.runs[1].lifecycle.ended);
  assert.equal(afterRestart.runs[1].lifecycle.endedBy, "notRunning");
  assert.equal(afterRestart.runs[1].startTime, b.startTime);
  await execute("proj-store", "chat_1", { durationMs: 120_000 });
  const third = await waitSnap(p, (s) => s.runs.length === 3 && s.runs[2].phase === "running" && s.runs[2].output.length > 0);
  assert.equal(third.runs[2].taskId, a.taskId);
  assert.ok(third.runs[2].startTime > b.startTime);
  assert.equal(new Set(third.runs.map((r) => r.startTime)).size, 3);
  assert.equal(third.runs.filter((r) => !r.lifecycle.ended).length, 1);
  const stats = await p.evaluate(() => window.rw.store.stats());
  assert.ok(stats.resyncs >= 1 && stats.runsCreated === 3 && stats.runsEvicted === 0, JSON.stringify(stats));
  await sim.control("_sim/terminate", { token: await tokenOf("proj-store", "chat_1") });
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
});

test("a store created while a run is live is seeded, and close() stops it", async () => {
  const started = await execute("proj-late", "webhook_1", { durationMs: 120_000 });
  const p = await openStore(undefined); // { token: "*" }: no SUMMARY seed, but the TASK `running` seed
  await waitLive(p);
  const seeded = await waitSnap(p, (s) => s.runs.some((r) => r.projectId === "proj-late" && r.startTime !== undefined && r.status));
  const run = seeded.runs.find((r) => r.projectId === "proj-late");
  assert.equal(run.taskId, started.id);
  assert.equal(run.lifecycle.listed, true, "opened from the running seed, then adopted by the first status");
  assert.equal(seeded.runs.filter((r) => r.projectId === "proj-late").length, 1);
  // Removing the listener twice is fine; close() ends the subscription and freezes the view.
  const result = await p.evaluate(async () => {
    const rw = window.rw;
    rw.unsubscribe();
    rw.unsubscribe();
    const calls = rw.calls.length;
    rw.store.close();
    rw.store.close();
    const v = rw.snap().version;
    await new Promise((r) => setTimeout(r, 2500)); // ~2 statuses of the live run
    return { calls: rw.calls.length - calls, moved: rw.snap().version !== v, closed: rw.store.closed };
  });
  assert.deepEqual(result, { calls: 0, moved: false, closed: true });
  const servers = (await sim.control("_sim/connections")).filter((c) => c.authenticated);
  const keys = servers.flatMap((c) => c.monitors.map((m) => `${m.key}:${m.mask}`));
  // The raw subscription beside the store still holds `*`, with the same types.
  assert.ok(keys.includes(`*:${4 | 2 | 8 | 16 | 32 | 64}`), keys.join(" "));
  await sim.control("_sim/terminate", { token: started.token });
  assertNoPageErrors(p);
});

test("bad arguments throw RunwatchError", async () => {
  const p = await openStore(undefined);
  const errors = await p.evaluate(() => {
    const attempt = (...args) => {
      try {
        window.rw.client.tasks(...args).close();
        return null;
      } catch (e) {
        return `${e.name}/${e.code}`;
      }
    };
    const bad = (f) => { try { f(); return null; } catch (e) { return `${e.name}/${e.code}`; } };
    return [
      attempt({ projectId: "p" }),
      attempt({ token: "*" }, { maxRun: 3 }),
      attempt({ token: "*" }, { types: ["SUMARY"] }),
      attempt({ token: "*" }, { types: ["SUMMARY"], maxRuns: 3 }),
      bad(() => window.rw.store.subscribe(42)),
    ];
  });
  assert.deepEqual(errors, [
    "RunwatchError/invalidScope",
    "RunwatchError/invalidOptions",
    "RunwatchError/invalidTypes",
    null,
    "RunwatchError/invalidListener",
  ]);
});

async function tokenOf(projectId, source) {
  const tasks = await sim.control("_sim/tasks");
  return tasks.find((t) => t.projectId === projectId && t.source === source)?.token;
}
