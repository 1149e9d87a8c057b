// The default batching (`batch: "task"`) by the pace of the stream: on a fast stream the SDK
// waits about 4 ms for more events before a flush, so they share one batch and its fixed
// cost; a quiet stream's events still come as they arrive, at the end of the task they came
// in (src/core/pace.rs, src/web/dispatch.rs `schedule`).
//
// The page is driven over raw CDP (bench/cdp.mjs), as the benchmark drives it, not through
// Playwright: Playwright mirrors every WebSocket frame of the pages it drives, and at
// thousands of frames a second that makes them reach the page in bursts, which batch
// whatever the SDK does. Real Chromium, real WebSocket, the runwatch-sim process in load mode
// (the benchmark's real-frame mix), its release build: the debug build cannot hold a steady
// 8,000 events a second. Needs a global WebSocket in Node (scripts/test.sh passes
// --experimental-websocket to Node 20).
import { test } from "node:test";
import assert from "node:assert/strict";
import { useCdpBrowser } from "../support/cdp-fixture.mjs";
import { startSim } from "../support/sim.mjs";
import { RELEASE_SIM_BIN } from "../support/paths.mjs";

const fx = useCdpBrowser();

/**
 * The batches a client subscribed to everything gets from a load-mode simulator sending
 * `rate` events a second, once the page has worked off the start-up backlog (the stream
 * runs while the page loads) and `skip` events have come: `count` of them for which
 * `keep(batch)` holds, each `{ n, paced, inTask }`. `n` is its size; `paced` is how many
 * frames a millisecond the page's socket received just before the batch's first frame (its
 * 64 predecessors' span), measured by a listener of the page's own on every socket;
 * `inTask` is whether the batch came in the task of the last frame received before it.
 * That listener runs before the SDK's (it was added first) and posts a message whose task
 * marks the frame's task as over: a flush the SDK posted to a channel of its own runs after
 * it, one at the end of the frame's task before it.
 */
async function batches(rate, { skip, count, keep = "() => true" }) {
  const sim = await startSim({ bin: RELEASE_SIM_BIN, args: ["--scenario", "load", "--tasks", "4", "--rate", String(rate), "--seed", "1"] });
  let page;
  try {
    page = await fx.openBlank();
    await page.evaluate(`(async () => {
      const rw = (window.rw = { frames: [], kept: [], events: 0, diags: [], inTask: false });
      const over = new MessageChannel();
      over.port1.onmessage = () => { rw.inTask = false; };
      const WS = globalThis.WebSocket;
      globalThis.WebSocket = class extends WS {
        constructor(...args) {
          super(...args);
          this.addEventListener("message", () => {
            rw.frames.push(performance.now());
            rw.inTask = true;
            over.port2.postMessage(0);
          });
        }
      };
      const { default: init, RocketRideClient } = await import("runwatch");
      await init();
      rw.client = new RocketRideClient({ url: ${JSON.stringify(sim.url)}, auth: "sim-key" });
      rw.client.onDiagnostic((d) => rw.diags.push(d.kind));
      const keep = ${keep};
      let first = 0; // the frame index of the next batch's first frame
      rw.client.subscribe({ token: "*" }, ["ALL"], (events) => {
        const f = rw.frames;
        const batch = { n: events.length, paced: first >= 64 ? 64 / Math.max(f[first] - f[first - 64], 0.001) : 0, inTask: rw.inTask };
        first = f.length;
        rw.events += events.length;
        if (rw.events > ${skip} && keep(batch)) rw.kept.push(batch);
      });
    })()`);
    await page.waitFor(`window.rw.kept.length >= ${count}`, 60_000);
    const { kept, diags } = await page.evaluate(`({ kept: window.rw.kept.slice(0, ${count}), diags: window.rw.diags })`);
    assert.deepEqual(page.exceptions, [], "no exception on the page");
    assert.ok(!diags.includes("overflow"), `no events dropped from a full batch: ${diags}`);
    return kept;
  } finally {
    await page?.evaluate("window.rw?.client.close()").catch(() => {});
    await page?.close();
    await sim.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

test("a fast stream's events are gathered for a moment into shared batches", async () => {
  // 8,000 events a second, twice the pace from which the SDK gathers: 32 a batch in 4 ms,
  // 36-44 (median) in runs here, the timer firing late. Delivered as they come, most
  // batches would hold 1 or 2; gathered for 1 ms, as before 2026-12-06, 16 (median). Only
  // the batches whose first frame came at 8 or more a millisecond count: on a busy machine
  // the simulator falls behind at times and then sends slower (or in bursts), and a slow
  // stretch rightly goes one by one.
  const kept = await batches(8000, { skip: 8000, count: 150, keep: "(b) => b.paced >= 8" });
  const sizes = kept.map((b) => b.n);
  assert.ok(median(sizes) >= 24, `a fast stream's events share batches (median ${median(sizes)}): ${sizes.join(" ")}`);
});

test("a stream just over the gathering pace stays gathered", async () => {
  // 5,000 events a second: 32 events in 6.4 ms against the 8 ms from which the SDK gathers,
  // read in whole milliseconds and jittered by the network and the page. With one threshold
  // (before 2026-12-07) about one run in thirteen read 8 ms or more and the stream went
  // quiet for it, each of its 32 events then delivered alone: most batches held one event
  // (8 a batch on average). Now a gathered stream stays so until a run takes 12 ms. Only
  // batches whose first frame came at 4 or more a millisecond count (see above).
  const kept = await batches(5000, { skip: 5000, count: 400, keep: "(b) => b.paced >= 4" });
  const sizes = kept.map((b) => b.n);
  const alone = sizes.filter((n) => n === 1).length;
  assert.ok(median(sizes) >= 12, `a 5,000/s stream's events share batches (median ${median(sizes)}): ${sizes.join(" ")}`);
  assert.ok(alone <= 0.05 * sizes.length, `few of its events come alone: ${alone} of ${sizes.length} batches`);
});

test("a quiet stream's events are delivered as they come, in the task they came in", async () => {
  // 2,000 events a second (the rate of the benchmark's latency goal), half the pace from
  // which the SDK gathers. The simulator sends them 4 at once every 2 ms. Gathered, each
  // batch would hold the whole 4 or more.
  const kept = await batches(2000, { skip: 2000, count: 300 });
  const sizes = kept.map((b) => b.n);
  assert.ok(median(sizes) <= 3, `a quiet stream's events are not held back (median ${median(sizes)}): ${sizes.join(" ")}`);
  // Each goes at the end of the task its frame came in, with no task of its own (a flush
  // posted to a channel would come after the page's own post). Only where the stream was
  // quiet just before (under 3 frames a millisecond): on a busy machine the simulator falls
  // behind at times and then catches up in a burst, which the SDK rightly takes as fast.
  const quiet = kept.filter((b) => b.paced > 0 && b.paced < 3);
  const inTask = quiet.filter((b) => b.inTask).length;
  assert.ok(quiet.length >= 100, `enough batches came while the stream was quiet: ${quiet.length} of ${kept.length}`);
  assert.ok(inTask >= 0.95 * quiet.length, `a quiet stream's batches come in their frame's task: ${inTask} of ${quiet.length}`);
});
