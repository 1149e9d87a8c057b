// Smoke test of the test harness itself, independent of the SDK: the static server serves
// files with the right MIME types, Debian Chromium starts under playwright-core and loads a
// page, and a raw browser WebSocket from that page authenticates against the simulator.
// If this fails, every other browser test would fail for reasons that are not the SDK's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { launchBrowser, assertNoPageErrors } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";
import { leaveAndReturn } from "../reliability/common.mjs";

let server, browser, sim;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await sim?.stop();
  await browser?.close();
  await server?.close();
});

test("static server sends the MIME types browsers require", async () => {
  const res = await fetch(new URL("package.json", server.url));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  const missing = await fetch(new URL("no/such/file.wasm", server.url));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

test("headless Chromium loads a page from the static server", async () => {
  const page = await browser.newPage();
  await page.goto(new URL("package.json", server.url).href);
  const text = await page.evaluate(() => document.body.innerText);
  assert.equal(JSON.parse(text).private, true);
  const ua = await page.evaluate(() => navigator.userAgent);
  assert.match(ua, /HeadlessChrome|Chrome/);
  assertNoPageErrors(page);
  await page.close();
});

test("a page imports the package by name and init() loads the wasm", async () => {
  // Packaging only (pkg/index.js + pkg/dist from scripts/build-pkg.sh), no client is created.
  const page = await browser.newPage();
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  const result = await page.evaluate(async () => {
    const { default: init } = await import("runwatch");
    const [a, b] = await Promise.all([init(), init()]);
    return { same: a === b, memory: a.memory instanceof WebAssembly.Memory };
  });
  assert.deepEqual(result, { same: true, memory: true });
  assertNoPageErrors(page);
  await page.close();
});

test("a raw browser WebSocket authenticates against runwatch-sim", async () => {
  sim = await startSim();
  assert.match(sim.url, /^ws:\/\/127\.0\.0\.1:\d+\/task\/service$/);

  const page = await browser.newPage();
  // Any same-origin page will do; the socket goes to the simulator's own port.
  await page.goto(new URL("package.json", server.url).href);
  const reply = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no auth response within 5 s")), 5000);
        ws.onerror = () => reject(new Error("websocket error"));
        ws.onclose = (e) => reject(new Error(`closed before a response: ${e.code} ${e.reason}`));
        ws.onopen = () =>
          ws.send(JSON.stringify({ type: "request", command: "auth", seq: 1, arguments: { auth: "sim-key" } }));
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          // Events may precede the response; wait for the reply to our request.
          if (msg.type === "response" && msg.request_seq === 1) {
            clearTimeout(timer);
            resolve(msg);
          }
        };
      });
    } finally {
      ws.onclose = null;
      ws.close();
    }
  }, sim.url);

  assert.equal(reply.command, "auth");
  assert.equal(reply.success, true, `auth failed: ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.seq, "number");
  assertNoPageErrors(page);
  await page.close();
});

test("a page_hidden fault forces a collection while the page is away: a finalizer due then gets the page reloaded, which the cycles fail on", async () => {
  // The reliability cycles (tests/reliability/cycles.mjs) fail a page_hidden fault that comes
  // back reloaded for JavaScriptExecution: this is the planted fault that check must see.
  const cached = await launchBrowser({ bfcache: true });
  const noJournal = { noteFault() {} };
  const noSim = { control: async () => ({ logNext: 0 }) };
  try {
    const outcome = async (letGo) => {
      const page = await cached.newPage();
      await page.goto(new URL(BLANK_PAGE, server.url).href);
      await page.evaluate((letGo) => {
        window.registry = new FinalizationRegistry(() => {});
        if (letGo) window.registry.register({}, "let go");
      }, letGo);
      return leaveAndReturn(noSim, noJournal, page);
    };
    assert.deepEqual(await outcome(false), { restored: true }, "the control: nothing due, the page is restored");
    const evicted = await outcome(true);
    assert.equal(evicted.restored, false);
    assert.match(evicted.reasons, /JavaScriptExecution/);
  } finally {
    await cached.close();
  }
});
