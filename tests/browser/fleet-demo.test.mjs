// The dashboard's fleet-rlm tab (www/src/Fleet.tsx) as `bash scripts/demo.sh` serves it:
// built with Vite, served by www/serve.mjs against the simulator (RocketRide demo scenario
// and its fleet-rlm side on the same port), driven in headless Chromium like a person would:
// typing messages, pressing Send, Cancel, an answer to the agent's question, thumbs up/down,
// the connectivity tests. Screenshots go to target/screenshots/fleet-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { build } from "vite";
import { REPO_ROOT, TARGET_DIR, PKG_DIR } from "../support/paths.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { a11yBasics, noOverflow } from "../support/layout.mjs";
import { startDashboardServer } from "../../www/serve.mjs";

const DIST = path.join(TARGET_DIR, "www-dist-fleet-test");
const SHOTS = path.join(TARGET_DIR, "screenshots");
let sim, server, browser, page;
/** Every WebSocket URL and every .wasm the page asked for. */
const sockets = [];
const wasm = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", "fleet", "runwatch_bg.wasm")), "pkg/dist is missing; run scripts/build-pkg.sh");
  await build({ configFile: path.join(REPO_ROOT, "www/vite.config.js"), logLevel: "warn", build: { outDir: DIST, emptyOutDir: true } });
  // pace 0.3: a normal turn takes about a second; the RocketRide demo scenario runs beside it.
  sim = await startSim({ args: ["--scenario", "demo", "--fixed-exit-code", "--fleet-pace", "0.3"] });
  server = await startDashboardServer({ sim: `http://127.0.0.1:${sim.port}`, root: DIST });
  browser = await launchBrowser();
  fs.mkdirSync(SHOTS, { recursive: true });
  page = await browser.newPage();
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (r) => { if (r.url().endsWith(".wasm")) wasm.push(r.url()); });
  await page.setViewportSize({ width: 1280, height: 900 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await sim?.stop();
});

const wasmBytes = (file) => fs.statSync(file).size;
const turn = (id) => `[data-testid=turn][data-turn-id="${id}"]`;
const latestTurnId = () => page.$eval("[data-testid=turn]", (el) => Number(el.getAttribute("data-turn-id")));

/** Types `text` into the message box and presses Send; resolves to the new turn's id. */
async function send(text) {
  const before = await page.$$eval("[data-testid=turn]", (t) => t.length);
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await page.waitForFunction((n) => document.querySelectorAll("[data-testid=turn]").length === n + 1, before);
  return latestTurnId();
}

const ended = (id) => page.waitForSelector(`${turn(id)}:not([data-state=running]):not([data-state=sent])`, { timeout: 30_000 });
const stateOf = (id) => page.getAttribute(turn(id), "data-state");

/** Step indices of every list of the tree, per list, in document order. */
const stepLists = (id) => page.$$eval(`${turn(id)} [data-testid=run] ol.steps`, (lists) =>
  lists.map((ol) => [...ol.children].filter((li) => li.hasAttribute("data-index")).map((li) => Number(li.getAttribute("data-index")))));

test("the fleet-rlm tab loads its module on demand and connects both sockets with a dev token", async () => {
  await page.goto(server.url);
  await page.waitForSelector("[data-testid=conn-state][data-state=live]");
  await page.waitForSelector("[data-testid=run]");
  assert.equal(wasm.length, 1, `before the fleet tab, one wasm (RocketRide): ${wasm}`);
  await page.getByRole("link", { name: "fleet-rlm" }).click();
  await page.waitForSelector("[data-testid=fleet-chat-state][data-state=live]");
  await page.waitForSelector("[data-testid=fleet-events-state][data-state=live]");
  assert.equal(wasm.length, 2, `the fleet tab fetched its own module: ${wasm}`);
  const sizes = [wasmBytes(path.join(PKG_DIR, "dist", "runwatch_bg.wasm")), wasmBytes(path.join(PKG_DIR, "dist", "fleet", "runwatch_bg.wasm"))];
  assert.notEqual(sizes[0], sizes[1], "the two modules differ (sanity)");
  // Both sockets carry a dev token of the demo identity; the server agrees who we are.
  const fleetSockets = sockets.filter((u) => u.includes("/api/v1/ws/execution"));
  assert.equal(fleetSockets.length, 2, fleetSockets.join("\n"));
  const session = await page.textContent("[data-testid=fleet-session]");
  assert.ok(fleetSockets.some((u) => u.includes(`session_id=${session}`)), "the events socket watches the page's session");
  const conns = (await sim.control("fleet/connections")).filter((c) => c.user_id === "dashboard");
  assert.equal(conns.length, 2, JSON.stringify(conns));
  assert.ok(conns.every((c) => c.workspace_id === "demo"), JSON.stringify(conns));
  await page.waitForFunction(() => /^demo \/ dashboard$/.test(document.querySelector("[data-testid=probe-me]")?.textContent ?? ""));
  // The hints for the scripted markers are there for a new user.
  for (const tag of ["#long", "#error", "#hitl", "#cancel"]) {
    assert.ok(await page.getByRole("button", { name: `Add ${tag} to the message` }).isVisible(), `hint ${tag}`);
  }
  assertNoPageErrors(page);
});

test("the token stays out of the page URL, storage, the DOM and the console", async () => {
  const token = new URL(sockets.find((u) => u.includes("access_token="))).searchParams.get("access_token");
  assert.ok(token && token.split(".").length === 3, "the sockets carry a JWT");
  const seen = await page.evaluate(() => JSON.stringify({
    href: location.href, local: { ...localStorage }, session: { ...sessionStorage }, dom: document.documentElement.outerHTML,
  }));
  assert.ok(!seen.includes(token), "the token is in the URL, storage or DOM");
  assert.ok(!page.consoleMessages.some((m) => m.text.includes(token)), "the token is in a console message");
});

test("a turn streams its tokens and its execution tree grows live; the final answer and the run summary follow", async () => {
  const id = await send("list the workspace files #long=80");
  await page.waitForSelector(`${turn(id)}[data-state=running]`);
  // The answer grows while the turn runs, and so does the step tree.
  const answer = () => page.textContent(`${turn(id)} [data-testid=answer]`);
  await page.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? "").length > 30, `${turn(id)} [data-testid=answer]`);
  const early = { text: (await answer()).length, steps: Number(await page.getAttribute(`${turn(id)} [data-testid=run]`, "data-steps")) };
  assert.equal(await stateOf(id), "running", "still running when first sampled");
  await ended(id);
  assert.equal(await stateOf(id), "completed");
  await page.waitForSelector(`${turn(id)} [data-testid=run][data-status=completed]`);
  const late = { text: (await answer()).length, steps: Number(await page.getAttribute(`${turn(id)} [data-testid=run]`, "data-steps")) };
  assert.ok(late.text > early.text, `the answer grew: ${early.text} → ${late.text}`);
  assert.ok(late.steps > early.steps, `the tree grew: ${early.steps} → ${late.steps} steps`);
  // Tool calls with their results; steps nested by parent and ordered by index in every list.
  assert.ok(await page.$$eval(`${turn(id)} [data-testid=tools] li[data-finished=true]`, (l) => l.length) >= 1, "a finished tool call");
  assert.doesNotMatch(await page.textContent(`${turn(id)} [data-testid=tools]`), /running…|no result/);
  const lists = await stepLists(id);
  assert.ok(lists.length >= 2, "steps are nested (a result under its call)");
  for (const l of lists) assert.deepEqual(l, [...l].sort((a, b) => a - b), `siblings in index order: ${l}`);
  assert.equal(lists.flat().length, late.steps, "every step shown once");
  const details = await page.$$eval(`${turn(id)} .step-io`, (els) => els.map((e) => e.textContent));
  assert.ok(details.some((d) => /^print\(.*\) → \S/.test(d)), `a sandbox step shows its code and output: ${details.join(" | ")}`);
  // The run summary.
  const summary = await page.textContent(`${turn(id)} [data-testid=run-summary]`);
  assert.match(summary, /outcome\s*completed/);
  assert.match(summary, /termination\s*final/);
  assert.match(summary, /final artifact\s*assistant_response \(RETURN\)/);
  assert.match(summary, /duration\s*(—|[\d.]+ m?s)/, "the simulator sends no duration: a dash");
  assert.doesNotMatch(await page.textContent(turn(id)), /undefined|NaN|\[object Object\]/);
  assertNoPageErrors(page);
});

test("an error turn (marker from the hints) shows the server's error; the next turn runs", async () => {
  await page.getByLabel("Message", { exact: true }).fill("summarise the build logs");
  await page.getByRole("button", { name: "Add #error to the message" }).click();
  assert.equal(await page.getByLabel("Message", { exact: true }).inputValue(), "summarise the build logs #error");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=turn]").length === 2);
  const id = await latestTurnId();
  await ended(id);
  assert.equal(await stateOf(id), "error");
  assert.match(await page.textContent(`${turn(id)} [data-testid=turn-error]`), /^llm_timeout: Streaming error: LLM call timed out/);
  await page.waitForSelector(`${turn(id)} [data-testid=run][data-status=error]`);
  const next = await send("and a normal one");
  await ended(next);
  assert.equal(await stateOf(next), "completed");
  assertNoPageErrors(page);
});

test("Cancel stops a running turn on both sockets", async () => {
  const cancel = page.getByRole("button", { name: "Cancel", exact: true });
  assert.ok(await cancel.isDisabled(), "nothing to cancel between turns");
  const id = await send("write a long essay #long=600");
  await page.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? "").length > 40, `${turn(id)} [data-testid=answer]`);
  await cancel.click();
  await ended(id);
  assert.equal(await stateOf(id), "cancelled");
  await page.waitForSelector(`${turn(id)} [data-testid=run][data-status=cancelled]`);
  assert.ok(await cancel.isDisabled());
  assertNoPageErrors(page);
});

test("the agent's question is answered from its buttons (resolveHitl)", async () => {
  const id = await send("refactor the main module #hitl_wait");
  const hitl = `${turn(id)} [data-testid=hitl]`;
  await page.waitForSelector(`${hitl}[data-resolved=false]`);
  assert.equal(await stateOf(id), "running", "the run waits for the answer");
  await page.locator(hitl).getByRole("button", { name: "Include tests?" }).click();
  await page.waitForSelector(`${hitl}[data-resolved=true]`);
  assert.match(await page.textContent(`${hitl} [data-testid=hitl-resolution]`), /Include tests\?/);
  await ended(id);
  assert.equal(await stateOf(id), "completed");
  const asked = await sim.control("fleet/hitl");
  assert.ok(JSON.stringify(asked).includes("Include tests?"), `the server recorded the answer: ${JSON.stringify(asked)}`);
  assertNoPageErrors(page);
});

test("thumbs up and down on finished turns reach the server's trace feedback", async () => {
  const completed = await page.$$eval("[data-testid=turn][data-state=completed]", (els) => els.map((el) => el.getAttribute("data-turn-id")));
  assert.ok(completed.length >= 2, `completed turns: ${completed}`);
  const [a, b] = completed;
  await page.locator(turn(a)).getByRole("button", { name: /^Thumbs up/ }).click();
  await page.waitForSelector(`${turn(a)} [data-testid=feedback-result][data-status=done]`);
  assert.match(await page.textContent(`${turn(a)} [data-testid=feedback-result]`), /^thumbs up recorded for trace \S+/);
  await page.locator(turn(b)).getByRole("button", { name: /^Thumbs down/ }).click();
  await page.waitForSelector(`${turn(b)} [data-testid=feedback-result][data-status=done]`);
  assert.match(await page.textContent(`${turn(b)} [data-testid=feedback-result]`), /^thumbs down recorded/);
  const got = JSON.stringify(await sim.control("fleet/feedback"));
  assert.match(got, /"is_correct":true/);
  assert.match(got, /"is_correct":false/);
  assertNoPageErrors(page);
});

test("the runtime panel shows the probes, and the connectivity tests make the runtime ready", async () => {
  assert.match(await page.textContent("[data-testid=probe-health]"), /^ok, version 0\.5\.0$/);
  assert.match(await page.textContent("[data-testid=probe-ready]"), /^yes \(planner ready/);
  assert.match(await page.textContent("[data-testid=probe-runtime]"), /^no \(/, "not ready before the tests ran");
  await page.getByRole("button", { name: "Test LM" }).click();
  await page.waitForSelector("[data-testid=test-lm][data-ok=true]");
  await page.getByRole("button", { name: "Test Daytona" }).click();
  await page.waitForSelector("[data-testid=test-daytona][data-ok=true]");
  await page.waitForFunction(() => /^yes \(/.test(document.querySelector("[data-testid=probe-runtime]")?.textContent ?? ""));
  assert.doesNotMatch(await page.textContent("[data-testid=fleet-probes]"), /undefined|NaN|failed/);
  assertNoPageErrors(page);
});

test("a run of thousands of steps (#flood) lists its newest ones and the page keeps answering", async () => {
  const id = await send("run the sandbox a lot #flood=1500");
  await ended(id);
  await page.waitForSelector(`${turn(id)} [data-testid=run]:not([data-status=running])`, { timeout: 30_000 });
  const run = `${turn(id)} [data-testid=run]`;
  const steps = Number(await page.getAttribute(run, "data-steps"));
  assert.ok(steps > 200, `${steps} steps held`);
  assert.match(await page.textContent(`${run} > ol.steps > li:first-child`), /^\d+ earlier steps not listed$/);
  assert.ok(await page.$$eval(`${run} li[data-testid=step]`, (l) => l.length) <= 2 * 200 + 10, "at most 200 steps listed per level");
  const t0 = Date.now();
  await page.getByRole("link", { name: "Events" }).click();
  await page.waitForSelector("#events-h");
  assert.ok(Date.now() - t0 < 2000, `switching tabs took ${Date.now() - t0} ms`);
  await page.getByRole("link", { name: "fleet-rlm" }).click();
  assertNoPageErrors(page);
});

test("the session survives a visit to another tab; no overflow and named controls at 1280 and 390 px; screenshots", async () => {
  const session = await page.textContent("[data-testid=fleet-session]");
  const turns = await page.$$eval("[data-testid=turn]", (t) => t.length);
  await page.getByRole("link", { name: "Tasks" }).click();
  await page.waitForSelector("[data-testid=run]");
  await page.getByRole("link", { name: "fleet-rlm" }).click();
  assert.equal(await page.textContent("[data-testid=fleet-session]"), session);
  assert.equal(await page.$$eval("[data-testid=turn]", (t) => t.length), turns);
  // One more turn running while the screenshots are taken, so they show a live tree too.
  const id = await send("explain how the ingest pipeline works #long=300");
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.waitForTimeout(300);
    await noOverflow(page, `fleet at ${width} px`);
    await a11yBasics(page, `fleet at ${width} px`);
    await page.screenshot({ path: path.join(SHOTS, `fleet-${width}.png`), fullPage: true });
  }
  // At phone width the full page is very tall: the top and the running turn, as a phone shows them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, "fleet-390-top.png") });
  await page.locator(`${turn(id)} [data-testid=answer]`).scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SHOTS, "fleet-390-turn.png") });
  await ended(id);
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.doesNotMatch(await page.textContent("[data-testid=fleet]"), /undefined|NaN|\[object Object\]/);
  assertNoPageErrors(page);
});
