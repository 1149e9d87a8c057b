// A static server and a headless Chromium driven over raw CDP (bench/cdp.mjs), started before a
// test file's tests and closed after them: for the tests that time a page's socket, where
// Playwright's frame mirroring would distort what they measure (tests/browser/gather.test.mjs).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { launch } from "../../bench/cdp.mjs";
import { BLANK_PAGE, startServer } from "./server.mjs";

/** `{ server, browser, openBlank }`: the first two filled in before the file's first test;
 * `openBlank()` opens the server's blank page and resolves once it has loaded. */
export function useCdpBrowser() {
  const fixture = {
    server: undefined,
    browser: undefined,
    openBlank: () =>
      fixture.browser.open(new URL(BLANK_PAGE, fixture.server.url).href, { ready: `location.pathname === "/${BLANK_PAGE}" && document.readyState === "complete"` }),
  };
  before(async () => {
    assert.equal(typeof WebSocket, "function", "Node needs --experimental-websocket for a global WebSocket (scripts/test.sh passes it)");
    fixture.server = await startServer();
    fixture.browser = await launch();
  });
  after(async () => {
    await fixture.browser?.close();
    await fixture.server?.close();
  });
  return fixture;
}
