// Worker mode test probe, loaded in the SDK's Worker before the SDK (tests/support/server.mjs
// serves it only with RUNWATCH_MODE=worker). It does in the Worker what the browser tests do
// on the page in main-thread mode: it numbers every socket the SDK opens (`attempt=N` in the
// URL, so the simulator's log ties a connection to its attempt) and reports the arguments the
// SDK passed, and the Worker's WebAssembly memory, to the page's worker-probe-page.js. A page
// that came back reloaded (with a new Worker) continues its predecessor's numbering by
// putting the count so far in the client's URL as `rwBase`.
import init from "/pkg/index.js";

const channel = new BroadcastChannel("runwatch-worker-probe");
let attempts = 0;
const WS = self.WebSocket;
self.WebSocket = class extends WS {
  constructor(...args) {
    const numbered = new URL(args[0]);
    attempts = Math.max(attempts, Number(numbered.searchParams.get("rwBase") ?? 0));
    numbered.searchParams.set("attempt", String(++attempts));
    super(numbered.href, ...args.slice(1));
    channel.postMessage({ socket: args.map(String), attempt: attempts });
  }
};
// The same module instance as the SDK's: its memory once the SDK has loaded it.
init().then(({ memory }) => setInterval(() => channel.postMessage({ memory: memory.buffer.byteLength }), 100));
