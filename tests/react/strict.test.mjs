// runwatch/react under StrictMode, in a small app of its own (tests/react/app), against the
// simulator: one connection and one server subscription however often StrictMode mounts,
// no subscribe/unsubscribe churn, nothing left on the client or the server after unmount.
// Also compiles (tsc, strict) and renders the README's React example.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT, TARGET_DIR, PKG_DIR } from "../support/paths.mjs";
import { assertNoPageErrors, countPageSockets } from "../support/browser.mjs";
import { sleep, until } from "../support/wait.mjs";
import { useReactAppFixture, wasmAssets } from "./support.mjs";

const EXAMPLE_DIR = path.join(TARGET_DIR, "react-example");
const APP_OUT = path.join(TARGET_DIR, "react-strict-app");
const CLIENT_NAME = "runwatch-strict-test";
let sim, server, browser, page;

useReactAppFixture({
  app: "app", outDir: APP_OUT, marker: "react-example", example: path.join(EXAMPLE_DIR, "Dashboard.tsx"), aliasName: "readme-example",
  simArgs: ["--scenario", "demo", "--speed", "4"],
  ready: (f) => ({ sim, server, browser } = f),
});

const ours = async (name = CLIENT_NAME) => (await sim.control("connections")).filter((c) => c.clientName === name && c.authenticated);

/**
 * Shows the watchers on a live client and checks what they share: one of each resource on
 * the client, one connection on the server holding the keys the SDK says it holds, and no
 * subscription churn from StrictMode's double mount.
 */
async function checkSharedResources(page) {
  await page.evaluate(() => window.__strict.showWatchers(true));
  await page.waitForFunction(() => document.getElementById("state")?.textContent === "live");
  await page.waitForFunction(() => /Support Agent/.test(document.getElementById("names")?.textContent ?? ""));
  await page.waitForFunction(() => Number(document.getElementById("run-count")?.textContent) >= 2);
  await sleep(300); // past the hooks' release delay

  // The client side: one of each resource, shared by every component that asked for it.
  const resources = await page.evaluate(() => window.__strict.resources());
  const kinds = resources.map((r) => r.key.split(":")[0]).sort();
  assert.deepEqual(kinds, ["connection", "sub", "tasks"], `resources: ${JSON.stringify(resources)}`);
  for (const r of resources) assert.ok(r.refs >= 2, `${r.key} should be shared, refs ${r.refs}`);

  // The server side: exactly one connection of this app, holding the keys the SDK says it holds.
  const conns = await ours();
  assert.equal(conns.length, 1, `connections of ${CLIENT_NAME}: ${JSON.stringify(conns)}`);
  const [conn] = conns;
  const keys = conn.monitors.map((m) => m.key).sort();
  assert.equal(new Set(keys).size, keys.length, `duplicate monitor keys: ${keys}`);
  const sdkKeys = await page.evaluate(() => window.__strict.client.serverSubscriptions().map((s) => s.key).sort());
  assert.equal(sdkKeys.length, keys.length, `SDK believes ${JSON.stringify(sdkKeys)}, server holds ${JSON.stringify(keys)}`);

  // No churn: StrictMode's mount → unmount → mount opened each shared resource once, so the
  // SDK sent one rrext_monitor per resource that subscribes (the store, the DASHBOARD
  // subscription: both on key "*", the second widening its types), never a narrowing one.
  const log = await sim.control(`log?conn=${conn.id}&limit=100000`);
  const monitors = log.entries.filter((e) => e.kind === "response" && e.command === "rrext_monitor");
  // Proof that StrictMode ran its double mount (development build) while the client was live.
  assert.ok(await page.evaluate(() => window.__strict.renders.names >= 4), "StrictMode did not double-render");
  const subscribing = resources.filter((r) => !r.key.startsWith("connection")).length;
  assert.ok(monitors.length <= subscribing,
    `${monitors.length} rrext_monitor calls for ${subscribing} shared subscription(s): subscriptions were churned`);
  assert.ok(log.entries.filter((e) => e.kind === "open").length <= 1, "more than one socket was opened");
}

/**
 * Unmounts the watchers (nothing left on the client or the server), mounts them again, then
 * unmounts the client's owner (its connection closes).
 */
async function checkCleanup(page) {
  await page.evaluate(() => window.__strict.showWatchers(false));
  await page.waitForSelector("#no-watchers");
  await until("the hooks' resources to close", () => page.evaluate(() => window.__strict.resources().length === 0));
  await until("the server subscriptions to go", () => page.evaluate(() => window.__strict.client.serverSubscriptions().length === 0));
  const [conn] = await until("the server to drop every monitor", async () => {
    const c = await ours();
    return c.length === 1 && c[0].monitors.length === 0 ? c : null;
  });
  assert.equal(conn.monitors.length, 0);

  // Mount again: the same client serves them again; then unmount the client's owner.
  await page.evaluate(() => window.__strict.showWatchers(true));
  await page.waitForFunction(() => Number(document.getElementById("run-count")?.textContent) >= 1);
  await page.evaluate(() => window.__strict.showClient(false));
  await page.waitForSelector("#no-client");
  await until("the connection to close", async () => (await ours()).length === 0);
}

test("the README's React example and the StrictMode app type-check (tsc --strict)", () => {
  const tsc = path.join(REPO_ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", "tests/react", "--pretty", "false"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `tsc -p tests/react failed:\n${r.stdout}${r.stderr}`);
});

test("the app ships only the RocketRide module: runwatch/react does not pull in the fleet-rlm wasm", () => {
  const shipped = wasmAssets(APP_OUT);
  assert.equal(shipped.length, 1, `${shipped.length} .wasm assets`);
  assert.ok(shipped[0].equals(fs.readFileSync(path.join(PKG_DIR, "dist", "runwatch_bg.wasm"))), "the .wasm is not dist/runwatch_bg.wasm");
});

test("StrictMode: one connection, one shared store/subscription/listener set, no subscription churn", async () => {
  page = await browser.newPage();
  await page.goto(`${server.url}?engine=${encodeURIComponent(`ws://127.0.0.1:${sim.port}`)}`);
  await page.waitForFunction(() => window.__strict.client?.state === "live");
  await checkSharedResources(page);
  assertNoPageErrors(page);
});

test("selectors: a component re-renders only when its slice changes", async () => {
  // Wait until every demo pipeline has a run, so the set of names is stable; statuses keep
  // streaming (about once a second per running task, four times faster here).
  await page.waitForFunction(() => (document.getElementById("names")?.textContent ?? "").split(", ").length >= 3);
  await sleep(500);
  const before = await page.evaluate(() => ({ ...window.__strict.renders }));
  await sleep(3000);
  const after = await page.evaluate(() => ({ ...window.__strict.renders }));
  assert.ok(after.all > before.all, `the component reading every run re-rendered (${before.all} → ${after.all})`);
  assert.equal(after.names, before.names, "the names selector's component re-rendered without a change of names");
  assert.equal(after.state, before.state, "the connection-state selector's component re-rendered while the state stayed live");
});

test("unmounting the hooks leaves no resource on the client and no monitor on the server", async () => {
  await checkCleanup(page);
  assertNoPageErrors(page);
});

test("the README's example renders live runs under StrictMode and closes its client on unmount", async () => {
  await page.evaluate(() => window.__strict.showReadme(true));
  await page.waitForFunction(() => document.querySelectorAll("#readme li[data-run]").length >= 2);
  const text = await page.textContent("#readme");
  assert.match(text, /^live, 0 reconnects/);
  assert.match(text, /objects, CPU/);
  assert.doesNotMatch(text, /NaN|undefined/);
  assert.equal((await ours("runwatch")).length, 1, "the example's client should hold one connection");
  await page.evaluate(() => window.__strict.showReadme(false));
  await until("the example's connection to close", async () => (await ours("runwatch")).length === 0);
  assertNoPageErrors(page);
  await page.close();
});

test("Worker mode (useRocketRideClient(options, { worker: true })): the same hooks over the Worker's client, its socket off the page", async () => {
  page = await browser.newPage();
  // The page's own sockets, counted: in Worker mode the connection is the Worker's.
  const pageSockets = await countPageSockets(page);
  await page.goto(`${server.url}?worker&engine=${encodeURIComponent(`ws://127.0.0.1:${sim.port}`)}`);
  await page.waitForFunction(() => window.__strict.client?.state === "live");
  assert.equal(await page.evaluate(() => window.__strict.inWorker()), true, "the client is the main-thread class, not Worker mode's");
  await checkSharedResources(page);
  await checkCleanup(page);
  assert.equal(await pageSockets(), 0, "the page opened a WebSocket itself");
  assertNoPageErrors(page);
  await page.close();
});
