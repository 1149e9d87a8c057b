// The default batching (`batch: "task"`) by the pace of the stream: on a fast stream the SDK
// waits about 1 ms for more events before a flush, so they share one batch and its fixed
// cost; a quiet stream's events still come as they arrive (src/core/pace.rs,
// src/web/dispatch.rs `gather`).
//
// The page is driven over raw CDP (bench/cdp.mjs), as the benchmark drives it, not through
// Playwright: Playwright mirrors every WebSocket frame of the pages it drives, and at
// thousands of frames a second that makes them reach the page in bursts, which batch
// whatever the SDK does. Real Chromium, real WebSocket, the runwatch-sim process in load mode
// (the benchmark's real-frame mix), its release build: the debug build cannot hold a steady
// 8,000 events a second. Needs a global WebSocket in Node (scripts/test.sh passes
// --experimental-websocket to Node 20).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch } from "../../bench/cdp.mjs";
import { BLANK_PAGE, startServer } from "../support/server.mjs";
import { startSim } from "../support/sim.mjs";
import { RELEASE_SIM_BIN } from "../support/paths.mjs";

let server, browser;

before(async () => {
  assert.equal(typeof WebSocket, "function", "Node needs --experimental-websocket for a global WebSocket (scripts/test.sh passes it)");
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * The sizes of `count` batches a client subscribed to everything gets from a load-mode
 * simulator sending `rate` events a second, once the page has worked off the start-up
 * backlog (the stream runs while the page loads) and `skip` events have come.
 */
async function batchSizes(rate, { skip, count }) {
  const sim = await startSim({ bin: RELEASE_SIM_BIN, args: ["--scenario", "load", "--tasks", "4", "--rate", String(rate), "--seed", "1"] });
  let page;
  try {
    page = await browser.open(new URL(BLANK_PAGE, server.url).href, { ready: `location.pathname === "/${BLANK_PAGE}" && document.readyState === "complete"` });
    await page.evaluate(`(async () => {
      const { default: init, RocketRideClient } = await import("runwatch");
      await init();
      const rw = (window.rw = { sizes: [], events: 0, diags: [] });
      rw.client = new RocketRideClient({ url: ${JSON.stringify(sim.url)}, auth: "sim-key" });
      rw.client.onDiagnostic((d) => rw.diags.push(d.kind));
      rw.client.subscribe({ token: "*" }, ["ALL"], (events) => { rw.sizes.push(events.length); rw.events += events.length; });
    })()`);
    await page.waitFor(`window.rw.events >= ${skip}`, 60_000);
    const from = await page.evaluate("window.rw.sizes.length");
    await page.waitFor(`window.rw.sizes.length >= ${from + count}`, 60_000);
    const { sizes, diags } = await page.evaluate(`({ sizes: window.rw.sizes.slice(${from}, ${from + count}), diags: window.rw.diags })`);
    assert.deepEqual(page.exceptions, [], "no exception on the page");
    assert.ok(!diags.includes("overflow"), `no events dropped from a full batch: ${diags}`);
    return sizes;
  } finally {
    await page?.evaluate("window.rw?.client.close()").catch(() => {});
    await page?.close();
    await sim.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

test("a fast stream's events are gathered for a moment into shared batches", async () => {
  // 8,000 events a second, twice the pace from which the SDK gathers: about 8 a batch.
  // Delivered as they come, most batches would hold 1 or 2.
  const sizes = await batchSizes(8000, { skip: 8000, count: 300 });
  assert.ok(median(sizes) >= 4, `a fast stream's events share batches (median ${median(sizes)}): ${sizes.join(" ")}`);
});

test("a quiet stream's events are delivered as they come", async () => {
  // 2,000 events a second (the rate of the benchmark's latency goal), half the pace from
  // which the SDK gathers. The simulator sends them 4 at once every 2 ms, and the page takes
  // the first on its own and the rest together: batches of 1 and 3. Gathered, each batch
  // would hold the whole 4 or more.
  const sizes = await batchSizes(2000, { skip: 2000, count: 300 });
  assert.ok(median(sizes) <= 3, `a quiet stream's events are not held back (median ${median(sizes)}): ${sizes.join(" ")}`);
});
