// Types of runwatch/fleet-rlm, generated from the Rust crate by wasm-bindgen into
// ./dist/fleet/runwatch.d.ts. Only the default export is declared here: wasm-bindgen's init.
import type wbgInit from "./dist/fleet/runwatch.js";
// `Symbol.dispose` for the generated classes under any `lib` setting.
import type {} from "./dispose.js";

export * from "./dist/fleet/runwatch.js";

/**
 * Load and instantiate the fleet-rlm module. Call it once, and await it, before creating a
 * client; calling it again returns the same promise.
 */
export default function init(...args: Parameters<typeof wbgInit>): ReturnType<typeof wbgInit>;
