// Checks values the built package handed to an app against the generated declarations:
// writes one TypeScript constant per distinct shape (kinds and keys, so the file stays small)
// after `header` (imports and planted controls), and runs `tsc --strict` on it with the
// options of tests/types/tsconfig.json. Used by tests/types/*runtime.test.mjs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./paths.mjs";

const shape = (v) => v === null ? "null" : Array.isArray(v) ? `[${v.map(shape).join(",")}]`
  : typeof v === "object" ? `{${Object.keys(v).sort().map((k) => `${k}:${shape(v[k])}`).join(",")}}` : typeof v;

/** @param {{ outDir: string, header: string[], values: { type: string, origin: string, value: unknown }[] }} o */
export function assertValuesTypecheck({ outDir, header, values }) {
  const seen = new Set();
  const lines = [...header];
  let n = 0;
  for (const { type, origin, value } of values) {
    const key = `${type} ${shape(value)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`// ${origin.replace(/\n/g, " ")}`, `export const v${n++}: ${type} = ${JSON.stringify(value)};`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "values.ts"), lines.join("\n") + "\n");
  const base = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "tests/types/tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""));
  fs.writeFileSync(path.join(outDir, "tsconfig.json"), JSON.stringify({ ...base, files: ["values.ts"] }, null, 2));
  const tsc = path.join(REPO_ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", outDir, "--pretty", "false"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 180_000 });
  assert.equal(r.error, undefined, `could not run tsc: ${r.error}`);
  assert.equal(r.status, 0, `runtime values disagree with runwatch.d.ts (${n} shapes checked, file ${path.join(outDir, "values.ts")}):\n${r.stdout}${r.stderr}`);
}
