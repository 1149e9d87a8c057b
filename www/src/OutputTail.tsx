// The output tail: a virtualized list (only the visible lines are in the DOM), so thousands
// of lines stay cheap; it follows the newest line unless the user scrolled up.
import { useEffect, useLayoutEffect, useRef, useState } from "react";

const ROW = 18;
const OVERSCAN = 10;

export function OutputTail({ lines, total, dropped }: { lines: readonly string[]; total: number; dropped: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(240);
  const follow = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow.current) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
  }, [lines]);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(lines.length, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const firstNumber = total - lines.length + 1;
  return (
    <div className="output">
      <p className="hint" data-testid="output-count">
        {total.toLocaleString("en-US")} line(s){dropped ? `, the oldest ${dropped.toLocaleString("en-US")} dropped` : ""}
      </p>
      <div
        ref={box}
        className="output-box"
        tabIndex={0}
        role="log"
        aria-label="Task output"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
          setScrollTop(el.scrollTop);
        }}
      >
        <div style={{ height: lines.length * ROW, position: "relative" }}>
          {lines.slice(first, last).map((line, i) => (
            <div key={first + i} className="line" style={{ top: (first + i) * ROW }}>
              <span className="ln" aria-hidden="true">{firstNumber + first + i}</span>
              {line}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
