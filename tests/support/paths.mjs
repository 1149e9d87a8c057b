// Where the test harness finds things. One place, so every test agrees.
//
// - REPO_ROOT: the repository (this file lives in tests/support/).
// - TARGET_DIR: cargo's target dir; honours CARGO_TARGET_DIR like cargo does.
// - SIM_BIN: the simulator binary, `target/debug/runwatch-sim` unless RUNWATCH_SIM_BIN says
//   otherwise. scripts/test.sh builds it before any test runs.
// - RELEASE_SIM_BIN: the optimised build, `target/release/runwatch-sim`, for the tests whose
//   stream must keep a steady pace of thousands of events a second (scripts/test.sh builds it).
// - PKG_DIR: the npm package (pkg/); scripts/build-pkg.sh generates pkg/dist/ into it.
// - LOG_DIR: where spawned processes' output goes (target/test-logs/).
import { fileURLToPath } from "node:url";
import path from "node:path";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const TARGET_DIR = path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR || "target");
export const SIM_BIN = process.env.RUNWATCH_SIM_BIN || path.join(TARGET_DIR, "debug", "runwatch-sim");
export const RELEASE_SIM_BIN = path.join(TARGET_DIR, "release", "runwatch-sim");
export const PKG_DIR = path.join(REPO_ROOT, "pkg");
export const LOG_DIR = path.join(TARGET_DIR, "test-logs");
