// The server's task cleanup (spec §3.6) deletes every connection's source keys of a finished
// task silently. Against runwatch-sim with a short cleanup (3 s after completion, scans every
// second), a client whose only subscription is a source scope must notice the deletion,
// re-assert the key (a `reasserted` diagnostic), and see a rerun that starts right after.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BLANK_PAGE } from "../support/server.mjs";
import { assertNoPageErrors } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

const KEY = "sim-key";
let server, browser, sim;

useBrowserFixture({ simArgs: ["--api-key", KEY, "--cleanup-delay-ms", "3000", "--cleanup-scan-ms", "1000"], ready: (f) => ({ server, browser, sim } = f) });

/** A scripted batch run of two objects (the kit's `fake` convention). */
function run(projectId, source) {
  const config = { mode: "Source", type: "webhook", fake: { objects: 2, interval: 0.1, mode: "batch", pipes: 1 } };
  const pipeline = { source, project_id: projectId, components: [{ id: source, provider: "webhook", config }] };
  return sim.control("_sim/execute", { projectId, source, pipeline, name: "cleanup run" });
}

for (const types of [["TASK", "SUMMARY"], ["OUTPUT"]]) {
  test(`a {projectId, source} subscription with ${types} survives the task's cleanup and sees a rerun`, async () => {
    const page = await browser.newPage();
    await page.goto(new URL(BLANK_PAGE, server.url).href);
    const [projectId, source] = [`proj-clean-${types.length}`, "webhook_1"];
    await page.evaluate(
      async ({ url, projectId, source, types }) => {
        const { default: init, RocketRideClient } = await import("runwatch");
        await init();
        const rw = (window.rw = { events: [], diags: [] });
        rw.client = new RocketRideClient({ url, auth: "sim-key" });
        rw.client.onDiagnostic((d) => rw.diags.push(d));
        rw.client.subscribe({ projectId, source }, types, (events) => rw.events.push(...events));
      },
      { url: sim.url, projectId, source, types },
    );
    await page.waitForFunction(() => window.rw.client.state === "live");
    await run(projectId, source);
    // The run ends; ~3–4 s later the cleanup deletes the key and the SDK puts it back.
    await page.waitForFunction(() => window.rw.diags.some((d) => d.kind === "reasserted"), null, { timeout: 20_000 });
    const before = await page.evaluate(() => window.rw.events.length);
    await run(projectId, source); // right after the cleanup
    const wanted = types.includes("OUTPUT") ? "output" : "task";
    await page.waitForFunction(
      ({ before, wanted }) => window.rw.events.slice(before).some((e) => e.type === wanted),
      { before, wanted },
      { timeout: 15_000 },
    );
    const diag = await page.evaluate(() => window.rw.diags.find((d) => d.kind === "reasserted"));
    assert.equal(diag.key, `p.${projectId}.${source}`);
    const conns = await sim.control("_sim/connections");
    const keys = conns.filter((c) => c.authenticated).flatMap((c) => c.monitors.map((m) => m.key));
    assert.ok(keys.includes(`p.${projectId}.${source}`), `the server holds the key again: ${keys}`);
    assertNoPageErrors(page);
    await page.evaluate(() => window.rw.client.close());
    await page.close();
  });
}
