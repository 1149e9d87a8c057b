#!/usr/bin/env bash
# Builds the generated part of the npm package, pkg/dist/, from the `runwatch` crate: one
# module per protocol, pkg/dist/ for RocketRide ("runwatch", default features) and
# pkg/dist/fleet/ for fleet-rlm ("runwatch/fleet-rlm", `--features fleet-rlm`), each by:
#   1. cargo build --profile P --target wasm32-unknown-unknown -p runwatch [features], P being
#      release-wasm (RocketRide) or release-small (fleet-rlm); Cargo.toml says why
#   2. wasm-bindgen --target web → runwatch.js, runwatch_bg.wasm, runwatch.d.ts
#   3. wasm-opt -O3 (RocketRide) or -Oz (fleet-rlm) (npm `binaryen`; Debian's binaryen is
#      known to produce broken output), enabling exactly the wasm features rustc's output
#      declares
#   4. checks: the module compiles, and imports nothing from "env" (an "env" import means a
#      dependency reached for a libc/host function, and the module cannot load in a browser)
#   5. then prints the package's sizes, raw / gzip / brotli (bench/size.mjs)
# The new dist is assembled in a temporary folder and swapped in only when every step passed,
# so a failed build never leaves a half-written pkg/dist. Safe to run repeatedly.
# Needs the tools scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNWATCH_SCRIPT=build-pkg
source scripts/lib.sh
require_node_modules

pin=$(wasm_bindgen_pin)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
[ "$have" = "$pin" ] || die "wasm-bindgen CLI is '${have:-missing}', the crate pins $pin; run: bash scripts/setup.sh"

mkdir -p "$(target_dir)"
tmp=$(mktemp -d "$(target_dir)/pkg-dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# build_module <out-dir> <cargo profile> <wasm-opt level> <cargo flags...>: one wasm module of the
# package, built, bound and optimised into <out-dir>. Each protocol is its own module, so an
# app downloads only the protocol it imports ("runwatch": RocketRide; "runwatch/fleet-rlm":
# fleet-rlm).
build_module() {
  local out=$1 profile=$2 level=$3; shift 3
  step "cargo build --profile $profile --target wasm32-unknown-unknown -p runwatch $*"
  cargo build --profile "$profile" --target wasm32-unknown-unknown -p runwatch "$@"
  local raw="$(target_dir)/wasm32-unknown-unknown/$profile/runwatch.wasm"
  [ -f "$raw" ] || die "cargo produced no $raw"

  # The features rustc compiled for, from the module's target_features custom section,
  # mapped to wasm-opt flags. wasm-opt must be allowed every feature the input uses.
  local features=$(node scripts/wasm-features.mjs "$raw")
  step "wasm features: ${features:-<none>}"

  step "wasm-bindgen --target web → $out"
  mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name runwatch "$raw"

  step "wasm-opt $level"
  # shellcheck disable=SC2086 # $features is a list of flags
  node_modules/.bin/wasm-opt "$level" $features --strip-debug --strip-producers \
    "$out/runwatch_bg.wasm" -o "$out/runwatch_bg.opt.wasm" ||
    die "wasm-opt failed (flags: $level $features); pkg/dist was left as it was"
  mv "$out/runwatch_bg.opt.wasm" "$out/runwatch_bg.wasm"

  step "checking the optimised module"
  node --input-type=module - "$out/runwatch_bg.wasm" <<'JS'
import fs from "node:fs";
const mod = new WebAssembly.Module(fs.readFileSync(process.argv[2])); // throws if invalid
const env = WebAssembly.Module.imports(mod).filter((i) => i.module === "env");
if (env.length) {
  console.error(`runwatch_bg.wasm imports from "env" (cannot load in a browser): ${env.map((i) => i.name).join(", ")}`);
  process.exit(1);
}
JS
}

# RocketRide streams thousands of events a second: built for speed (Cargo.toml's
# `release-wasm`: runwatch at opt-level 3, its dependencies for size).
# Its wasm-opt pass is -O3, not -Oz: on 2026-12-06 -O3 made the module 0.45 KB gzip larger
# and C about 2.5 % and S about 3 % faster (eight alternating `node bench/feed.mjs
# --recording` pairs, best of 7 rounds each: C median 6.56 → 6.40 µs/event, better in 5 and
# worse in 1; S 3.95 → 3.81, better in 6; an earlier set read C 2 % faster, S the same).
# fleet-rlm's sockets carry a chat turn's tokens and steps: built for size (`release-small`,
# wasm-opt -Oz).
# RocketRide's module also caps LLVM's inliner at 75 (opt-level 3 allows 250). Measured at
# a9dd3c5, a cap of 100 made the module 14 KB gzip (4 %) smaller with C and S within
# `node bench/feed.mjs`'s noise; on 2026-12-06, 75 took 4.0 KB more (194.7 → 190.7 KB) with
# C within the noise and S about 2 % slower (best of 7-15 rounds, alternating pairs: C
# 5.73-6.48 against 5.74-6.45 µs, S 3.61-4.10 against 3.59-4.02). Caps of 65 and 50 then
# made C 15-18 % slower: serde_json's one-byte writes (quotes, colons, commas) each became a
# call of Vec's `extend_from_slice`. With the SDK's own writer (core::json_write) instead,
# 50 takes 1.7 KB more (201.0 → 199.3 KB) with C within the noise, but S read about 6 %
# slower in two sets of alternating pairs (medians of six, best of 7 rounds each: 4.96
# against 4.65 µs/event, 5.10 against 4.66), though natively it counts 1.5 % fewer
# instructions; S's goal is near, so the cap stays at 75. 25 made S about 10 % slower.
# Cargo appends this `--config` array to .cargo/config.toml's rustflags, so the simd128
# feature stays. Not for `release-small`: opt-level "z" inlines far less by default, and an
# explicit cap would raise it.
#
# Both modules name the crates they were built from by path in their panic locations; the
# build machine's crate cache prefix (e.g. /root/.cargo/registry/src/) is cut from those
# paths, so the shipped module does not carry it and is the same whichever machine built it.
registry=$(cargo_home)/registry/src/
trim="\"--remap-path-prefix=$registry=\""
build_module "$tmp" release-wasm -O3 \
  --config "target.wasm32-unknown-unknown.rustflags = [\"-C\", \"llvm-args=-inline-threshold=75\", $trim]"
build_module "$tmp/fleet" release-small -Oz --no-default-features --features fleet-rlm \
  --config "target.wasm32-unknown-unknown.rustflags = [$trim]"

rm -rf pkg/dist
mv "$tmp" pkg/dist
chmod 755 pkg/dist  # mktemp made it 700
trap - EXIT

node bench/size.mjs
