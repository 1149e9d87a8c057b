// A run of the events socket: its step tree (nested by parent, ordered by step index, as
// the SDK builds it), what may be missing, and the summary once it completed.
import { memo } from "react";
import type { ExecutionStep, Run, RunSummary, StepNode } from "runwatch/fleet-rlm";
import { duration, preview, text } from "../format";

const STATUS_CLASS: Record<string, string> = {
  running: "o-running", completed: "o-ok", error: "o-failed", cancelled: "o-stopping", interrupted: "o-failed",
  needsHumanReview: "o-stopping", ended: "o-ok", unfinished: "o-stale",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ""}`}>{status}</span>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Where steps' outputs say what happened (sandbox stdout, a tool's output, text, a status line). */
const RESULT_KEYS = ["stdout_preview", "tool_output", "text", "raw_status"];

/**
 * What a step did, in one line: the code of a sandbox step and what it printed, or the
 * step's output. (Inputs of other steps are the runtime context, too long to be useful.)
 */
function stepDetail(step: ExecutionStep): string | null {
  const { input, output } = step;
  const code = [input, output].map((v) => (isObject(v) && typeof v.code_preview === "string" ? v.code_preview : null)).find((c) => c !== null);
  const said = isObject(output) ? RESULT_KEYS.map((k) => output[k]).find((v) => typeof v === "string") : undefined;
  const result = said !== undefined ? String(said) : output === undefined ? null : preview(output, 120);
  if (code && result) return `${preview(code, 80)} → ${preview(result, 120)}`;
  if (code) return preview(code, 120);
  return result === null ? null : `→ ${result}`;
}

const Step = memo(function Step({ node }: { node: StepNode }) {
  const { step } = node;
  const detail = stepDetail(step);
  return (
    <li data-testid="step" data-index={node.index ?? ""} data-type={step.type}>
      <div className="step-head">
        <span className="step-idx">{node.index === undefined ? "—" : `s${node.index}`}</span>
        <span className={`tag step-${step.type}`}>{step.type}</span>
        <span className="step-label">{text(step.label)}</span>
        {node.parentMissing ? <span className="warn">(parent not arrived)</span> : null}
      </div>
      {detail ? <code className="step-io">{detail}</code> : null}
      {node.children.length ? <StepList nodes={node.children} /> : null}
    </li>
  );
});

/** Steps listed per level; a run of thousands (`#flood`) shows its newest ones. */
const MAX_LISTED = 200;

function StepList({ nodes }: { nodes: StepNode[] }) {
  const hidden = Math.max(0, nodes.length - MAX_LISTED);
  return (
    <ol className="steps">
      {hidden ? <li className="muted">{hidden} earlier steps not listed</li> : null}
      {nodes.slice(hidden).map((n) => <Step key={n.step.id} node={n} />)}
    </ol>
  );
}

function Summary({ summary }: { summary: RunSummary }) {
  return (
    <dl className="fields run-summary" data-testid="run-summary">
      <div><dt>outcome</dt><dd>{text(summary.status)}</dd></div>
      <div><dt>termination</dt><dd>{text(summary.terminationReason ?? summary.summary?.terminationReason)}</dd></div>
      <div><dt>duration</dt><dd>{duration(summary.durationMs ?? summary.summary?.durationMs)}</dd></div>
      <div><dt>iterations</dt><dd>{summary.iterations.length}</dd></div>
      <div><dt>warnings</dt><dd>{summary.warnings.length}</dd></div>
      <div><dt>runtime mode</dt><dd>{text(summary.runtimeMode)}</dd></div>
      <div><dt>final artifact</dt><dd>{text(summary.finalArtifact?.kind)}{summary.finalArtifact?.finalizationMode ? ` (${summary.finalArtifact.finalizationMode})` : ""}</dd></div>
      {summary.summary?.error !== undefined ? <div className="wide"><dt>error</dt><dd className="error">{preview(summary.summary.error)}</dd></div> : null}
    </dl>
  );
}

export const RunView = memo(function RunView({ run, open }: { run: Run; open: boolean }) {
  return (
    <details className="run-view" open={open} data-testid="run" data-status={run.status} data-steps={run.steps}>
      <summary>
        Execution <StatusBadge status={run.status} /> <span className="muted">{run.steps} steps</span>
        {run.missingCount ? <span className="warn"> · {run.missingCount} missing (s{run.missing.join(", s")})</span> : null}
        {run.possiblyIncomplete ? <span className="warn"> · possibly incomplete (reconnected)</span> : null}
        {!run.sawStart ? <span className="warn"> · joined mid-run</span> : null}
      </summary>
      <p className="hint ids"><span>run <code>{run.runId}</code></span></p>
      {run.tree.length ? <StepList nodes={run.tree} /> : <p className="empty">No steps yet.</p>}
      {run.summary ? <Summary summary={run.summary} /> : run.status === "running" ? null : <p className="hint">Summary: — (the server sent none)</p>}
    </details>
  );
});
