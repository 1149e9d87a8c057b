// Launch Debian's headless Chromium through playwright-core (never a downloaded browser).
//
//   const b = await launchBrowser();
//   const page = await b.newPage();          // a fresh, isolated browser context per page
//   await page.goto(url);
//   ...
//   assertNoPageErrors(page);                // no uncaught exception, no console.error
//   await b.close();
//
// Every page records what it printed: `page.consoleMessages` ({type, text, location}) and
// `page.pageErrors` (uncaught exceptions and unhandled rejections, as Errors). A test reads
// them or calls `assertNoPageErrors(page)`.
//
// Flags: the set known to work on these machines (see .library env notes): without the
// background-networking flags Chromium keeps dialing out and the closed network refuses it.
// Set RUNWATCH_CHROMIUM to use another binary. Playwright kills the browser when the test
// process exits, also after a failure.
//
// Measurement note (DESIGN.md): Playwright mirrors every WebSocket frame of pages it drives
// back to Node. Use this for correctness tests; benchmarks need a raw-CDP page instead.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.RUNWATCH_CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const LAUNCH_TIMEOUT_MS = 30_000;
const PAGE_TIMEOUT_MS = 15_000;

/**
 * @param {object} [opts]
 * @param {string[]} [opts.args]  extra Chromium flags
 * @param {number} [opts.timeoutMs]  default timeout for page actions and waits
 * @param {boolean} [opts.bfcache]  keep the back/forward cache on, as browsers ship it
 *   (Playwright turns it off by default)
 */
export async function launchBrowser({ args = [], timeoutMs = PAGE_TIMEOUT_MS, bfcache = false } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    ignoreDefaultArgs: bfcache ? ["--disable-back-forward-cache"] : undefined,
    timeout: LAUNCH_TIMEOUT_MS,
  });
  const contexts = new Set();
  return {
    browser,
    /** A new page in its own browser context, recording console output and page errors. */
    async newPage() {
      const context = await browser.newContext();
      contexts.add(context);
      context.setDefaultTimeout(timeoutMs);
      const page = await context.newPage();
      page.consoleMessages = [];
      page.pageErrors = [];
      page.on("console", (msg) => {
        page.consoleMessages.push({ type: msg.type(), text: msg.text(), location: msg.location() });
        if (process.env.RUNWATCH_ECHO_CONSOLE) console.log(`[page ${msg.type()}] ${msg.text()}`);
      });
      page.on("pageerror", (err) => page.pageErrors.push(err));
      // Worker mode: what the SDK's Worker prints counts as the page's.
      page.on("worker", (worker) => worker.on("console", (msg) => {
        page.consoleMessages.push({ type: msg.type(), text: msg.text(), location: msg.location() });
      }));
      page.once("close", () => contexts.delete(context));
      return page;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close().catch(() => {});
    },
  };
}

/**
 * The line Chromium itself logs when a WebSocket handshake to the local simulator fails,
 * whatever the cause (`ERR_CONNECTION_REFUSED` while the engine is down; `ERR_CONNECTION_RESET`
 * when a retry lands in the backlog of a listener that is being killed; the `refuse` fault's
 * 503). Tests that stop, restart or fault the server tolerate it: it is the browser's message,
 * not the SDK's, and no page can silence it.
 */
export const BROWSER_WS_FAILURE = /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/[^']*' failed: /;

/**
 * Throw if the page had an uncaught error or printed a console error.
 * @param {import("playwright-core").Page} page
 * @param {{ allowConsole?: RegExp }} [opts]  console errors matching this are tolerated
 */
export function assertNoPageErrors(page, { allowConsole } = {}) {
  const problems = [
    ...page.pageErrors.map((e) => `uncaught: ${e.stack || e.message || e}`),
    ...page.consoleMessages
      .filter((m) => m.type === "error" && !(allowConsole && allowConsole.test(m.text)))
      .map((m) => `console.error: ${m.text} (${m.location?.url ?? "?"}:${m.location?.lineNumber ?? "?"})`),
  ];
  if (problems.length) throw new Error(`page reported ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
}

/**
 * Opens another page in `page`'s tab (the same one with `?elsewhere`), awaits
 * `whileAway(cdp)` (a DevTools session of the tab, e.g. to force a garbage collection), and
 * goes back. Whether the page came back from the back/forward cache or was loaded anew
 * is the browser's choice: `{ restored }`, and when it was not, the `reasons`: Chromium's
 * own, from DevTools' `Page.backForwardCacheNotUsed` (the page's NotRestoredReasons say
 * "masked" for most of them), else the NotRestoredReasons tree, flattened. Needs a browser
 * launched with `bfcache` to restore.
 * @param {import("playwright-core").Page} page
 * @param {(cdp: import("playwright-core").CDPSession) => Promise<void>} [whileAway]
 * @returns {Promise<{ restored: boolean, reasons?: string }>}
 */
export async function awayAndBack(page, whileAway = async () => {}) {
  const cdp = await page.context().newCDPSession(page);
  const explained = [];
  cdp.on("Page.backForwardCacheNotUsed", (e) => explained.push(...e.notRestoredExplanations.map((x) => `${x.type}:${x.reason}`)));
  try {
    await cdp.send("Page.enable");
    await page.evaluate(() => { window.__beforeLeaving = true; });
    await page.goto(new URL("?elsewhere", page.url()).href);
    await whileAway(cdp);
    await page.goBack({ waitUntil: "commit" }); // a restore from the cache fires no `load`
    const { restored, reasons } = await page.evaluate(() => {
      if (window.__beforeLeaving === true) return { restored: true };
      const flat = (node) => [...(node?.reasons ?? []).map((r) => r.reason), ...(node?.children ?? []).flatMap(flat)];
      return { restored: false, reasons: flat(performance.getEntriesByType("navigation")[0]?.notRestoredReasons).join("+") || "none given" };
    });
    return restored ? { restored } : { restored, reasons: explained.join("+") || reasons };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/**
 * Puts `page` in the back/forward cache and brings it back (`awayAndBack`, with
 * `whileHidden()` run while it is away). Throws unless the page came back from the cache,
 * with Chromium's reasons when it was reloaded instead.
 * @param {import("playwright-core").Page} page
 * @param {() => Promise<void>} [whileHidden]
 */
export async function throughBackForwardCache(page, whileHidden) {
  const { restored, reasons } = await awayAndBack(page, whileHidden);
  if (!restored) throw new Error(`the page was reloaded, not restored from the back/forward cache: ${reasons}`);
}

/**
 * Counts the WebSockets the page's own script opens (a Worker's are not counted), from
 * before the page's first script runs. Returns a function that reads the count.
 * @param {import("playwright-core").Page} page
 * @returns {Promise<() => Promise<number>>}
 */
export async function countPageSockets(page) {
  await page.addInitScript(() => {
    const WS = globalThis.WebSocket;
    window.__pageSockets = 0;
    globalThis.WebSocket = class extends WS {
      constructor(...args) { super(...args); window.__pageSockets += 1; }
    };
  });
  return () => page.evaluate(() => window.__pageSockets);
}

// 1796323557.5572793 is a float that a fast decimal parse (serde_json's default) gets one unit
// in the last place wrong: it arrived as 1796323557.557279.
export const EXACT = "1796323557.5572793";

/** Page setup (run in the page before a client is made): every incoming frame that contains
 * `marker` has each `[pattern, replacement]` applied (patterns are regular expression sources,
 * global) before the client reads it; the last such frame is kept as `window.rewritten`. */
export function rewriteFrames({ marker, edits }) {
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    set onmessage(handler) {
      super.onmessage = handler && ((e) => {
        if (typeof e.data !== "string" || !e.data.includes(marker)) return handler(e);
        const data = edits.reduce((text, [pattern, to]) => text.replace(new RegExp(pattern, "g"), to), e.data);
        window.rewritten = data;
        return handler(new MessageEvent("message", { data }));
      });
    }
    get onmessage() { return super.onmessage; }
  };
}
