// runwatch/fleet-rlm: the fleet-rlm client, in a wasm module of its own (dist/fleet/), so an
// app that watches only RocketRide never downloads it, and the other way round.
//
// Everything its generated module exports is re-exported unchanged, except `init` (default
// export), `initSync` and `FleetRlmClient`, which follow the same rules as the RocketRide
// entry (entry.js): memoised init, a clear error before init, open clients kept reachable
// until close()/free().
import wbgInit, * as wasm from "./dist/fleet/runwatch.js";
import { entryPoint, keptOpen } from "./entry.js";

export * from "./dist/fleet/runwatch.js";

const entry = entryPoint(wbgInit, wasm.initSync);
export default entry.init;
export const initSync = entry.initSync;
export const FleetRlmClient = entry.requireInit(keptOpen(wasm.FleetRlmClient));
