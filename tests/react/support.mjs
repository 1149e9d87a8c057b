// What the React hook tests share: building a small app (tests/react/<app>/) with Vite in
// React's development mode, where StrictMode double-mounts and double-renders; the README
// example it renders; and the fixture that builds it and starts the simulator, a static
// server for the app and Chromium around a test file.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import fs from "node:fs";
import { build } from "vite";
import react from "@vitejs/plugin-react";
import { REPO_ROOT, PKG_DIR } from "../support/paths.mjs";
import { startServer } from "../support/server.mjs";
import { launchBrowser } from "../support/browser.mjs";
import { startSim } from "../support/sim.mjs";

/**
 * Registers the file's hooks: before its tests, the README block after `<!-- marker -->`
 * is written to `example`, the app is built into `outDir` with `alias`
 * `{[aliasName]: example}`, and the simulator (`simArgs`), a server for the app and Chromium
 * start; `ready({ sim, server, browser })` hands them to the file. After them, all stop.
 */
export function useReactAppFixture({ app, outDir, marker, example, aliasName, simArgs, ready }) {
  const f = {};
  before(async () => {
    for (const wasm of ["runwatch_bg.wasm", "fleet/runwatch_bg.wasm"]) assert.ok(fs.existsSync(path.join(PKG_DIR, "dist", wasm)), "pkg/dist is missing; run scripts/build-pkg.sh");
    extractReadmeBlock(marker, example);
    await buildReactApp({ app, outDir, alias: { [aliasName]: example } });
    f.sim = await startSim({ args: simArgs });
    f.server = await startServer({ root: outDir });
    f.browser = await launchBrowser();
    ready(f);
  });
  after(async () => {
    await f.browser?.close();
    await f.server?.close();
    await f.sim?.stop();
  });
}

/**
 * Builds tests/react/<app>/index.html into `outDir`; `alias` maps import names to files
 * (e.g. a README example extracted into target/).
 */
export async function buildReactApp({ app, outDir, alias = {} }) {
  await build({
    configFile: false,
    root: path.join(REPO_ROOT, "tests/react", app),
    mode: "development",
    define: { "process.env.NODE_ENV": JSON.stringify("development") },
    base: "./",
    logLevel: "warn",
    plugins: [react()],
    resolve: { alias, dedupe: ["react", "react-dom"] },
    build: { minify: false, outDir, emptyOutDir: true, target: "es2022", reportCompressedSize: false, chunkSizeWarningLimit: 4000 },
  });
}

/** The .wasm files a built app ships (under assets/), as Buffers. */
export function wasmAssets(outDir) {
  const dir = path.join(outDir, "assets");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".wasm")).map((f) => fs.readFileSync(path.join(dir, f)));
}

/**
 * The README's ```tsx block after the `<!-- marker ... -->` comment, written to
 * `file` (for the app's alias and for tsc).
 */
export function extractReadmeBlock(marker, file) {
  const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const m = new RegExp(`<!-- ${marker}[^>]*-->\\n\`\`\`tsx\\n([\\s\\S]*?)^\`\`\``, "m").exec(readme);
  if (!m) throw new Error(`README.md has no \`\`\`tsx block after a <!-- ${marker} --> marker`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, m[1]);
}
