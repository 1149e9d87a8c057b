// A small uPlot time-series chart that follows its container's width.
import { useEffect, useRef } from "react";
import uPlot from "uplot";

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 3 });

export interface Line {
  label: string;
  color: string;
  scale?: string;
  values: (number | null)[];
  format?: (v: number | null) => string;
}

export function Chart({ title, times, lines, height = 160, testId }: {
  title: string;
  times: number[];
  lines: Line[];
  height?: number;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = lines.map((l) => `${l.label}:${l.scale ?? "y"}`).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const scales = [...new Set(lines.map((l) => l.scale ?? "y"))];
    const css = getComputedStyle(document.documentElement);
    const axisColor = css.getPropertyValue("--muted").trim() || "#666";
    const gridColor = css.getPropertyValue("--grid").trim() || "#ddd";
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      // With fewer than two points, show the last minute rather than a zero-width range.
      scales: { x: { time: true, range: (_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax =>
        min === null || max === null || max - min < 1 ? [(max ?? Date.now() / 1000) - 60, (max ?? Date.now() / 1000) + 1] : [min, max] } },
      axes: [
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          space: 80,
          values: (_: uPlot, splits: number[]) => splits.map((t) => new Date(t * 1000).toLocaleTimeString("en-GB", { hour12: false })),
        },
        ...scales.map((s, i) => ({
          scale: s,
          side: i === 0 ? 3 : 1,
          stroke: axisColor,
          grid: { show: i === 0, stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          size: 60,
          values: (_: uPlot, splits: number[]) => splits.map((v) => COMPACT.format(v)),
        })),
      ],
      series: [
        {},
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 2,
          scale: l.scale ?? "y",
          spanGaps: false,
          value: (_: uPlot, v: number | null) => (l.format ? l.format(v) : v === null ? "—" : String(v)),
        })),
      ],
    };
    const u = new uPlot(opts, [times, ...lines.map((l) => l.values)] as uPlot.AlignedData, el);
    plot.current = u;
    // The container is the image (role="img" with a label); uPlot's canvases are its pixels.
    u.root.setAttribute("aria-hidden", "true");
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
    // The chart is rebuilt only when its shape changes; data goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times, ...lines.map((l) => l.values)] as uPlot.AlignedData);
  });

  return (
    <figure className="chart" data-testid={testId} data-points={times.length}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={`${title}: ${times.length} points`} />
    </figure>
  );
}
