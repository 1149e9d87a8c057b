// Headless Chromium for measurements: launched through playwright-core (Debian's binary, the
// flags the tests use) with a DevTools port, and every measured page driven over a raw CDP
// WebSocket in a browser context of its own: Target.createBrowserContext, Target.createTarget,
// attach (flattened session), then only the Runtime and Performance domains (the Profiler and
// Tracing domains on separate pages, never in a measured window). Playwright never sees the
// page, so it cannot mirror its WebSocket frames (DESIGN.md, "Toolchain notes").
//
// Needs a global WebSocket (Node ≥ 22, or Node 20 with --experimental-websocket; bench/run.mjs
// re-executes itself with that flag when needed).
import net from "node:net";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../tests/support/browser.mjs";

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.id = 0;
    this.waiting = new Map();
    this.listeners = new Set();
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.id !== undefined) {
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (!w) return;
        if (msg.error) w.reject(new Error(`${w.method}: ${msg.error.message}`));
        else w.resolve(msg.result);
      } else {
        for (const l of this.listeners) l(msg);
      }
    };
  }

  send(method, params = {}, sessionId) {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }
}

/**
 * Launches Chromium; returns { open(url, { ready }) → Page, version, close() }. `open` returns
 * once the page's `ready` expression is true (default: bench/page.mjs has loaded).
 */
export async function launch({ args = [] } = {}) {
  const port = await freePort();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--remote-debugging-port=${port}`, ...args],
    timeout: 30_000,
  });
  let info;
  for (let i = 0; i < 50 && !info; i += 1) {
    try {
      info = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!info) throw new Error("Chromium's DevTools port did not answer");
  const ws = new WebSocket(info.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const cdp = new Cdp(ws);
  return {
    version: info.Browser,
    async open(url, { ready = "window.benchReady === true" } = {}) {
      const { browserContextId } = await cdp.send("Target.createBrowserContext", { disposeOnDetach: true });
      const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank", browserContextId });
      const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
      const page = new Page(cdp, sessionId, targetId, browserContextId);
      await page.send("Runtime.enable");
      await page.send("Performance.enable", { timeDomain: "threadTicks" });
      await page.evaluate(`location.href = ${JSON.stringify(url)}`);
      await page.waitFor(ready, 20_000);
      return page;
    },
    async close() {
      try { ws.close(); } catch { /* gone */ }
      await browser.close().catch(() => {});
    },
  };
}

class Page {
  constructor(cdp, sessionId, targetId, contextId) {
    Object.assign(this, { cdp, sessionId, targetId, contextId });
    this.exceptions = [];
    this.off = (msg) => {
      if (msg.sessionId === sessionId && msg.method === "Runtime.exceptionThrown") {
        this.exceptions.push(msg.params.exceptionDetails?.exception?.description ?? msg.params.exceptionDetails?.text);
      }
    };
    cdp.listeners.add(this.off);
  }

  send(method, params) {
    return this.cdp.send(method, params, this.sessionId);
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  async evaluate(expression) {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) {
      throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  async waitFor(expression, timeoutMs = 10_000, everyMs = 50) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await this.evaluate(expression)) return;
      } catch { /* navigating */ }
      if (Date.now() > until) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Performance.getMetrics as a name → value object (durations in seconds). */
  async metrics() {
    const { metrics } = await this.send("Performance.getMetrics");
    return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  }

  async close() {
    this.cdp.listeners.delete(this.off);
    await this.cdp.send("Target.closeTarget", { targetId: this.targetId }).catch(() => {});
    await this.cdp.send("Target.disposeBrowserContext", { browserContextId: this.contextId }).catch(() => {});
  }
}
