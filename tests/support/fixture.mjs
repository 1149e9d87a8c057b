// The fixture most browser test files share: a static server for the repository, Chromium
// and a simulator, started before the file's tests and stopped after them, and the page a
// test opened closed (with its client) after the test.
import { before, after, afterEach } from "node:test";
import { startServer } from "./server.mjs";
import { launchBrowser } from "./browser.mjs";
import { startSim } from "./sim.mjs";

/**
 * Registers the file's hooks. `ready({ server, browser, sim })` hands the three to the file
 * once they run. With `openPage` (returning the page the current test opened, if any),
 * that page's client (`window.rw.client`) is closed and the page too after each test, and
 * `pageClosed()` tells the file to forget it.
 *
 * `bfcache` keeps the browser's back/forward cache on (see launchBrowser).
 *
 * @param {{ simArgs: string[], ready: (f: object) => void, openPage?: () => any, pageClosed?: () => void, bfcache?: boolean }} o
 */
export function useBrowserFixture({ simArgs, ready, openPage, pageClosed, bfcache = false }) {
  const f = {};
  before(async () => {
    f.server = await startServer();
    f.browser = await launchBrowser({ bfcache });
    f.sim = await startSim({ args: simArgs });
    ready(f);
  });
  after(async () => {
    await f.sim?.stop();
    await f.browser?.close();
    await f.server?.close();
  });
  if (!openPage) return;
  afterEach(async () => {
    const page = openPage();
    if (!page) return;
    await page.evaluate(() => window.rw?.client?.close()).catch(() => {});
    await page.close();
    pageClosed();
  });
}
