// The dashboard's build: `npx vite build www` (scripts/demo.sh does it) → target/www-dist
// ($CARGO_TARGET_DIR/www-dist when that is set).
// `npx vite www` serves it with hot reload; /_sim (the simulator's control API) is proxied
// to RUNWATCH_SIM_HTTP (default http://127.0.0.1:5565).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = fileURLToPath(new URL(".", import.meta.url));
// cargo's target dir, as scripts/lib.sh and www/serve.mjs resolve it (CARGO_TARGET_DIR or ./target).
const target = path.resolve(root, "..", process.env.CARGO_TARGET_DIR || "target");
const sim = process.env.RUNWATCH_SIM_HTTP || "http://127.0.0.1:5565";

export default defineConfig({
  root,
  base: "./",
  plugins: [react()],
  resolve: { dedupe: ["react", "react-dom"] },
  build: {
    outDir: path.join(target, "www-dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: { proxy: { "/_sim": sim } },
});
