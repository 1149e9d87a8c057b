import { useState, type FormEvent } from "react";
import type { ServerConfig, Settings } from "./settings";

export function ConnectPage({ settings, config, onConnect }: { settings: Settings; config: ServerConfig; onConnect: (s: Settings) => void }) {
  const [url, setUrl] = useState(settings.url);
  const [key, setKey] = useState(settings.builtIn ? "" : settings.key);
  const [remember, setRemember] = useState(settings.remember);
  const [allowInsecure, setAllowInsecure] = useState(settings.allowInsecure);
  const [worker, setWorker] = useState(settings.worker);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const u = url.trim();
    const k = key || (u === config.engine ? config.key : "");
    onConnect({ url: u, key: k, remember, allowInsecure, worker, builtIn: u === config.engine && k === config.key });
    location.hash = "#/tasks";
  };
  return (
    <section className="panel narrow" aria-labelledby="connect-h">
      <h2 id="connect-h">Connect to a RocketRide server</h2>
      <form className="form" onSubmit={submit}>
        <label>Server URL
          <input value={url} onChange={(e) => setUrl(e.target.value)} required spellCheck={false}
            placeholder="wss://engine.example:5565" inputMode="url" autoComplete="url" />
        </label>
        <label>API key
          <input type="password" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off"
            placeholder={settings.builtIn ? "(the simulator's key is used for the built-in engine)" : ""} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember the URL and key on this device (stored in this browser's localStorage)
        </label>
        <label className="inline">
          <input type="checkbox" checked={allowInsecure} onChange={(e) => setAllowInsecure(e.target.checked)} /> Allow unencrypted <code>ws://</code> to a remote host
        </label>
        <label className="inline">
          <input type="checkbox" checked={worker} onChange={(e) => setWorker(e.target.checked)} /> Run the client in a Worker (its socket and decoding off this page's main thread)
        </label>
        <div className="buttons">
          <button type="submit">Connect</button>
          <button type="button" className="secondary" onClick={() => {
            onConnect({ url: config.engine, key: config.key, remember: false, allowInsecure: false, worker, builtIn: true });
            location.hash = "#/tasks";
          }}>Use the built-in simulator</button>
        </div>
      </form>
      <p className="hint">The key stays in this page's memory and is sent only in the connection's auth frame. It is never put in the URL,
        and it is stored only if you tick the box above.</p>
    </section>
  );
}
