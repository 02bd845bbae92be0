// The boundary-aligned gap view: accuracy change since the boundary against the iterations
// since it, one line per band (a run's, or each configuration of a sweep) with its 95% band
// (uPlot on a canvas; the boundary itself is the line at 0).
import "./charts.css";

import { useEffect, useRef } from "react";
import uPlot from "uplot";

import { useTheme } from "../app/theme";
import { resolveColor } from "./color";
import { drawBands } from "./TimeSeriesChart";
import type { AlignedChart as Chart } from "./aligned";

const FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const LABEL_FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const HEIGHT = 320;

export function AlignedChart({
  chart,
  testId,
}: {
  readonly chart: Chart;
  readonly testId: string;
}) {
  const [theme] = useTheme();
  const mount = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(chart);
  latest.current = chart;
  // Rebuilt when the lines change (a configuration appears), not for new values or a theme.
  const shape = JSON.stringify(chart.series);

  useEffect(() => {
    const target = mount.current;
    if (!target) return;
    const instance = new uPlot(
      options(latest, target.clientWidth || 600),
      latest.current.data,
      target,
    );
    plot.current = instance;
    const resize = new ResizeObserver(() => {
      const width = target.clientWidth;
      if (width > 0 && width !== instance.width) instance.setSize({ width, height: HEIGHT });
    });
    resize.observe(target);
    return () => {
      resize.disconnect();
      instance.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(chart.data, true);
  }, [chart.data]);

  useEffect(() => {
    // Colours are read at draw time: a theme switch repaints the same canvas.
    plot.current?.redraw(false);
  }, [theme]);

  return (
    <figure className="ts-chart sweep-aligned-chart" data-testid={testId}>
      <h3 className="ts-chart-title">
        Accuracy change since the boundary (mean over boundaries, tasks and seeds, 95% band)
      </h3>
      <div className="ts-chart-plot" ref={mount} />
    </figure>
  );
}

function options(latest: { readonly current: Chart }, width: number): uPlot.Options {
  const axisStyle = {
    stroke: () => resolveColor("--chart-axis"),
    font: FONT,
    labelFont: LABEL_FONT,
    grid: { stroke: () => resolveColor("--chart-grid"), width: 1 },
    ticks: { stroke: () => resolveColor("--chart-grid"), width: 1, size: 4 },
  };
  return {
    width,
    height: HEIGHT,
    legend: { show: true, live: true },
    scales: {
      x: { time: false },
      // The bands count too: uPlot's auto range sees only the lines.
      y: {
        range: (_u, min, max) =>
          latest.current.yRange ? [...latest.current.yRange] : [min ?? -1, max ?? 1],
      },
    },
    axes: [
      { ...axisStyle, label: "iterations since the boundary", labelSize: 18, size: 34 },
      { ...axisStyle, label: "accuracy change (pp)", labelSize: 18, size: 46 },
    ],
    series: [
      { label: "t", value: (_u, v) => (v == null ? "—" : `${v >= 0 ? "+" : ""}${v} it`) },
      ...latest.current.series.map(
        (s) =>
          ({
            label: s.label,
            stroke: () => resolveColor(s.colorVar),
            width: 2,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v == null ? "—" : `${v.toFixed(1)} pp`),
          }) satisfies uPlot.Series,
      ),
    ],
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    hooks: {
      drawAxes: [(u) => drawBands(u, latest.current.bands)],
      draw: [drawZeroLines],
    },
  };
}

/** The boundary (t = 0) and no change (0 pp), dashed, over the plot. */
function drawZeroLines(u: uPlot): void {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = resolveColor("--chart-axis");
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  const x = u.valToPos(0, "x", true);
  if (x >= bbox.left && x <= bbox.left + bbox.width) {
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
  }
  const y = u.valToPos(0, "y", true);
  if (y >= bbox.top && y <= bbox.top + bbox.height) {
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
  }
  ctx.restore();
}
