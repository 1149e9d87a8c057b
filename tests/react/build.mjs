// Builds a React test app (tests/react/<app>/index.html) with Vite in React's development
// mode, where StrictMode double-mounts and double-renders, into `outDir`. `alias` maps
// import names to files (e.g. a README example extracted into target/).
import path from "node:path";
import fs from "node:fs";
import { build } from "vite";
import react from "@vitejs/plugin-react";
import { REPO_ROOT } from "../support/paths.mjs";

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
