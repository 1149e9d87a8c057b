// runwatch/react/fleet-rlm under StrictMode, in a small app of its own (tests/react/fleet-app),
// against the simulator's fleet-rlm side: one chat and one events socket however often
// StrictMode mounts, one shared listener per store, selectors that re-render only on their
// slice, nothing left on the client after the hooks unmount and no socket left on the server
// after the client's owner unmounts. Also compiles (tsc, strict) and renders the README's
// fleet-rlm React example, and checks that the app ships the fleet-rlm wasm alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT, TARGET_DIR, PKG_DIR } from "../support/paths.mjs";
import { assertNoPageErrors } from "../support/browser.mjs";
import { sleep, until } from "../support/wait.mjs";
import { useReactAppFixture, wasmAssets } from "./support.mjs";

const EXAMPLE = path.join(TARGET_DIR, "react-example", "FleetChat.tsx");
const APP_OUT = path.join(TARGET_DIR, "react-fleet-strict-app");
const USER = `strict-${process.pid}`;
let sim, server, browser, page;

useReactAppFixture({
  app: "fleet-app", outDir: APP_OUT, marker: "react-fleet-example", example: EXAMPLE, aliasName: "readme-fleet-example",
  simArgs: ["--fleet-pace", "0.3"], // a normal turn takes about a second
  ready: (f) => ({ sim, server, browser } = f),
});

/** The simulator's fleet sockets of `user` (the app's debug identity is acme/`user`). */
const sockets = async (user = USER) => (await sim.control("fleet/connections")).filter((c) => c.user_id === user);

test("the fleet app and the README's fleet-rlm example type-check (tsc --strict)", () => {
  const tsc = path.join(REPO_ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", "tests/react/tsconfig.fleet.json", "--pretty", "false"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `tsc -p tests/react/tsconfig.fleet.json failed:\n${r.stdout}${r.stderr}`);
});

test("the app ships only the fleet-rlm module: runwatch/react/fleet-rlm does not pull in the RocketRide wasm", () => {
  const shipped = wasmAssets(APP_OUT);
  assert.equal(shipped.length, 1, `${shipped.length} .wasm assets`);
  assert.ok(shipped[0].equals(fs.readFileSync(path.join(PKG_DIR, "dist", "fleet", "runwatch_bg.wasm"))), "the .wasm is not dist/fleet/runwatch_bg.wasm");
});

test("StrictMode: one chat and one events socket, one shared listener per store and for the connection", async () => {
  page = await browser.newPage();
  await page.goto(`${server.url}?server=${encodeURIComponent(`http://127.0.0.1:${sim.port}`)}&user=${USER}`);
  await page.waitForFunction(() => window.__fleet.client?.chatState === "live" && window.__fleet.client?.eventsState === "live");
  await page.evaluate(() => window.__fleet.showWatchers(true));
  await page.waitForFunction(() => [...document.querySelectorAll(".chat-state, .events-state")].every((p) => p.textContent === "live"));
  await sleep(300); // past the hooks' release delay

  const resources = await page.evaluate(() => window.__fleet.resources());
  assert.deepEqual(resources.map((r) => r.key).sort(), ["fleet:connection", "fleet:runs", "fleet:turns"], JSON.stringify(resources));
  for (const r of resources) assert.ok(r.refs >= 2, `${r.key} should be shared, refs ${r.refs}`);
  // StrictMode did run its double render, with the client there.
  assert.ok(await page.evaluate(() => window.__fleet.renders.turnCount >= 4), "StrictMode did not double-render");

  const conns = await sockets();
  assert.equal(conns.length, 2, `fleet sockets of ${USER}: ${JSON.stringify(conns)}`);
  assert.match(JSON.stringify(conns.map((c) => c.role)), /chat/);
  assert.match(JSON.stringify(conns.map((c) => c.role)), /events/);
  assertNoPageErrors(page);
});

test("a turn streams through the hooks; the turn-count and socket-state selectors do not re-render meanwhile", async () => {
  const before = await page.evaluate(() => ({ ...window.__fleet.renders }));
  await page.evaluate(() => window.__fleet.client.send("stream a while #long=60"));
  // The answer grows in the DOM while the turn runs, and the run's step count too.
  await page.waitForFunction(() => document.getElementById("answer")?.dataset.state === "running" && document.getElementById("answer").textContent.length > 0);
  const partial = (await page.textContent("#answer")).length;
  await page.waitForFunction(() => document.getElementById("answer")?.dataset.state === "completed", null, { timeout: 30_000 });
  await page.waitForFunction(() => document.getElementById("run")?.dataset.status === "completed");
  const full = (await page.textContent("#answer")).length;
  assert.ok(full > partial, `the answer grew (${partial} → ${full})`);
  assert.ok(Number(await page.textContent("#run")) >= 3, "the run has its steps");
  assert.equal(await page.getAttribute("#run", "data-same"), "true", "useFleetRun by runKey and by runId agree");
  const after = await page.evaluate(() => ({ ...window.__fleet.renders }));
  assert.ok(after.answer - before.answer >= 6, `the answer component re-rendered as tokens came (${before.answer} → ${after.answer})`);
  // One more turn: each TurnCount renders once more (twice, StrictMode double-invokes renders).
  assert.ok(after.turnCount - before.turnCount <= 4, `turn count re-rendered ${after.turnCount - before.turnCount} times`);
  assert.equal(after.chatState, before.chatState, "the chat-state selector re-rendered while the state stayed live");
  assert.equal(await page.textContent(".turn-count"), "1");
  assertNoPageErrors(page);
});

test("unmounting the hooks releases every listener; unmounting the owner closes both sockets", async () => {
  await page.evaluate(() => window.__fleet.showWatchers(false));
  await page.waitForSelector("#no-watchers");
  await until("the hooks' resources to close", () => page.evaluate(() => window.__fleet.resources().length === 0));
  assert.equal((await sockets()).length, 2, "the client (still owned) keeps its sockets");
  // Mount again: the same client serves them, with the turn kept in its store.
  await page.evaluate(() => window.__fleet.showWatchers(true));
  await page.waitForFunction(() => document.querySelector(".turn-count")?.textContent === "1");
  await page.evaluate(() => window.__fleet.showClient(false));
  await page.waitForSelector("#no-client");
  await until("both sockets to close", async () => (await sockets()).length === 0);
  assertNoPageErrors(page);
});

test("the README's fleet-rlm example sends a turn, shows it and its run tree, and closes on unmount", async () => {
  await page.evaluate(() => window.__fleet.showReadme(true));
  const send = page.getByRole("button", { name: "Send" });
  await page.waitForSelector("#readme button:not([disabled])");
  await send.click();
  await page.waitForFunction(() => /^completed: /.test(document.querySelector("#readme [data-turn]")?.textContent ?? ""), null, { timeout: 30_000 });
  await page.waitForFunction(() => /^completed, \d+ steps/.test(document.querySelector("#readme [data-run]")?.textContent ?? ""));
  assert.ok(await page.$$eval("#readme [data-run] li", (l) => l.length) >= 3, "the run's steps are listed");
  assert.ok(await page.$$eval("#readme [data-run] li li", (l) => l.length) >= 1, "a step is nested under its parent");
  assert.doesNotMatch(await page.textContent("#readme"), /undefined|NaN/);
  assert.equal((await sockets("ada")).length, 2, "the example's client holds two sockets");
  await page.evaluate(() => window.__fleet.showReadme(false));
  await until("the example's sockets to close", async () => (await sockets("ada")).length === 0);
  assertNoPageErrors(page);
  await page.close();
});
