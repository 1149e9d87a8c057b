// A tiny static file server (node:http, no dependencies) for browser tests and the demo.
//
//   const srv = await startServer();                 // serves the repo root on 127.0.0.1:<any>
//   const srv = await startServer({ root: dist });   // or any folder
//   srv.url  // "http://127.0.0.1:<port>/"
//   await srv.close();
//
// Also a command: `node tests/support/server.mjs [--root DIR] [--port N] [--host H]`
// (scripts/demo.sh uses it). Sends `application/wasm` for .wasm so streaming compilation
// works, no caching, and never serves anything outside `root`.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "./paths.mjs";

export const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "application/x-ndjson; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/**
 * Which entry of the package the bare specifier "runwatch" means on test pages: the
 * main-thread one, or with RUNWATCH_MODE=worker the Worker mode ("runwatch/worker"), so the
 * same browser and reliability tests cover both (scripts/test.sh runs them in each mode).
 */
export const MODE = process.env.RUNWATCH_MODE === "worker" ? "worker" : "main";
const ENTRY = MODE === "worker" ? "/pkg/worker.js" : "/pkg/index.js";

/**
 * A built-in empty page (not a file) whose import map resolves the bare specifier "runwatch"
 * to the package's entry (see MODE), so browser tests import the package by name, as users do:
 *   await page.goto(new URL(BLANK_PAGE, srv.url).href);
 *   await page.evaluate(async () => { const { default: init } = await import("runwatch"); await init(); });
 * Only meaningful when serving the repository root. `?csp=POLICY` sends the page with that
 * Content-Security-Policy header; its import map carries the nonce "rw" for such a policy.
 */
export const BLANK_PAGE = "__runwatch/blank.html";
const BLANK_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>runwatch test page</title>
<script type="importmap" nonce="rw">{ "imports": { "runwatch": "${ENTRY}", "runwatch/fleet-rlm": "/pkg/fleet-rlm.js" } }</script>
${MODE === "worker" ? '<script src="/tests/support/worker-probe-page.js"></script>' : ""}
</head><body></body></html>
`;

/**
 * Worker mode: the SDK's Worker script, served with the test probe loaded first
 * (tests/support/worker-probe.mjs), which reports the Worker's sockets and memory to the page.
 */
const WORKER_HOST = "/pkg/worker-host.js";
const PROBED_WORKER_HOST = `import "/tests/support/worker-probe.mjs";\nimport "${WORKER_HOST}?unprobed";\n`;

/**
 * @param {object} [opts]
 * @param {string} [opts.root]  folder to serve (default: the repository root)
 * @param {number} [opts.port]  default 0 (any free port)
 * @param {string} [opts.host]  default 127.0.0.1
 * @returns {Promise<{url: string, port: number, server: http.Server, close(): Promise<void>}>}
 */
export async function startServer({ root = REPO_ROOT, port = 0, host = "127.0.0.1" } = {}) {
  const base = path.resolve(root);
  const server = http.createServer((req, res) => serve(base, req, res));
  // Keep-alive sockets would hold close() open; browser tests close their pages anyway.
  server.keepAliveTimeout = 1_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    server,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
}

function serve(base, req, res) {
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { "cache-control": "no-cache", ...headers });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n", { allow: "GET, HEAD" });

  let rel, csp;
  try {
    const url = new URL(req.url, "http://x");
    rel = decodeURIComponent(url.pathname);
    csp = url.searchParams.get("csp");
  } catch {
    return send(400, "bad path\n");
  }
  if (rel === "/" + BLANK_PAGE) {
    return send(200, BLANK_HTML, { "content-type": MIME[".html"], ...(csp ? { "content-security-policy": csp } : {}) });
  }
  if (MODE === "worker" && rel === WORKER_HOST && !req.url.endsWith("?unprobed")) {
    return send(200, PROBED_WORKER_HOST, { "content-type": MIME[".js"] });
  }
  const file = path.join(base, rel);
  if (file !== base && !file.startsWith(base + path.sep)) return send(403, "forbidden\n");

  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) {
      // /www → /www/ so that relative imports in www/index.html resolve inside www/.
      if (!rel.endsWith("/")) return send(301, "", { location: rel + "/" });
      return sendFile(req, res, path.join(file, "index.html"), send);
    }
    // Browsers ask for /favicon.ico on their own; a 404 would show up as a console error.
    if (err && rel === "/favicon.ico") return send(204, "");
    sendFile(req, res, file, send, err, st);
  });
}

function sendFile(req, res, file, send, statErr, stat) {
  const go = (err, st) => {
    if (err || !st.isFile()) return send(404, "not found\n", { "content-type": "text/plain; charset=utf-8" });
    const type = MIME[path.extname(file).toLowerCase()] ?? "application/octet-stream";
    res.writeHead(200, { "content-type": type, "content-length": st.size, "cache-control": "no-cache" });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
  };
  if (stat || statErr) go(statErr, stat);
  else fs.stat(file, go);
}

// Command-line use: node tests/support/server.mjs [--root DIR] [--port N] [--host H]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opt = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const srv = await startServer({ root: opt("root", REPO_ROOT), port: Number(opt("port", 0)), host: opt("host", "127.0.0.1") });
  console.log(`static server on ${srv.url} (root ${path.resolve(opt("root", REPO_ROOT))})`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
