#!/usr/bin/env bash
# THE test command (README, .ci/run): `bash scripts/test.sh`. From a fresh clone it installs
# what is missing and runs every test layer:
#   1. scripts/setup.sh                 tools: wasm32 target, wasm-bindgen-cli, Chromium, npm ci
#   2. sans-IO guard                    src/core and src/protocol use no web-sys/js-sys/gloo,
#                                       host clock or Math.random (comment lines ignored)
#   3. cargo clippy                     lints, warnings fail: native (all targets, sim/ too) and
#                                       the wasm module of each protocol
#   4. cargo test --workspace           native unit, property and integration tests (incl. sim/)
#   5. cargo build -p runwatch-sim      the simulator the JavaScript tests start (target/debug;
#                                       target/release too, for a steady stream of thousands
#                                       of events a second)
#   6. conformance kit                  ../shared/conformance/run.sh: that simulator against
#                                       sessions recorded on the real RocketRide server; every
#                                       scenario of the kit must match ("skip" without the kit)
#   7. scripts/build-pkg.sh             the npm package's pkg/dist (release wasm, wasm-opt)
#   8. node --test                      every tests/**/*.test.mjs, one file at a time, spec
#                                       reporter: harness, typings (tsc), npm pack + Vite,
#                                       browser and end-to-end tests
#   9. the same, Worker mode            the browser and reliability tests again with
#                                       RUNWATCH_MODE=worker ("runwatch/worker" on their pages)
# The web shell (src/web) is tested where it runs, by the browser tests of step 8 (the built
# package in headless Chromium against the simulator); it holds no logic a native test could
# reach. Steps 2–9 all run even when one fails, so one run shows every failure; the summary at the end
# lists each step (ok / skip / FAIL), and the exit status is non-zero if any step failed.
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=auth).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNWATCH_SCRIPT=test
source scripts/lib.sh

results=()
failed=0
SKIP=99 # a step function returns this when it has nothing to run yet; the summary says so
run_step() { # run_step <name> <command...>
  local name=$1; shift
  local t0=$SECONDS rc=0
  step "── $name"
  if "$@"; then rc=0; else rc=$?; fi
  local took=$((SECONDS - t0))
  case $rc in
    0) results+=("$(printf 'ok    %4ss  %s' "$took" "$name")") ;;
    "$SKIP") results+=("$(printf 'skip  %4ss  %s' "$took" "$name")") ;;
    *) results+=("$(printf 'FAIL  %4ss  %s' "$took" "$name")"); failed=1 ;;
  esac
}

summary() {
  printf '\n\033[1m[test] summary\033[0m\n'
  for r in "${results[@]}"; do printf '  %s\n' "$r"; done
  if [ "$failed" = 0 ]; then printf '\033[1;32mall steps passed\033[0m (%ss)\n' "$SECONDS"
  else printf '\033[1;31msome steps failed\033[0m (%ss)\n' "$SECONDS"; fi
}
trap summary EXIT

# Setup failing means nothing else can run: stop here.
run_step "setup (scripts/setup.sh)" bash scripts/setup.sh
[ "$failed" = 0 ] || exit 1

sans_io_guard() {
  # The core and the protocol decoders must stay testable natively (DESIGN.md "The core is
  # sans-IO"): no browser bindings, no host clock, no host randomness.
  local hits
  hits=$(grep -rnE '\b(web_sys|js_sys|gloo_[a-z]+|wasm_bindgen|wasm_bindgen_futures)::|Math\.random|Date::now|Instant::now|SystemTime::now' \
    src/core src/protocol 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
  if [ -n "$hits" ]; then
    printf 'src/core or src/protocol reaches for IO, a clock or randomness:\n%s\n' "$hits" >&2
    return 1
  fi
}
run_step "sans-IO guard (src/core, src/protocol)" sans_io_guard
lint() {
  # Warnings fail: the native code with its tests, examples and the simulator, then the wasm
  # module (src/web compiles only for wasm32), each protocol's build.
  cargo clippy --workspace --all-targets -- -D warnings &&
    cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings &&
    cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features fleet-rlm -- -D warnings
}
run_step "cargo clippy (native, wasm; warnings fail)" lint
run_step "cargo test --workspace" cargo test --workspace

build_sims() {
  cargo build -p runwatch-sim && cargo build --release -p runwatch-sim
}
run_step "cargo build -p runwatch-sim (debug, then release)" build_sims

conformance_kit() {
  # The kit lives next to the checkout (CI clones the repository beside ../shared). It records
  # its scenarios against the simulator built in step 5 and compares their shapes and order
  # with the real server's transcripts; see README "The simulator".
  local kit=../shared/conformance/run.sh
  if [ ! -f "$kit" ]; then
    echo "skip: $kit not found (the conformance kit is expected next to this checkout)"
    return "$SKIP"
  fi
  local work port
  work="$(target_dir)/conformance"
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
  rm -rf "$work/recorded" # never compare a stale recording; the venv stays (run.sh reuses it)
  # run.sh uses PORT and PORT+1; take a free one rather than its fixed default, so two
  # checkouts on one machine can run this step at the same time.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  WORK="$work" SKIP_BUILD=1 SIM_CMD="$(target_dir)/debug/runwatch-sim --port {port} --api-key {key}" \
    bash "$kit" . "$port"
}
run_step "conformance kit (../shared/conformance/run.sh)" conformance_kit
run_step "build npm package (scripts/build-pkg.sh)" bash scripts/build-pkg.sh

js_tests() {
  local files
  mapfile -t files < <(find tests -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
  [ "${#files[@]}" -gt 0 ] || { echo "no tests/**/*.test.mjs found" >&2; return 1; }
  printf '  %s\n' "${files[@]}"
  # One file at a time: browser tests share two cores with Chromium and the simulator.
  # A test that hangs fails after 5 minutes instead of stalling the run.
  # shellcheck disable=SC2046 # the flag, when Node needs one, is one word
  node $(node_websocket_flag) --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "$@" "${files[@]}"
}
run_step "JavaScript tests (node --test tests/**/*.test.mjs)" js_tests "$@"

worker_mode_tests() {
  # The same browser and reliability tests once more with "runwatch" meaning
  # "runwatch/worker" on their pages (tests/support/server.mjs), so Worker mode is held to
  # the same contract: the files that drive a client through the public API. Not the
  # fleet-rlm ones (fleet.test.mjs, fleet-faults.test.mjs): FleetRlmClient has no Worker mode.
  RUNWATCH_MODE=worker node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "$@" \
    tests/browser/client.test.mjs tests/browser/store.test.mjs tests/browser/cleanup.test.mjs \
    tests/reliability/faults.test.mjs tests/reliability/hostile.test.mjs
}
run_step "JavaScript tests in Worker mode (RUNWATCH_MODE=worker)" worker_mode_tests "$@"

[ "$failed" = 0 ]
