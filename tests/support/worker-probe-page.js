// Worker mode test probe, page side (see worker-probe.mjs): `window.workerProbe` holds what
// the SDK's Worker reported. Tests call `workerProbe.onSocket((args, attempt) => …)` where in
// main-thread mode they wrap `window.WebSocket`, and read `workerProbe.memory`.
(() => {
  const listeners = [];
  const probe = (window.workerProbe = { memory: 0, onSocket: (fn) => listeners.push(fn) });
  new BroadcastChannel("runwatch-worker-probe").onmessage = ({ data }) => {
    if (data.memory !== undefined) probe.memory = data.memory;
    if (data.socket) for (const fn of listeners) fn(data.socket, data.attempt);
  };
})();
