// Serves the built dashboard (target/www-dist) and what it needs from the same origin:
//   /config.json  the built-in engine's WebSocket URL and key (the simulator's demo key), and
//                 its fleet-rlm root (the same port; the page asks /_sim/fleet/token for a dev token)
//   /_sim/...     the simulator's control API, proxied (it answers loopback peers only and
//                 sends no CORS headers, so the page reaches it through this server)
// and, with --feed, keeps a few extra scripted pipelines running on the simulator through
// its control API (`/_sim/execute` with the `fake` script convention): a long batch, a run
// that fails with errors, one that completes with warnings. The simulator's own demo
// scenario runs the other three.
//
//   node www/serve.mjs --sim http://127.0.0.1:5565 [--port 8080] [--root target/www-dist] [--feed]
//
// Also a module: `startDashboardServer({ sim, port, root, feed })` for the tests.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(HERE, "..", process.env.CARGO_TARGET_DIR || "target", "www-dist");
const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8", ".wasm": "application/wasm", ".svg": "image/svg+xml", ".png": "image/png",
  ".ico": "image/x-icon", ".map": "application/json; charset=utf-8",
};

/**
 * @param {{ sim: string, port?: number, host?: string, root?: string, key?: string, feed?: boolean, speed?: number }} opts
 *   sim: the simulator's HTTP base, e.g. http://127.0.0.1:5565
 */
export async function startDashboardServer({ sim, port = 0, host = "127.0.0.1", root = DIST, key = "sim-key", feed = false, speed = 1 }) {
  const simBase = new URL(sim);
  const engine = `ws://${simBase.host}`;
  const base = path.resolve(root);
  if (!fs.existsSync(path.join(base, "index.html"))) throw new Error(`${base}/index.html not found; build the dashboard: npx vite build www`);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname.startsWith("/_sim/")) return proxy(simBase, req, res);
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405); return res.end(); }
    if (url.pathname === "/config.json") {
      res.writeHead(200, { "content-type": MIME[".json"], "cache-control": "no-store" });
      return res.end(JSON.stringify({ engine, key, simulator: true, fleet: simBase.origin }));
    }
    let rel;
    try { rel = decodeURIComponent(url.pathname); } catch { res.writeHead(400); return res.end(); }
    let file = path.join(base, rel.endsWith("/") ? rel + "index.html" : rel);
    if (file !== base && !file.startsWith(base + path.sep)) { res.writeHead(403); return res.end(); }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        if (rel === "/favicon.ico") { res.writeHead(204); return res.end(); }
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end("not found\n");
      }
      const immutable = rel.startsWith("/assets/");
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
        "content-length": st.size,
        "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-store",
      });
      if (req.method === "HEAD") return res.end();
      fs.createReadStream(file).pipe(res);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => { server.once("error", reject); server.listen(port, host, resolve); });
  const actual = server.address().port;
  const feeder = feed ? startFeed(simBase, speed) : null;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    engine,
    close: async () => {
      feeder?.stop();
      await new Promise((r) => { server.close(() => r()); server.closeAllConnections?.(); });
    },
  };
}

function proxy(simBase, req, res) {
  const up = http.request({
    host: simBase.hostname, port: simBase.port, method: req.method, path: req.url,
    headers: { "content-type": req.headers["content-type"] ?? "application/json" },
  }, (r) => {
    res.writeHead(r.statusCode ?? 502, { "content-type": r.headers["content-type"] ?? "application/json", "cache-control": "no-store" });
    r.pipe(res);
  });
  up.on("error", (e) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: `simulator unreachable: ${e.message}` }));
  });
  req.pipe(up);
}

// ── extra demo pipelines ──────────────────────────────────────────────────────────────────

const FEED = [
  {
    name: "Nightly Reindex", projectId: "5a1e0d3c-2b4f-4c8e-9a7d-6f5e4d3c2b1a", source: "s3_1", pauseS: 10,
    fake: { objects: 600, interval: 0.5, pipes: 3, mode: "batch", startupDelay: 1.5 },
    components: [
      { id: "parse_1", provider: "parse", config: {}, input: [{ lane: "tags", from: "s3_1" }] },
      { id: "embedding_1", provider: "embedding_openai", config: {}, input: [{ lane: "documents", from: "parse_1" }] },
      { id: "qdrant_1", provider: "qdrant", config: {}, input: [{ lane: "documents", from: "embedding_1" }] },
    ],
  },
  {
    name: "Invoice OCR", projectId: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", source: "upload_1", pauseS: 8,
    fake: { objects: 8, interval: 1.5, pipes: 2, mode: "batch", exitCode: 2, errors: ["ocr_1: model timeout on invoice-0042.pdf", "ocr_1: 3 pages unreadable"], warnings: ["low-resolution scan (150 dpi)"] },
    components: [
      { id: "ocr_1", provider: "ocr", config: {}, input: [{ lane: "documents", from: "upload_1" }] },
      { id: "extract_1", provider: "extract_data", config: {}, input: [{ lane: "text", from: "ocr_1" }] },
    ],
  },
  {
    name: "Email Triage", projectId: "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9", source: "email_1", pauseS: 6,
    fake: { objects: 12, interval: 1, pipes: 1, mode: "batch", warnings: ["2 messages without a subject"] },
    components: [
      { id: "classify_1", provider: "llm_openai", config: {}, input: [{ lane: "text", from: "email_1" }] },
    ],
  },
];

function startFeed(simBase, speed) {
  let stopped = false;
  const timers = new Set();
  const sleep = (ms) => new Promise((r) => { const t = setTimeout(() => { timers.delete(t); r(); }, ms / speed); timers.add(t); });
  const call = async (route, body) => {
    const res = await fetch(new URL(`/_sim/${route}`, simBase), body === undefined ? {} : {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const loop = async (p, delayS) => {
    await sleep(delayS * 1000);
    while (!stopped) {
      try {
        const pipeline = {
          source: p.source, project_id: p.projectId,
          components: [{ id: p.source, provider: "webhook", config: { mode: "Source", type: "webhook", fake: p.fake } }, ...p.components],
        };
        const run = await call("execute", { pipeline, name: p.name, pipelineTraceLevel: "summary" });
        const token = run?.token;
        while (!stopped && token) {
          await sleep(1000);
          const tasks = await call("tasks");
          const t = tasks.find((x) => x.token === token);
          if (!t || t.completed) break;
        }
      } catch {
        await sleep(2000); // the simulator restarting (a fault) or going away
      }
      await sleep(p.pauseS * 1000);
    }
  };
  FEED.forEach((p, i) => loop(p, 2 + i * 2));
  return { stop() { stopped = true; for (const t of timers) clearTimeout(t); } };
}

// Command line.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opt = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
  const srv = await startDashboardServer({
    sim: opt("sim", "http://127.0.0.1:5565"),
    port: Number(opt("port", 8080)),
    host: opt("host", "127.0.0.1"),
    root: opt("root", DIST),
    key: opt("key", "sim-key"),
    feed: process.argv.includes("--feed"),
  });
  console.log(`dashboard on ${srv.url} (engine ${srv.engine})`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
