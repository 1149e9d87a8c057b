// The wasm-opt/binaryen flags (`--enable-…`) for the features a wasm module was built with,
// read from its `target_features` custom section; rustc's defaults for wasm32 when the
// section was stripped. binaryen's tools must be allowed every feature their input uses.
//
//   node scripts/wasm-features.mjs FILE.wasm   # prints the flags on one line
//
// scripts/build-pkg.sh passes them to wasm-opt; bench/counts.mjs to wasm-opt, wasm-dis and
// wasm-as.
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const NAMES = { "nontrapping-fptoint": "nontrapping-float-to-int", simd128: "simd" };
const RUSTC_DEFAULTS = ["bulk-memory", "multivalue", "mutable-globals", "nontrapping-float-to-int", "reference-types", "sign-ext", "simd"];

/** The `--enable-*` flags of the module in `file`. */
export function featureFlags(file) {
  const mod = new WebAssembly.Module(fs.readFileSync(file));
  const [section] = WebAssembly.Module.customSections(mod, "target_features");
  if (!section) return RUSTC_DEFAULTS.map((f) => `--enable-${f}`);
  const flags = [];
  const b = new Uint8Array(section);
  let i = 0;
  const leb = () => { let r = 0, s = 0, x; do { x = b[i++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return r; };
  for (let n = leb(); n > 0; n--) {
    const prefix = String.fromCharCode(b[i++]);
    const len = leb();
    const name = new TextDecoder().decode(b.subarray(i, i + len));
    i += len;
    if (prefix === "+") flags.push(`--enable-${NAMES[name] ?? name}`);
  }
  return flags;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(featureFlags(process.argv[2]).join(" "));
