// The example page (www/) as `bash scripts/demo.sh` serves it: against the simulator's demo
// scenario it must go live and fill the task table from typed events, with no page errors.
import { test, before, after } from "node:test";
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
  // Rows appear as each task's ~1 Hz status arrives, in no fixed order: wait for the three.
  const rows = () => [...document.querySelectorAll("#tasks tbody td:first-child")].map((td) => td.textContent);
  await page.waitForFunction((names) => {
    const shown = [...document.querySelectorAll("#tasks tbody td:first-child")].map((td) => td.textContent);
    return names.every((n) => shown.some((s) => s.includes(n)));
  }, ["Support Agent", "Document Ingest", "Web Crawler"]).catch(async (e) => {
    throw new Error(`${e.message}; task names shown: ${await page.evaluate(rows)}`);
  });
  assertNoPageErrors(page);
  await page.close();
});
