// Waiting in Node-side test code (page-side waits use Playwright's waitForFunction).

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it returns something truthy (returned), or throws after `timeoutMs`. */
export async function until(what, fn, timeoutMs = 15_000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}
