// Formatting for the dashboard: every absent or `null` number (the engine's NaN) reads "—".
export const DASH = "—";

export function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  // Small fractions (token costs) keep three significant digits instead of rounding to 0.
  if (digits > 0 && v !== 0 && Math.abs(v) < 0.1) return v.toLocaleString("en-US", { maximumSignificantDigits: 3 });
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${x.toLocaleString("en-US", { maximumFractionDigits: i === 0 ? 0 : 1 })} ${units[i]}`;
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : `${num(v, 1)} %`;
}

export function mb(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : `${num(v, 1)} MB`;
}

export function clock(epochSeconds: number | null | undefined): string {
  if (!epochSeconds) return DASH;
  return new Date(epochSeconds * 1000).toLocaleTimeString("en-GB", { hour12: false });
}

export function clockMs(ms: number | null | undefined): string {
  if (!ms) return DASH;
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return DASH;
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function text(v: string | null | undefined): string {
  return v === null || v === undefined || v === "" ? DASH : v;
}

/** Any value as short text: strings as they are, the rest as JSON, cut at `max` characters. */
export function preview(v: unknown, max = 160): string {
  if (v === undefined || v === null || v === "") return DASH;
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
