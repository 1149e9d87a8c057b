// Example dashboard: one RocketRideClient, one subscription to every task, a task table
// fed by typed `taskStatus` events, console output, and the SDK's diagnostics.
// `bash scripts/demo.sh` serves this page next to runwatch-sim's demo scenario.
import init, { RocketRideClient } from "runwatch";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
$("url").value = params.get("engine") ?? "ws://127.0.0.1:5565";
$("key").value = "sim-key";

await init();
const tasks = new Map();
let client;

function connect() {
  client?.close();
  tasks.clear();
  client = new RocketRideClient({ url: $("url").value, auth: () => $("key").value, batch: "frame" });
  client.onState(({ newState }) => {
    $("state").textContent = newState;
    $("state").className = `badge ${newState}`;
  });
  client.onDiagnostic((d) => log($("diagnostics"), `${d.kind} ${JSON.stringify(d)}`));
  client.subscribe({ token: "*" }, ["TASK", "SUMMARY", "OUTPUT"], onEvents);
}

function onEvents(events) {
  for (const ev of events) {
    switch (ev.type) {
      case "taskStatus":
        tasks.set(ev.taskId, ev.status);
        break;
      case "task":
        if (ev.action === "end") log($("output"), `■ ${ev.name} ended`);
        if (ev.action === "begin") log($("output"), `▶ ${ev.name} started`);
        break;
      case "output":
        log($("output"), `${ev.taskId}: ${ev.output.trimEnd()}`);
        break;
    }
  }
  render();
}

function render() {
  const rows = [...tasks].map(([id, s]) =>
    `<tr><td>${esc(s.name || id)}</td><td>${esc(String(s.state))}</td><td>${esc(s.status)}</td>` +
    `<td>${s.completedCount}</td><td>${s.rateCount}</td><td>${s.metrics.cpuPercent.toFixed(1)}</td></tr>`);
  $("tasks").tBodies[0].innerHTML = rows.join("");
}

function log(el, line) {
  const item = document.createElement(el.tagName === "UL" ? "li" : "div");
  item.textContent = line;
  el.append(item);
  while (el.childElementCount > 300) el.firstElementChild.remove();
  el.scrollTop = el.scrollHeight;
}

const esc = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

$("connect").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
connect();
