// The npm package as a user gets it: `npm pack` pkg/, install the tarball into a fresh app,
// build the app with Vite, and load the result in headless Chromium. Proves the `files`
// whitelist, the exports map, that Vite finds and emits the .wasm asset
// (`new URL("runwatch_bg.wasm", import.meta.url)` in the generated glue), and that `init()`
// works from a production bundle. A second test checks the entry point's own logic in Node.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "vite";
import { PKG_DIR } from "../support/paths.mjs";
import { startServer } from "../support/server.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";

const INIT_ERROR = "runwatch: call `await init()` before creating a client";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "runwatch-bundler-"));
const cleanups = [() => fs.rmSync(tmp, { recursive: true, force: true })];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

function requireDist() {
  assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", "runwatch_bg.wasm")),
    "pkg/dist is missing; build it with: bash scripts/build-pkg.sh");
}

const npm = (args, cwd) =>
  execFileSync("npm", args, { cwd, encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });

test("npm pack → install → vite build → the bundle initialises in Chromium", { timeout: 240_000 }, async () => {
  requireDist();

  // 1. Pack exactly what would be published.
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", tmp], PKG_DIR));
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "README.md", "index.js", "index.d.ts", "worker.js", "worker-host.js", "worker.d.ts", "react.js", "react.d.ts", "react-shared.js", "react-fleet.js", "react-fleet.d.ts", "fleet-rlm.js", "fleet-rlm.d.ts", "dispose.d.ts", "entry.js", "json-args.js", "dist/fleet/runwatch.js", "dist/fleet/runwatch_bg.wasm", "dist/runwatch.js", "dist/runwatch.d.ts", "dist/runwatch_bg.wasm"]) {
    assert.ok(files.includes(f), `tarball lacks ${f}; it has: ${files.join(", ")}`);
  }
  // wasm-bindgen's snippets: the JavaScript each module imports (its frame reader).
  for (const dir of ["dist/snippets/", "dist/fleet/snippets/"]) {
    assert.ok(files.some((f) => f.startsWith(dir) && f.endsWith(".js")), `tarball lacks ${dir}; it has: ${files.join(", ")}`);
  }
  const allowed = /^(package\.json|README\.md|(index|worker|react|react-fleet|fleet-rlm)\.(js|d\.ts)|worker-host\.js|react-shared\.js|entry\.js|json-args\.js|dispose\.d\.ts|dist\/(fleet\/)?([^/]+|snippets\/[^/]+\/(pkg\/)?[^/]+\.js))$/;
  assert.deepEqual(files.filter((f) => !allowed.test(f)), [], "tarball holds files outside the whitelist");

  // 2. A minimal app that depends on the tarball.
  const app = path.join(tmp, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "runwatch-bundler-app", private: true, type: "module" }));
  fs.writeFileSync(path.join(app, "index.html"),
    `<!doctype html><meta charset="utf-8"><title>runwatch bundler test</title><script type="module" src="./main.js"></script>\n`);
  fs.writeFileSync(path.join(app, "main.js"), `
import init, * as runwatch from "runwatch";

// Constructing a client before init() must fail with the package's own message.
let guard = "no RocketRideClient export";
if (typeof runwatch.RocketRideClient === "function") {
  try { new runwatch.RocketRideClient({ url: "ws://127.0.0.1:9/task/service", auth: "x" }); guard = "constructed"; }
  catch (e) { guard = String(e && e.message); }
}
const [a, b] = await Promise.all([init(), init()]);
const c = await init();
// Worker mode through the bundler: the Worker script and its wasm are bundled and start
// (init() warns and falls back to the main thread when the Worker fails to load).
const warnings = [];
const warn = console.warn;
console.warn = (...args) => { warnings.push(args.join(" ")); warn(...args); };
const worker = await import("runwatch/worker");
await worker.default();
const probe = new worker.RocketRideClient({ url: "ws://127.0.0.1:9/task/service", auth: "x" });
probe.close();
window.__result = {
  guard,
  memoised: a === b && b === c,
  memory: a.memory instanceof WebAssembly.Memory,
  workerWarnings: warnings,
  workerClient: typeof probe.subscribe === "function" && !(probe instanceof runwatch.RocketRideClient),
};
window.__ready = true;
`);
  npm(["install", "--no-audit", "--no-fund", "--loglevel=error", path.join(tmp, packed.filename)], app);
  assert.ok(fs.existsSync(path.join(app, "node_modules", "runwatch", "dist", "runwatch_bg.wasm")));

  // 3. Production build with Vite (from the repository's dev dependencies).
  const outDir = path.join(app, "dist");
  // assetsInlineLimit 0: Vite inlines assets under 4 KiB as data: URLs, and an early build of
  // the crate can be that small; a real client is far larger and always emitted as a file.
  await build({ root: app, configFile: false, logLevel: "warn", build: { outDir, emptyOutDir: true, assetsInlineLimit: 0 } });
  const assets = fs.readdirSync(path.join(outDir, "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `no .wasm asset in the bundle: ${assets.join(", ")}`);
  assert.ok(assets.some((f) => f.endsWith(".js")), `no .js bundle: ${assets.join(", ")}`);

  // 4. Serve the bundle and load it.
  const server = await startServer({ root: outDir });
  cleanups.push(() => server.close());
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const wasmResponses = [];
  page.on("response", (r) => { if (r.url().endsWith(".wasm")) wasmResponses.push(r.headers()["content-type"]); });
  await page.goto(server.url);
  await page.waitForFunction(() => window.__ready === true, null, { timeout: 20_000 });
  const result = await page.evaluate(() => window.__result);

  assert.equal(result.memoised, true, "init() did not return the same instance each time");
  assert.equal(result.memory, true, "init() did not resolve to the wasm exports");
  if (result.guard !== "no RocketRideClient export") assert.equal(result.guard, INIT_ERROR);
  assert.deepEqual(result.workerWarnings, [], "runwatch/worker started its Worker from the bundle");
  assert.ok(result.workerClient, "runwatch/worker's client is the Worker's proxy, not the main-thread class");
  // The page's module, and the Worker's (Worker mode loads it on both sides).
  assert.deepEqual(wasmResponses, ["application/wasm", "application/wasm"]);
  assertNoPageErrors(page);
});

test("pkg/index.js: init is memoised, initSync counts as init, constructing early throws", async () => {
  requireDist();
  // The entry point's own logic, in Node: initSync with the module's bytes needs no fetch.
  const mod = await import(pathToFileURL(path.join(PKG_DIR, "index.js")).href);
  if (typeof mod.RocketRideClient === "function") {
    assert.throws(() => new mod.RocketRideClient({ url: "ws://127.0.0.1:9/task/service", auth: "x" }), { message: INIT_ERROR });
  }
  const bytes = fs.readFileSync(path.join(PKG_DIR, "dist", "runwatch_bg.wasm"));
  const out = mod.initSync({ module: bytes });
  assert.ok(out.memory instanceof WebAssembly.Memory);
  assert.equal(await mod.default(), out, "init() after initSync() must resolve to the same exports");
  assert.equal(await mod.default(), out);
  if (typeof mod.RocketRideClient === "function") {
    // Past the guard: whatever the constructor does now is the SDK's business, not init's.
    assert.equal(typeof mod.RocketRideClient.prototype.free, "function");
  }
});
