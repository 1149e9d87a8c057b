// Checks a dashboard page the way a person would notice problems: nothing wider than the
// viewport, and every control named for assistive technology.
import assert from "node:assert/strict";

/** No horizontal overflow, and no element sticking out past the right edge. */
export async function noOverflow(page, label) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `${label}: the page is ${scroll} px wide in a ${client} px viewport`);
  // Nothing may stick out of the viewport either (an element clipped by overflow-x: hidden).
  const wide = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
      // checkVisibility: content of a closed <details> is laid out but not shown.
      .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && getComputedStyle(el).position !== "absolute" && el.checkVisibility(); })
      .filter((el) => !el.closest(".tabs, .output-box, .chart-box, .skip"))
      .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? "").slice(0, 40)}" → ${Math.round(el.getBoundingClientRect().right)} of ${w}`);
  });
  assert.deepEqual(wide, [], `${label}: elements past the right edge`);
}

/** Every control has an accessible name; every image-like element has a text alternative. */
export async function a11yBasics(page, label) {
  const unnamed = await page.evaluate(() => {
    const name = (el) => (el.getAttribute("aria-label") || el.closest("label")?.textContent ||
      (el.id && document.querySelector(`label[for="${el.id}"]`)?.textContent) || (el.tagName === "BUTTON" || el.tagName === "A" ? el.textContent : "") || "").trim();
    return [...document.querySelectorAll("input, select, textarea, button, a[href], canvas, [role=img], [role=progressbar]")]
      .filter((el) => !el.closest("[aria-hidden=true], [hidden]") && !name(el))
      .map((el) => el.outerHTML.slice(0, 80));
  });
  assert.deepEqual(unnamed, [], `${label}: controls without an accessible name`);
}
