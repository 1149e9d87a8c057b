// Worker mode test probe, page side (see worker-probe.mjs): `window.workerProbe` holds what
// the SDK's Worker reported. Tests call `workerProbe.onSocket((args, attempt) => …)` where in
// main-thread mode they wrap `window.WebSocket`, and read `workerProbe.memory`.
// The channel is closed while the page is hidden: a message reaching a page in the
// back/forward cache would evict it (Chromium: `BroadcastChannelOnMessage`).
(() => {
  const listeners = [];
  const probe = (window.workerProbe = { memory: 0, onSocket: (fn) => listeners.push(fn) });
  let channel;
  const open = () => {
    channel = new BroadcastChannel("runwatch-worker-probe");
    channel.onmessage = ({ data }) => {
      if (data.memory !== undefined) probe.memory = data.memory;
      if (data.socket) for (const fn of listeners) fn(data.socket, data.attempt);
    };
  };
  open();
  addEventListener("pagehide", () => { channel.close(); channel = undefined; });
  // Back from the cache: reopened by whichever comes first, the page turning visible (which
  // may precede `pageshow`, and wakes the SDK's clients at once) or `pageshow`.
  const reopen = () => { if (!channel) open(); };
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") reopen(); });
  addEventListener("pageshow", (e) => { if (e.persisted) reopen(); });
})();
