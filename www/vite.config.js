// The dashboard's build: `npx vite build www` (scripts/demo.sh does it) → target/www-dist.
// `npx vite www` serves it with hot reload; /_sim (the simulator's control API) is proxied
// to RUNWATCH_SIM_HTTP (default http://127.0.0.1:5565).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const sim = process.env.RUNWATCH_SIM_HTTP || "http://127.0.0.1:5565";

export default defineConfig({
  root,
  base: "./",
  plugins: [react()],
  resolve: { dedupe: ["react", "react-dom"] },
  build: {
    outDir: fileURLToPath(new URL("../target/www-dist", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: { proxy: { "/_sim": sim } },
});
