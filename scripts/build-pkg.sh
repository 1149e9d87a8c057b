#!/usr/bin/env bash
# Builds the generated part of the npm package, pkg/dist/, from the `runwatch` crate:
#   1. cargo build --release --target wasm32-unknown-unknown -p runwatch
#   2. wasm-bindgen --target web → runwatch.js, runwatch_bg.wasm, runwatch.d.ts
#   3. wasm-opt -Oz (npm `binaryen`; Debian's binaryen is known to produce broken output),
#      enabling exactly the wasm features rustc's output declares
#   4. checks: the module compiles, and imports nothing from "env" (an "env" import means a
#      dependency reached for a libc/host function, and the module cannot load in a browser)
#   5. prints raw and gzip sizes of the wasm and the JS glue
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

step "cargo build --release --target wasm32-unknown-unknown -p runwatch"
cargo build --release --target wasm32-unknown-unknown -p runwatch
raw="$(target_dir)/wasm32-unknown-unknown/release/runwatch.wasm"
[ -f "$raw" ] || die "cargo produced no $raw"

# The features rustc compiled for, from the module's target_features custom section, mapped to
# wasm-opt flags. wasm-opt must be allowed every feature the input uses, or it rejects it.
features=$(node --input-type=module - "$raw" <<'JS'
import fs from "node:fs";
const mod = new WebAssembly.Module(fs.readFileSync(process.argv[2]));
const [section] = WebAssembly.Module.customSections(mod, "target_features");
const names = { "nontrapping-fptoint": "nontrapping-float-to-int" };
const flags = [];
if (section) {
  const b = new Uint8Array(section);
  let i = 0;
  const leb = () => { let r = 0, s = 0, x; do { x = b[i++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return r; };
  for (let n = leb(); n > 0; n--) {
    const prefix = String.fromCharCode(b[i++]);
    const len = leb();
    const name = new TextDecoder().decode(b.subarray(i, i + len));
    i += len;
    if (prefix === "+") flags.push(`--enable-${names[name] ?? name}`);
  }
} else {
  // No section (stripped by a linker flag): assume rustc's defaults for this target.
  for (const f of ["bulk-memory", "multivalue", "mutable-globals", "nontrapping-float-to-int", "reference-types", "sign-ext"]) flags.push(`--enable-${f}`);
}
console.log(flags.join(" "));
JS
)
step "wasm features: ${features:-<none>}"

mkdir -p "$(target_dir)"
tmp=$(mktemp -d "$(target_dir)/pkg-dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step "wasm-bindgen --target web → pkg/dist"
wasm-bindgen --target web --out-dir "$tmp" --out-name runwatch "$raw"

step "wasm-opt -Oz"
# shellcheck disable=SC2086 # $features is a list of flags
node_modules/.bin/wasm-opt -Oz $features --strip-debug --strip-producers \
  "$tmp/runwatch_bg.wasm" -o "$tmp/runwatch_bg.opt.wasm" ||
  die "wasm-opt failed (flags: -Oz $features); pkg/dist was left as it was"
mv "$tmp/runwatch_bg.opt.wasm" "$tmp/runwatch_bg.wasm"

step "checking the optimised module"
node --input-type=module - "$tmp/runwatch_bg.wasm" <<'JS'
import fs from "node:fs";
const mod = new WebAssembly.Module(fs.readFileSync(process.argv[2])); // throws if invalid
const env = WebAssembly.Module.imports(mod).filter((i) => i.module === "env");
if (env.length) {
  console.error(`runwatch_bg.wasm imports from "env" (cannot load in a browser): ${env.map((i) => i.name).join(", ")}`);
  process.exit(1);
}
JS

rm -rf pkg/dist
mv "$tmp" pkg/dist
chmod 755 pkg/dist  # mktemp made it 700
trap - EXIT

wasm_raw=$(wc -c < pkg/dist/runwatch_bg.wasm | tr -d ' ')
js_raw=$(wc -c < pkg/dist/runwatch.js | tr -d ' ')
idx_raw=$(wc -c < pkg/index.js | tr -d ' ')
wasm_gz=$(gz_size pkg/dist/runwatch_bg.wasm)
js_gz=$(gz_size pkg/dist/runwatch.js)
idx_gz=$(gz_size pkg/index.js)
total=$((wasm_gz + js_gz + idx_gz))
printf '\n%-28s %10s %10s\n' "pkg file" "bytes" "gzip -9"
printf '%-28s %10s %10s\n' "dist/runwatch_bg.wasm" "$wasm_raw" "$wasm_gz"
printf '%-28s %10s %10s\n' "dist/runwatch.js" "$js_raw" "$js_gz"
printf '%-28s %10s %10s\n' "index.js" "$idx_raw" "$idx_gz"
printf '%-28s %10s %10s  (%s KiB gz; goal ≤ 25 KB)\n' "total wasm + js" "" "$total" "$(awk "BEGIN{printf \"%.1f\", $total/1024}")"
