// The dashboard (www/) as `bash scripts/demo.sh` serves it: built with Vite, served by
// www/serve.mjs (with the /_sim proxy and the extra scripted pipelines) against the
// simulator's demo scenario, driven in headless Chromium at 1280 and 390 px.
// Screenshots go to target/screenshots/dashboard-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { build } from "vite";
import { REPO_ROOT, TARGET_DIR, PKG_DIR } from "../support/paths.mjs";
import { launchBrowser, assertNoPageErrors, countPageSockets, BROWSER_WS_FAILURE } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { startDashboardServer } from "../../www/serve.mjs";
import { a11yBasics, noOverflow } from "../support/layout.mjs";

const SPEED = 2;
const DIST = path.join(TARGET_DIR, "www-dist-test");
const SHOTS = path.join(TARGET_DIR, "screenshots");
let sim, server, browser, page;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", "runwatch_bg.wasm")), "pkg/dist is missing; run scripts/build-pkg.sh");
  await build({ configFile: path.join(REPO_ROOT, "www/vite.config.js"), logLevel: "warn", build: { outDir: DIST, emptyOutDir: true } });
  sim = await startSim({ args: ["--scenario", "demo", "--speed", String(SPEED), "--fixed-exit-code"] });
  server = await startDashboardServer({ sim: `http://127.0.0.1:${sim.port}`, root: DIST, feed: true, speed: SPEED });
  browser = await launchBrowser();
  fs.mkdirSync(SHOTS, { recursive: true });
  page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await sim?.stop();
});

const runs = () => page.$$eval("[data-testid=run]", (els) => els.map((el) => ({
  runId: Number(el.getAttribute("data-run-id")),
  taskId: el.getAttribute("data-task-id"),
  outcome: el.getAttribute("data-outcome"),
  name: el.querySelector("[data-testid=run-name]")?.textContent ?? "",
  text: el.textContent ?? "",
  done: Number(el.getAttribute("data-done")),
})));

test("the dashboard type-checks against the package's typings (tsc -p www)", () => {
  const r = spawnSync(path.join(REPO_ROOT, "node_modules/.bin/tsc"), ["-p", "www", "--pretty", "false"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `tsc -p www failed:\n${r.stdout}${r.stderr}`);
});

test("the page loads, goes live, and tasks appear and progress", async () => {
  await page.goto(server.url);
  await page.waitForSelector("[data-testid=conn-state][data-state=live]");
  await page.waitForFunction((names) => {
    const shown = [...document.querySelectorAll("[data-testid=run-name]")].map((e) => e.textContent);
    return names.every((n) => shown.includes(n));
  }, ["Support Agent", "Document Ingest", "Web Crawler", "Nightly Reindex"], { timeout: 20_000 });
  // Objects completed, summed over every run shown, goes up.
  const done = () => page.$$eval("[data-testid=run]", (els) => els.reduce((n, el) => n + Number(el.getAttribute("data-done")), 0));
  const before = await done();
  await page.waitForFunction((n) => [...document.querySelectorAll("[data-testid=run]")]
    .reduce((sum, el) => sum + Number(el.getAttribute("data-done")), 0) > n + 3, before, { timeout: 15_000 });
  assert.ok((await runs()).some((r) => r.outcome === "running"));
  const body = await page.textContent("body");
  assert.doesNotMatch(body, /NaN|undefined|\[object Object\]/);
  assertNoPageErrors(page);
});

test("runs of the same pipeline are told apart, and a failing run shows its errors", async () => {
  // Invoice OCR (a scripted pipeline that exits 2 with errors) reruns every few seconds.
  const both = await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("[data-testid=run]")].filter((el) => el.querySelector("[data-testid=run-name]")?.textContent === "Invoice OCR");
    return rows.length >= 2 && rows.some((el) => el.getAttribute("data-outcome") === "failed")
      ? rows.map((el) => ({ task: el.getAttribute("data-task-id"), text: el.textContent })) : null;
  }, null, { timeout: 40_000 }).then((h) => h.jsonValue());
  assert.equal(new Set(both.map((r) => r.task)).size, 1, "the runs share their task id");
  assert.ok(both.some((r) => /run 1 ·/.test(r.text)) && both.some((r) => /run 2 ·/.test(r.text)), `run numbers: ${both.map((r) => r.text)}`);
  assert.ok(both.some((r) => /2 errors/.test(r.text)), `errors shown: ${both.map((r) => r.text)}`);
  assertNoPageErrors(page);
});

test("a task's status fields, plots and live flow update", async () => {
  const reindex = (await runs()).find((r) => r.name === "Nightly Reindex" && r.outcome === "running");
  assert.ok(reindex, "Nightly Reindex should be running (600 objects)");
  await page.click(`[data-run-id="${reindex.runId}"] a`);
  await page.waitForSelector(`[data-testid=task-view][data-run-id="${reindex.runId}"]`);
  await page.waitForSelector("[data-testid=status-fields]");
  const points = () => page.$eval("[data-testid=chart-rate]", (el) => Number(el.getAttribute("data-points")));
  const steps = () => page.$eval("[data-testid=flow-timeline]", (el) => Number(el.getAttribute("data-steps")));
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-rate]")?.getAttribute("data-points")) >= 2);
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=flow-timeline]")?.getAttribute("data-steps")) > 0);
  const [p0, s0] = [await points(), await steps()];
  await page.waitForFunction(([p, s]) =>
    Number(document.querySelector("[data-testid=chart-rate]")?.getAttribute("data-points")) > p &&
    Number(document.querySelector("[data-testid=flow-timeline]")?.getAttribute("data-steps")) > s, [p0, s0], { timeout: 15_000 });
  // uPlot drew its canvases; the flow stacks and the output tail are there.
  assert.equal(await page.$$eval("[data-testid=plots] canvas", (c) => c.length), 3);
  await page.waitForSelector("[data-testid=flow-stacks]");
  assert.match(await page.textContent("[data-testid=output-count]"), /^\d[\d,]* line/);
  assert.ok(await page.$$eval(".output-box .line", (l) => l.length) > 0, "output lines are rendered");
  await page.screenshot({ path: path.join(SHOTS, "dashboard-tasks-1280.png"), fullPage: true });
  assertNoPageErrors(page);
});

test("the output tail stays small in the DOM with thousands of lines", async () => {
  // A scripted pipeline that prints 3,000 lines as fast as the simulator runs it.
  const pipeline = {
    source: "flood_1", project_id: "f1f1f1f1-0000-4000-8000-000000000001",
    components: [{ id: "flood_1", provider: "webhook", config: { mode: "Source", type: "webhook",
      fake: { objects: 3000, interval: 0.002, pipes: 1, mode: "batch", sse: false } } }],
  };
  await sim.control("execute", { pipeline, name: "Output Flood", pipelineTraceLevel: "none" });
  await page.goto(`${server.url}#/tasks`);
  const row = await page.waitForSelector("[data-testid=run]:has([data-testid=run-name]:text-is('Output Flood')) a");
  await row.click();
  await page.waitForFunction(() => {
    const m = /^([\d,]+) line/.exec(document.querySelector("[data-testid=output-count]")?.textContent ?? "");
    return m && Number(m[1].replace(/,/g, "")) >= 3000;
  }, null, { timeout: 60_000 }).catch(async (e) => {
    throw new Error(`${e.message}; shown: ${await page.textContent("[data-testid=output-count]").catch(() => "?")}, url ${page.url()}`);
  });
  assert.match(await page.textContent("[data-testid=output-count]"), /oldest [\d,]+ dropped/);
  const lines = await page.$$eval(".output-box .line", (l) => l.length);
  assert.ok(lines > 0 && lines <= 60, `${lines} output lines in the DOM (virtualized: only the visible ones)`);
  // It follows the newest line, and scrolling to the top shows the oldest kept one.
  assert.match(await page.$eval(".output-box .line:last-child", (l) => l.textContent), /object-3000\.txt/);
  await page.$eval(".output-box", (el) => { el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); });
  // (2,000 lines are kept: the first one shown is line total − 1,999.)
  await page.waitForFunction(() => {
    const total = Number(/^([\d,]+)/.exec(document.querySelector("[data-testid=output-count]")?.textContent ?? "")?.[1]?.replace(/,/g, ""));
    const first = Number(document.querySelector(".output-box .line .ln")?.textContent);
    return total > 2000 && first === total - 1999;
  });
  // The page answers at once.
  const t0 = Date.now();
  await page.click("nav a[href='#/events']");
  await page.waitForSelector("#events-h");
  assert.ok(Date.now() - t0 < 2000, `switching tabs took ${Date.now() - t0} ms`);
  assertNoPageErrors(page);
});

test("the subscription panel adds and removes subscriptions and shows their server keys", async () => {
  await page.goto(`${server.url}#/subscriptions`);
  await page.waitForSelector("[data-testid=server-keys] tbody tr");
  await page.selectOption("select", "source");
  await page.fill("label:has-text('Project id') input", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a");
  await page.fill("label:has-text('Source') input", "upload_1");
  await page.getByRole("checkbox", { name: "OUTPUT" }).check();
  await page.getByRole("button", { name: "Subscribe" }).click();
  const key = "p.9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a.upload_1";
  await page.waitForFunction((k) => document.querySelector("[data-testid=maps-to]")?.textContent?.includes(k), key);
  await page.waitForFunction((k) => [...document.querySelectorAll("[data-testid=server-keys] td code")].some((c) => c.textContent === k), key);
  assert.match(await page.textContent("[data-testid=server-keys]"), /OUTPUT/);
  // The server holds it too.
  const [conn] = (await sim.control("connections")).filter((c) => c.clientName === "runwatch-dashboard");
  assert.ok(conn.monitors.some((m) => m.key.includes("upload_1")), JSON.stringify(conn.monitors));
  // It outlives a visit to another tab, and counts what it received meanwhile. That tab,
  // Faults, shows the server's registry by type name and that it is exactly what the SDK
  // believes it holds, this project key included.
  await page.click("nav a[href='#/faults']");
  await page.waitForFunction((k) => document.querySelector("[data-testid=sim-connections]")?.textContent?.includes(k), key);
  await page.waitForSelector("[data-testid=server-agrees][data-agree=true]");
  const held = await page.textContent("[data-testid=sim-connections]");
  assert.match(held, new RegExp(`${key.replaceAll(".", "\\.")} [A-Z, ]*OUTPUT`), held);
  assert.doesNotMatch(held, /\(\d+\)/, "types by name, not the bitmask");
  await page.click("nav a[href='#/subscriptions']");
  await page.waitForSelector("[data-testid=subscription]");
  await page.getByRole("button", { name: "Unsubscribe" }).click();
  await page.waitForFunction((k) => ![...document.querySelectorAll("[data-testid=server-keys] td code")].some((c) => c.textContent === k), key);
  // An invalid scope is refused by the SDK, and the page says so.
  await page.selectOption("select", "all");
  await page.getByRole("checkbox", { name: "TASK" }).uncheck();
  await page.getByRole("checkbox", { name: "SUMMARY" }).uncheck();
  await page.getByRole("checkbox", { name: "OUTPUT" }).uncheck();
  await page.getByRole("button", { name: "Subscribe" }).click();
  await page.waitForSelector("[role=alert]:has-text('invalidTypes')");
  assertNoPageErrors(page);
});

test("every fault from the panel is survived, and the page says how", { timeout: 240_000 }, async () => {
  await page.goto(`${server.url}#/faults`);
  await page.waitForSelector("button[data-fault=kill]:not([disabled])");
  const faults = await page.$$eval("button[data-fault]", (b) => b.map((x) => x.getAttribute("data-fault")));
  assert.deepEqual(faults, ["kill", "close", "half-open", "drop", "duplicate", "reorder", "garbage", "nan", "refuse", "restart"]);
  for (const fault of faults) {
    await page.waitForSelector("[data-testid=conn-state][data-state=live]", { timeout: 30_000 });
    // The NaN status reaches the store as `cpuPercent: null`; the task list says "—" (on
    // the Faults tab the list is not shown, so watch it from the Tasks tab for this one).
    // The next regular status of that task replaces it (the simulator holds it 400 ms), so
    // the "—" is transient: a MutationObserver notes, in page time, every change after which
    // a row that has a status (its rate reads a number, not "—") says "CPU —". None may
    // before the fault; one must within 5 s of asking the simulator for it.
    if (fault === "nan") {
      await page.click("nav a[href='#/tasks']");
      await page.waitForSelector("[data-testid=run]");
      const asked = await page.evaluate(() => {
        window.__nanShown = [];
        const look = () => {
          const hit = [...document.querySelectorAll("[data-testid=run]")].some((el) =>
            /CPU —/.test(el.textContent ?? "") && /^\d/.test(el.querySelector("[data-testid=rate]")?.textContent ?? ""));
          if (hit) window.__nanShown.push(performance.now());
        };
        window.__nanObserver = new MutationObserver(look);
        window.__nanObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
        look();
        return performance.now();
      });
      // The simulator holds that task's next regular status for 400 ms after the NaN one
      // (sim/src/inject.rs), so one NaN status must be drawn.
      await sim.control("faults", { kind: "nan" });
      const shownAfter = await page.evaluate((from) => new Promise((resolve) => {
        const check = () => {
          const at = window.__nanShown.find((t) => t >= from);
          if (at !== undefined) resolve(at - from);
          else if (performance.now() - from > 5000) resolve(null);
          else setTimeout(check, 20);
        };
        check();
      }), asked);
      await page.evaluate(() => window.__nanObserver.disconnect());
      assert.deepEqual(await page.evaluate((from) => window.__nanShown.filter((t) => t < from), asked), [], "no row said CPU — before the NaN status");
      assert.notEqual(shownAfter, null, "a NaN metric should read — within 5 s in the task list");
      assert.doesNotMatch(await page.textContent("body"), /NaN/);
      await page.click("nav a[href='#/faults']");
      await page.waitForSelector(`button[data-fault="nan"]:not([disabled])`);
    }
    await page.click(`button[data-fault="${fault}"]`);
    const entry = `[data-testid=fault-log] li[data-fault="${fault}"]`;
    await page.waitForSelector(`${entry}[data-status=recovered], ${entry}[data-status=survived], ${entry}[data-status=failed]`, { timeout: 60_000 });
    const [status, detail] = await page.$eval(entry, (li) => [li.getAttribute("data-status"), li.querySelector(".detail")?.textContent ?? ""]);
    assert.notEqual(status, "failed", `${fault}: ${detail}`);
    if (["kill", "close", "half-open", "refuse", "restart"].includes(fault)) assert.match(detail, /back live in .* on epoch \d+/, `${fault}: ${detail}`);
    if (fault === "drop") assert.match(detail, /gap\(s\)/, `drop: ${detail}`);
    if (fault === "duplicate") assert.match(detail, /duplicate\(s\) dropped/, `duplicate: ${detail}`);
    if (fault === "garbage") assert.match(detail, /decode error\(s\)/, `garbage: ${detail}`);
  }
  // After them all, the server holds exactly the keys and types the SDK believes it does.
  await page.waitForSelector("[data-testid=server-agrees][data-agree=true]", { timeout: 15_000 });
  await page.screenshot({ path: path.join(SHOTS, "dashboard-faults-1280.png"), fullPage: true });
  // The header says what the SDK went through.
  assert.ok(Number(await page.textContent("[data-testid=reconnects]")) >= 5);
  assert.match(await page.textContent("[data-testid=last-resync]"), /ago, offline/);
  assert.doesNotMatch(await page.textContent("[data-testid=gaps]"), /none/);
  // The server sees one dashboard connection, and tasks run again after the restart.
  const conns = (await sim.control("connections")).filter((c) => c.clientName === "runwatch-dashboard");
  assert.equal(conns.length, 1, JSON.stringify(conns));
  await page.goto(`${server.url}#/tasks`);
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=run]")].some((el) => el.getAttribute("data-outcome") === "running"), null, { timeout: 30_000 });
  assert.doesNotMatch(await page.textContent("body"), /NaN|undefined/);
  assertNoPageErrors(page, { allowConsole: BROWSER_WS_FAILURE });
});

test("no horizontal overflow at 1280 and 390 px on any tab; screenshots at both widths", async () => {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    for (const tab of ["tasks", "events", "subscriptions", "faults", "connect", "fleet"]) {
      await page.goto(`${server.url}#/${tab}`);
      await page.waitForSelector("[data-testid=conn-state][data-state=live]", { timeout: 30_000 });
      if (tab === "tasks") {
        await page.waitForSelector("[data-testid=task-view]");
        await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-rate]")?.getAttribute("data-points")) >= 2, null, { timeout: 20_000 });
      }
      await page.waitForTimeout(300);
      await noOverflow(page, `${tab} at ${width} px`);
      await a11yBasics(page, `${tab} at ${width} px`);
      if (width === 390 && (tab === "tasks" || tab === "faults") || tab === "events" || tab === "subscriptions") {
        await page.screenshot({ path: path.join(SHOTS, `dashboard-${tab}-${width}.png`), fullPage: true });
      }
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  assertNoPageErrors(page, { allowConsole: BROWSER_WS_FAILURE });
});

test("connecting by URL and key from the page: a wrong key fails visibly, the key stays out of the URL and storage", async () => {
  const p = await browser.newPage();
  await p.goto(`${server.url}#/connect`);
  await p.waitForSelector("[data-testid=conn-state][data-state=live]");
  await p.fill("input[type=password]", "not-the-key-123");
  await p.getByRole("button", { name: "Connect", exact: true }).click();
  await p.waitForSelector("[data-testid=conn-state][data-state=authFailed]");
  const leaks = await p.evaluate(() => JSON.stringify({ href: location.href, local: { ...localStorage }, session: { ...sessionStorage } }));
  assert.doesNotMatch(leaks, /not-the-key-123/);
  await p.goto(`${server.url}#/connect`);
  await p.getByRole("button", { name: "Use the built-in simulator" }).click();
  await p.waitForSelector("[data-testid=conn-state][data-state=live]");
  await p.waitForSelector("[data-testid=run]");
  // The server refused the key: the SDK reports authFailed and stops; no page error.
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
  await p.close();
});

test("Worker mode, chosen on the connect page: the same dashboard goes live from a Worker, with no socket on the page", async () => {
  const p = await browser.newPage();
  const pageSockets = await countPageSockets(p);
  await p.goto(`${server.url}#/connect`);
  await p.waitForSelector("[data-testid=conn-state][data-state=live]");
  const mainThreadSockets = await pageSockets();
  assert.equal(mainThreadSockets, 1, "the main-thread client's socket");
  await p.getByRole("checkbox", { name: /Run the client in a Worker/ }).check();
  await p.getByRole("button", { name: "Use the built-in simulator" }).click();
  await p.waitForSelector("[data-testid=client-mode]");
  await p.waitForSelector("[data-testid=conn-state][data-state=live]");
  // Runs appear and progress, from the Worker's task store.
  const done = () => p.$$eval("[data-testid=run]", (els) => els.reduce((n, el) => n + Number(el.getAttribute("data-done")), 0));
  await p.waitForSelector("[data-testid=run]");
  const before = await done();
  await p.waitForFunction((n) => [...document.querySelectorAll("[data-testid=run]")]
    .reduce((sum, el) => sum + Number(el.getAttribute("data-done")), 0) > n + 3, before, { timeout: 15_000 });
  // Raw events reach the event log; the subscription panel shows the Worker's server keys.
  await p.click("nav a[href='#/events']");
  await p.waitForSelector("[data-testid=event-log] li");
  await p.click("nav a[href='#/subscriptions']");
  await p.waitForSelector("[data-testid=server-keys] tbody tr");
  // The fault panel reads the Worker's states, stats and diagnostics as it reads the page's.
  await p.click("nav a[href='#/faults']");
  for (const fault of ["kill", "drop"]) {
    await p.waitForSelector("[data-testid=conn-state][data-state=live]", { timeout: 30_000 });
    await p.waitForSelector(`button[data-fault="${fault}"]:not([disabled])`);
    await p.click(`button[data-fault="${fault}"]`);
    const entry = `[data-testid=fault-log] li[data-fault="${fault}"]`;
    await p.waitForSelector(`${entry}[data-status=recovered], ${entry}[data-status=survived], ${entry}[data-status=failed]`, { timeout: 60_000 });
    const detail = await p.$eval(entry, (li) => `${li.getAttribute("data-status")}: ${li.querySelector(".detail")?.textContent ?? ""}`);
    assert.match(detail, fault === "kill" ? /^recovered: back live in .* on epoch \d+/ : /^(recovered|survived): .*gap\(s\)/, `${fault} in Worker mode`);
  }
  // The Worker's view of the server's keys (posted with each batch) is the server's.
  await p.waitForSelector("[data-testid=server-agrees][data-agree=true]", { timeout: 15_000 });
  assert.equal(await pageSockets(), mainThreadSockets, "Worker mode opened a socket on the page");
  await p.setViewportSize({ width: 390, height: 844 });
  await p.click("nav a[href='#/tasks']");
  await p.waitForSelector("[data-testid=run]");
  await noOverflow(p, "tasks in Worker mode at 390 px");
  await p.screenshot({ path: path.join(SHOTS, "dashboard-worker-390.png") });
  assert.doesNotMatch(await p.textContent("body"), /NaN|undefined|\[object Object\]/);
  assertNoPageErrors(p, { allowConsole: BROWSER_WS_FAILURE });
  await p.close();
});
