// The shipped size of the built package: every file under pkg/dist plus the package's own
// entry files, raw / gzip -9 / brotli (quality 11).
//
//   node bench/size.mjs [--json] [pkgDir]        # prints a table (or JSON)
//
//   import { packageSizes } from "./bench/size.mjs";
//   const s = packageSizes("pkg");  // { files: [{file, kind, raw, gzip, brotli}], wasm, js, total }
//
// `wasm`, `js` and `total` are sums of {raw, gzip, brotli} over the files of that kind; JS
// counts every .js/.mjs the package ships (the generated glue and the hand-written entries),
// not .d.ts. Sizes are of each file compressed alone, as a server sends them.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_PKG = path.resolve(HERE, "..", "pkg");

function sizes(buf) {
  return {
    raw: buf.length,
    gzip: zlib.gzipSync(buf, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(buf, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
    }).length,
  };
}

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/** Sizes of the package in `pkgDir` (default: this repo's pkg/). Throws when pkg/dist is missing. */
export function packageSizes(pkgDir = DEFAULT_PKG) {
  const dist = path.join(pkgDir, "dist");
  if (!fs.existsSync(dist)) throw new Error(`${dist} not found: build the package first (bash scripts/build-pkg.sh)`);
  const shipped = [
    ...walk(dist),
    ...fs.readdirSync(pkgDir).filter((f) => /\.(m?js)$/.test(f)).map((f) => path.join(pkgDir, f)),
  ];
  const files = shipped
    .map((p) => {
      const kind = p.endsWith(".wasm") ? "wasm" : /\.m?js$/.test(p) && !p.endsWith(".d.ts") ? "js" : null;
      return kind && { file: path.relative(pkgDir, p), kind, ...sizes(fs.readFileSync(p)) };
    })
    .filter(Boolean)
    .sort((a, b) => a.file.localeCompare(b.file));
  const sum = (kind) => files
    .filter((f) => !kind || f.kind === kind)
    .reduce((s, f) => ({ raw: s.raw + f.raw, gzip: s.gzip + f.gzip, brotli: s.brotli + f.brotli }), { raw: 0, gzip: 0, brotli: 0 });
  return { files, wasm: sum("wasm"), js: sum("js"), total: sum() };
}

export const kb = (n) => `${(n / 1000).toFixed(1)} KB`;

/** What an app that imports each entry point downloads: its wasm module and its JavaScript.
 *  A name ending in "/" stands for every file under it (wasm-bindgen's `snippets/`, the JS
 *  the module imports, whose folder name is a hash). */
export const ENTRIES = {
  runwatch: ["dist/runwatch_bg.wasm", "dist/runwatch.js", "dist/snippets/", "index.js", "entry.js"],
  "runwatch/fleet-rlm": ["dist/fleet/runwatch_bg.wasm", "dist/fleet/runwatch.js", "dist/fleet/snippets/", "fleet-rlm.js", "entry.js"],
};

/** The gzip (and raw, brotli) sum of each entry point's files, from `packageSizes()`. */
export function entrySizes(s) {
  return Object.fromEntries(Object.entries(ENTRIES).map(([entry, names]) => {
    const parts = names.flatMap((n) => n.endsWith("/") ? s.files.filter((f) => f.file.startsWith(n)) : [s.files.find((f) => f.file === n)]);
    if (!parts.every(Boolean)) throw new Error(`the package lacks one of ${names.join(", ")}`);
    const sum = (k) => parts.reduce((a, p) => a + p[k], 0);
    return [entry, { files: parts.map((p) => p.file), raw: sum("raw"), gzip: sum("gzip"), brotli: sum("brotli") }];
  }));
}

/** Each entry point's download as a Markdown table. */
export function entryTable(s) {
  const rows = Object.entries(entrySizes(s)).map(([entry, e]) =>
    `| \`${entry}\` | ${e.raw.toLocaleString("en")} | ${e.gzip.toLocaleString("en")} | ${e.brotli.toLocaleString("en")} |`);
  return ["| entry point (what an app downloads) | raw bytes | gzip -9 | brotli 11 |", "| --- | ---: | ---: | ---: |", ...rows].join("\n");
}

/** The sizes as a Markdown table. */
export function sizeTable(s) {
  const row = (name, x) => `| ${name} | ${x.raw.toLocaleString("en")} | ${x.gzip.toLocaleString("en")} | ${x.brotli.toLocaleString("en")} |`;
  return [
    "| file | raw bytes | gzip -9 | brotli 11 |",
    "| --- | ---: | ---: | ---: |",
    ...s.files.map((f) => row(`\`${f.file}\``, f)),
    row("**wasm**", s.wasm),
    row("**JS**", s.js),
    row("**wasm + JS**", s.total),
  ].join("\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const s = packageSizes(args.find((a) => !a.startsWith("--")) ?? DEFAULT_PKG);
  if (args.includes("--json")) console.log(JSON.stringify(s, null, 2));
  else console.log(`${sizeTable(s)}\n\nwasm + JS: ${kb(s.total.gzip)} gzip, ${kb(s.total.brotli)} brotli (${kb(s.total.raw)} raw)`);
}
