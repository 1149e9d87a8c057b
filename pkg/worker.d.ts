// runwatch/worker: the same API and types as "runwatch"; the clients run in a Worker.
// See worker.js for the few differences (getters show the Worker's values as of the last batch).
export * from "./index.js";
export { default } from "./index.js";
