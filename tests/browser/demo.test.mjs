// The example page (www/) as `bash scripts/demo.sh` serves it: against the simulator's demo
// scenario it must go live and fill the task table from typed events, with no page errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../support/server.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";

let server, browser, sim;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  sim = await startSim({ args: ["--scenario", "demo", "--speed", "5"] });
});

after(async () => {
  await sim?.stop();
  await browser?.close();
  await server?.close();
});

test("the demo page goes live and shows running tasks", async () => {
  const page = await browser.newPage();
  const engine = `ws://127.0.0.1:${sim.port}`;
  await page.goto(new URL(`www/?engine=${encodeURIComponent(engine)}`, server.url).href);
  await page.waitForFunction(() => document.getElementById("state").textContent === "live");
  await page.waitForFunction(() => document.querySelectorAll("#tasks tbody tr").length >= 2);
  const names = await page.$$eval("#tasks tbody td:first-child", (tds) => tds.map((td) => td.textContent));
  assert.ok(names.some((n) => n.includes("Support Agent")), `task names: ${names}`);
  assertNoPageErrors(page);
  await page.close();
});
