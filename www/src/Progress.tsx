import { num } from "./format";

/** A progress bar with its text; an unknown total (0) shows a full, striped bar. */
export function Progress({ value, total, label, format = (v: number) => num(v) }: {
  value: number; total: number; label: string; format?: (v: number) => string;
}) {
  const known = total > 0;
  const pct = known ? Math.min(100, (value / total) * 100) : 0;
  return (
    <div className="progress">
      <div className="bar" role="progressbar" aria-label={label} aria-valuemin={0}
        aria-valuemax={known ? total : undefined} aria-valuenow={known ? value : undefined}
        aria-valuetext={known ? `${format(value)} of ${format(total)}` : `${format(value)}, total unknown`}>
        <span style={{ width: `${known ? pct : 100}%` }} className={known ? "" : "unknown"} />
      </div>
      <span className="progress-text">{format(value)}{known ? ` / ${format(total)}` : ""}</span>
    </div>
  );
}
