// Worker mode posts the page about one message per animation frame (pkg/worker-host.js), and a
// subscription's events in one message reach its callback as one batch: the Worker's client
// flushes a steady stream a few events at a time (one at a time at 2,000 a second), and the
// page would otherwise parse each of those batches and call back once for each.
//
// Driven over raw CDP (bench/cdp.mjs) as tests/browser/gather.test.mjs says why, against the
// release runwatch-sim in load mode. Needs a global WebSocket in Node (scripts/test.sh passes
// --experimental-websocket to Node 20).
import { test } from "node:test";
import assert from "node:assert/strict";
import { useCdpBrowser } from "../support/cdp-fixture.mjs";
import { startSim } from "../support/sim.mjs";
import { RELEASE_SIM_BIN } from "../support/paths.mjs";

const fx = useCdpBrowser();

test("in Worker mode a subscription's events of one message reach the page in one batch, in order", async () => {
  const sim = await startSim({ bin: RELEASE_SIM_BIN, args: ["--scenario", "load", "--tasks", "4", "--rate", "2000", "--seed", "1"] });
  let page;
  try {
    page = await fx.openBlank();
    await page.evaluate(`(async () => {
      const rw = (window.rw = { sizes: [], seqs: [], diags: [] });
      const mod = await import("/pkg/worker.js");
      await mod.default();
      rw.client = new mod.RocketRideClient({ url: ${JSON.stringify(sim.url)}, auth: "sim-key" });
      rw.client.onDiagnostic((d) => rw.diags.push(d.kind));
      rw.client.subscribe({ token: "*" }, ["ALL"], (events) => {
        rw.sizes.push(events.length);
        for (const e of events) if (e.seq != null) rw.seqs.push(e.seq); // seeds carry none
      });
    })()`);
    // Past the start-up backlog, 100 batches of a steady stream.
    await page.waitFor("window.rw.sizes.length >= 140", 60_000);
    const { sizes, seqs, diags } = await page.evaluate("({ sizes: window.rw.sizes.slice(40, 140), seqs: window.rw.seqs, diags: window.rw.diags })");
    assert.deepEqual(page.exceptions, [], "no exception on the page");
    const median = [...sizes].sort((a, b) => a - b)[sizes.length >> 1];
    // 2,000 a second in ~16 ms messages: ~32 a batch (34 in runs here); batch by batch as
    // the Worker's client flushes, the median was 1.
    assert.ok(median >= 10, `batches of a message joined (median ${median}): ${sizes.join(" ")}`);
    // Joined in order: on the one connection of this run (no reconnect), seqs only go up.
    for (let i = 1; i < seqs.length; i += 1) assert.ok(seqs[i] > seqs[i - 1], `seq ${seqs[i]} after ${seqs[i - 1]} (diagnostics: ${diags})`);
  } finally {
    await page?.evaluate("window.rw?.client.close()").catch(() => {});
    await page?.close();
    await sim.stop();
  }
});
