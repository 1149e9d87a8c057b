// The live flow of one run: `apaevt_flow` steps turned into spans per pipe (a component is
// on the stack from the step that pushed it to the step that popped it), drawn as a
// timeline of the last WINDOW_MS, beside the current stacks from the task store.
import { useEffect, useRef, useState } from "react";
import type { PipeFlow, RocketRideClient, TaskRun } from "runwatch";
import { useSubscription } from "runwatch/react";

const WINDOW_MS = 30_000;
const MAX_SPANS = 4000;

interface Span { pipe: number; depth: number; name: string; start: number; end?: number; error?: boolean }

class FlowRecorder {
  spans: Span[] = [];
  open = new Map<number, Span[]>();
  objects = 0;
  steps = 0;
  markers: Array<{ pipe: number; at: number; op: "begin" | "end" }> = [];

  step(pipe: number, stack: readonly string[], at: number, op: string, failed: boolean) {
    this.steps++;
    const open = this.open.get(pipe) ?? [];
    let same = 0;
    while (same < open.length && same < stack.length && open[same]!.name === stack[same]) same++;
    for (let d = open.length - 1; d >= same; d--) open[d]!.end = at;
    open.length = same;
    for (let d = same; d < stack.length; d++) {
      const span: Span = { pipe, depth: d, name: stack[d]!, start: at };
      open.push(span);
      this.spans.push(span);
    }
    if (failed && open.length) open[open.length - 1]!.error = true;
    this.open.set(pipe, open);
    if (op === "begin" || op === "end") {
      this.markers.push({ pipe, at, op });
      if (op === "end") this.objects++;
    }
    if (this.spans.length > MAX_SPANS) this.spans.splice(0, this.spans.length - MAX_SPANS);
    if (this.markers.length > 500) this.markers.splice(0, this.markers.length - 500);
  }
}

// Distinct colours, handed out to component names in the order they are first seen.
const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#1e3a8a", "#4f46e5", "#ca8a04"];
const assigned = new Map<string, string>();
function color(name: string): string {
  let c = assigned.get(name);
  if (!c) assigned.set(name, (c = PALETTE[assigned.size % PALETTE.length]!));
  return c;
}

export function FlowTimeline({ client, run }: { client: RocketRideClient | null; run: TaskRun }) {
  const recorder = useRef(new FlowRecorder());
  const canvas = useRef<HTMLCanvasElement>(null);
  const [steps, setSteps] = useState(0);
  const [names, setNames] = useState<string[]>([]);
  const scope = run.projectId ? { projectId: run.projectId, source: run.source } : null;
  const taskId = run.taskId;

  useEffect(() => { recorder.current = new FlowRecorder(); setSteps(0); setNames([]); }, [run.runId]);

  useSubscription(client, scope, ["FLOW"], (events) => {
    const rec = recorder.current;
    const now = Date.now();
    let n = 0;
    for (const ev of events) {
      if (ev.type !== "flow" || ev.taskId !== taskId) continue;
      const failed = (ev.op === "enter" || ev.op === "leave") && (ev.trace.result === "error" || !!ev.trace.error);
      rec.step(ev.pipeId, ev.pipes, now, ev.op, failed);
      n++;
    }
    if (n) {
      setSteps(rec.steps);
      const seen = new Set(rec.spans.filter((s) => s.depth > 0).map((s) => s.name));
      setNames((old) => (old.length === seen.size ? old : [...seen].sort()));
    }
  });

  useEffect(() => {
    let frame = 0;
    let last = 0;
    const draw = (t: number) => {
      frame = requestAnimationFrame(draw);
      if (t - last < 250) return;
      last = t;
      const el = canvas.current;
      if (!el) return;
      const rec = recorder.current;
      const pipes = [...new Set([...rec.open.keys(), ...rec.spans.map((s) => s.pipe)])].sort((a, b) => a - b);
      const dpr = window.devicePixelRatio || 1;
      const width = el.clientWidth;
      const rowH = 34;
      const height = Math.max(1, pipes.length) * rowH + 18;
      if (el.width !== Math.round(width * dpr) || el.height !== Math.round(height * dpr)) {
        el.width = Math.round(width * dpr);
        el.height = Math.round(height * dpr);
        el.style.height = `${height}px`;
      }
      const g = el.getContext("2d");
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, width, height);
      const css = getComputedStyle(document.documentElement);
      const muted = css.getPropertyValue("--muted").trim() || "#666";
      const grid = css.getPropertyValue("--grid").trim() || "#ddd";
      const now = Date.now();
      const x0 = 44;
      const x = (at: number) => x0 + ((at - (now - WINDOW_MS)) / WINDOW_MS) * (width - x0);
      g.font = "11px system-ui, sans-serif";
      g.fillStyle = muted;
      g.strokeStyle = grid;
      for (let s = 0; s <= 30; s += 10) {
        const gx = x(now - s * 1000);
        g.beginPath(); g.moveTo(gx, 0); g.lineTo(gx, height - 14); g.stroke();
        g.fillText(s === 0 ? "now" : `-${s}s`, Math.min(gx - 8, width - 24), height - 3);
      }
      pipes.forEach((pipe, row) => {
        const top = row * rowH + 2;
        g.fillStyle = muted;
        g.fillText(`pipe ${pipe}`, 2, top + 14);
        for (const s of rec.spans) {
          if (s.pipe !== pipe) continue;
          const end = s.end ?? now;
          if (end < now - WINDOW_MS) continue;
          const a = Math.max(x0, x(s.start));
          const b = Math.max(a + 4, x(end));
          g.fillStyle = s.error ? "#d23" : s.depth === 0 ? muted : color(s.name);
          g.fillRect(a, top + s.depth * 7, b - a, 6);
        }
        for (const m of rec.markers) {
          if (m.pipe !== pipe || m.at < now - WINDOW_MS) continue;
          g.fillStyle = m.op === "begin" ? muted : "#2a8";
          g.fillRect(x(m.at), top + 26, 2, 6);
        }
      });
    };
    frame = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(frame);
  }, []);

  return (
    <div className="flow">
      <Stacks flow={run.flow} />
      <canvas ref={canvas} className="timeline" data-testid="flow-timeline" data-steps={steps}
        role="img" aria-label={`Flow timeline, last 30 seconds: ${steps} step(s) seen`} />
      <p className="hint">Each row is a pipe; grey marks an object on the pipe, coloured bars the components it passes through (deeper = nested).</p>
      {steps === 0 ? (
        <p className="hint">No flow steps seen yet{run.flow.length === 0 ? " (the pipeline may run without tracing)" : ""}.</p>
      ) : (
        <ul className="legend" aria-label="Components">
          {names.map((n) => <li key={n}><span className="swatch" style={{ background: color(n) }} />{n}</li>)}
        </ul>
      )}
    </div>
  );
}

function Stacks({ flow }: { flow: readonly PipeFlow[] }) {
  if (!flow.length) return null;
  return (
    <ul className="stacks" data-testid="flow-stacks">
      {flow.map((p) => (
        <li key={p.pipeId}>
          <span className="pipe">pipe {p.pipeId}</span>
          <span className="stack">{p.stack.length ? p.stack.join(" › ") : "idle"}</span>
          <span className="muted">{p.objects} object(s), last {p.lastOp}</span>
        </li>
      ))}
    </ul>
  );
}
