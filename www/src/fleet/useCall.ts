// One asynchronous call a component starts (a probe, a test, an answer, feedback) and what
// came of it, for showing "pending", the result or the error.
import { useCallback, useEffect, useRef, useState } from "react";

export type CallState<T> =
  | { status: "idle" }
  | { status: "pending" }
  | { status: "done"; value: T; at: number }
  | { status: "failed"; error: string; at: number };

/** `[state, run]`: `run(...args)` calls `fn(...args)` and records the outcome (while mounted). */
export function useCall<A extends unknown[], T>(fn: (...args: A) => Promise<T>): [CallState<T>, (...args: A) => void] {
  const [state, setState] = useState<CallState<T>>({ status: "idle" });
  const latest = useRef(fn);
  latest.current = fn;
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => { mounted.current = false; };
  }, []);
  const run = useCallback((...args: A) => {
    setState({ status: "pending" });
    latest.current(...args).then(
      (value) => { if (mounted.current) setState({ status: "done", value, at: Date.now() }); },
      (e: unknown) => { if (mounted.current) setState({ status: "failed", error: errorText(e), at: Date.now() }); },
    );
  }, []);
  return [state, run];
}

/**
 * An SDK error as one line: the `RunwatchHttpError` kind, `RunwatchRequestError` or
 * `RunwatchError` code, then the message.
 */
export function errorText(e: unknown): string {
  if (e && typeof e === "object") {
    const x = e as { kind?: unknown; code?: unknown; message?: unknown };
    const tag = typeof x.kind === "string" ? x.kind : typeof x.code === "string" ? x.code : "";
    const message = typeof x.message === "string" ? x.message : "";
    const line = [tag, message].filter(Boolean).join(": ");
    if (line) return line;
  }
  return String(e);
}
