// One uPlot line chart against iteration, with the overlays every Gapwatch chart shares: task
// spans and boundaries, gap troughs, mean ± std bands, drag-to-zoom that asks the page (not
// uPlot) to zoom, and a cursor synced with the other charts of the page.
import "./charts.css";

import { useEffect, useRef, type ReactNode } from "react";
import uPlot from "uplot";

import { useTheme } from "../app/theme";
import { bandSegments } from "./bands";
import type { TaskSpan } from "./boundaries";
import { rangeFromSelection, type StepRange } from "./budget";
import { resolveColor, withAlpha } from "./color";
import { ChartOverlay, overlayOf, type ChartTrough } from "./overlay";
import { spanLabels } from "./spanLabels";
import type { Column } from "./stats";

export interface SeriesStyle {
  readonly label: string;
  /** Theme variable of the line colour, e.g. "--series-2". */
  readonly colorVar: string;
  readonly width?: number;
  readonly dash?: readonly number[];
  /** Opacity of the line (faint lines for single runs under a group mean). */
  readonly alpha?: number;
}

/** A filled band between two columns aligned with the chart's x values. */
export interface ChartBand {
  readonly lower: Column;
  readonly upper: Column;
  readonly colorVar: string;
}

export interface TimeSeriesChartProps {
  readonly testId: string;
  readonly title: ReactNode;
  /** uPlot's aligned table: x (iterations), then one column per entry of `series`. */
  readonly data: uPlot.AlignedData;
  readonly series: readonly SeriesStyle[];
  readonly yLabel: string;
  /** A fixed y range (accuracy: [0, 100]); auto when absent. */
  readonly yRange?: readonly [number, number];
  readonly yLog?: boolean;
  /** Unit printed after legend values ("%" for accuracies). */
  readonly yUnit?: string;
  /** The x range shown (a zoom, or the whole planned run); the data's extent when null. */
  readonly xRange?: readonly [number, number] | null;
  readonly spans?: readonly TaskSpan[];
  /**
   * Name each span ("task 2") above the plot area, in a band reserved for it, where no curve
   * runs (curves near 100% would hide labels drawn inside the plot).
   */
  readonly spanLabels?: boolean;
  readonly troughs?: readonly ChartTrough[];
  readonly bands?: readonly ChartBand[];
  /** Charts with the same key move their cursors together. */
  readonly syncKey?: string;
  readonly onZoom?: (range: StepRange) => void;
  readonly onResetZoom?: () => void;
  readonly height?: number;
  /** uPlot's own legend (live values under the cursor); off where the page draws its own. */
  readonly legend?: boolean;
  readonly footer?: ReactNode;
}

const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const FONT = `11px ${FONT_FAMILY}`;
const LABEL_FONT = `12px ${FONT_FAMILY}`;
/** CSS px above the plot area for the span labels (10 px text and its margins). */
export const SPAN_LABEL_BAND = 16;
/** Spans narrower than this (CSS px) do not print their name. */
const SPAN_LABEL_MIN_WIDTH = 48;

export function TimeSeriesChart(props: TimeSeriesChartProps) {
  const [theme] = useTheme();
  const mount = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const overlay = useRef<ChartOverlay | null>(null);
  // Hooks read the latest props through this ref; the chart is rebuilt only when its shape
  // (series, axes) changes, never for new data, a zoom or a theme switch.
  const latest = useRef(props);
  latest.current = props;

  const height = props.height ?? 220;
  const shape = JSON.stringify([
    props.series,
    props.yLabel,
    props.yRange,
    props.yLog,
    props.yUnit,
    props.syncKey,
    height,
    props.legend ?? true,
    props.spanLabels ?? false,
  ]);
  // Canvas colours, resolved from the theme; strokes read them at draw time, so a theme
  // switch repaints the same canvas instead of rebuilding the chart.
  const palette = useRef<Palette>(NO_PALETTE);

  useEffect(() => {
    const target = mount.current;
    if (!target) return;
    palette.current = resolvePalette(latest.current.series);
    const options = buildOptions(latest, palette, target.clientWidth || 600, height);
    const chart = new uPlot(options, latest.current.data, target);
    plot.current = chart;
    overlay.current = new ChartOverlay(chart.over);
    overlay.current.setContent({
      spans: latest.current.spans ?? [],
      troughs: latest.current.troughs ?? [],
    });
    overlay.current.position(chart);
    const resize = new ResizeObserver(() => {
      const width = target.clientWidth;
      if (width > 0 && width !== chart.width) chart.setSize({ width, height });
    });
    resize.observe(target);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
      overlay.current = null;
    };
    // `shape` stands for every option the chart is built from.
  }, [shape, height]);

  useEffect(() => {
    const chart = plot.current;
    palette.current = resolvePalette(latest.current.series);
    if (!chart) return;
    chart.redraw(false);
    paintLegendMarkers(chart, palette.current);
  }, [theme]);

  useEffect(() => {
    plot.current?.setData(props.data, true);
  }, [props.data, props.xRange, props.bands]);

  useEffect(() => {
    const chart = plot.current;
    if (!chart || !overlay.current) return;
    overlay.current.setContent({
      spans: props.spans ?? [],
      troughs: props.troughs ?? [],
    });
    overlay.current.position(chart);
    // The span labels are painted on the canvas, above the plot: repaint them.
    if (props.spanLabels) chart.redraw(false);
  }, [props.spans, props.troughs, props.spanLabels]);

  return (
    <figure className="ts-chart" data-testid={props.testId}>
      <h3 className="ts-chart-title">{props.title}</h3>
      <div className="ts-chart-plot" ref={mount} />
      {props.footer}
    </figure>
  );
}

/** The canvas colours of one chart in the current theme. */
interface Palette {
  readonly axis: string;
  readonly grid: string;
  /** Span labels. */
  readonly label: string;
  /** One per entry of `series`, alpha applied. */
  readonly series: readonly string[];
}

const NO_PALETTE: Palette = { axis: "", grid: "", label: "", series: [] };

function resolvePalette(series: readonly SeriesStyle[]): Palette {
  return {
    axis: resolveColor("--chart-axis"),
    grid: resolveColor("--chart-grid"),
    label: resolveColor("--fg-muted"),
    series: series.map((s) => {
      const color = resolveColor(s.colorVar);
      return s.alpha === undefined ? color : withAlpha(color, s.alpha);
    }),
  };
}

/** uPlot colours its legend markers once, at creation; a theme switch repaints them here. */
function paintLegendMarkers(u: uPlot, palette: Palette): void {
  u.root.querySelectorAll<HTMLElement>(".u-legend .u-series").forEach((row, i) => {
    const marker = row.querySelector<HTMLElement>(".u-marker");
    const color = palette.series[i - 1];
    if (i > 0 && marker && color) marker.style.borderColor = color;
  });
}

function buildOptions(
  latest: { readonly current: TimeSeriesChartProps },
  palette: { readonly current: Palette },
  width: number,
  height: number,
): uPlot.Options {
  const props = latest.current;
  const unit = props.yUnit ?? "";
  const axisStyle = {
    stroke: () => palette.current.axis,
    font: FONT,
    labelFont: LABEL_FONT,
    grid: { stroke: () => palette.current.grid, width: 1 },
    ticks: { stroke: () => palette.current.grid, width: 1, size: 4 },
  };
  return {
    width,
    height,
    // A band above the plot for the span labels; uPlot's own padding elsewhere.
    padding: [props.spanLabels ? SPAN_LABEL_BAND : null, null, null, null],
    legend: { show: props.legend ?? true, live: true },
    scales: {
      x: {
        time: false,
        range: (_u, min, max) => {
          const fixed = latest.current.xRange;
          if (fixed) return [fixed[0], fixed[1]];
          if (min == null || max == null) return [0, 1];
          return min === max ? [min, min + 1] : [min, max];
        },
      },
      y: props.yLog
        ? { distr: 3, log: 10 }
        : props.yRange
          ? { range: [props.yRange[0], props.yRange[1]] }
          : { auto: true },
    },
    axes: [
      { ...axisStyle, label: "iteration", labelSize: 18, size: 34 },
      {
        ...axisStyle,
        label: props.yLabel,
        labelSize: 18,
        size: 46,
        values: props.yLog ? (_u, splits) => splits.map(compactNumber) : undefined,
      },
    ],
    series: [
      { label: "iteration", value: (_u, v) => (v == null ? "—" : v.toLocaleString("en-US")) },
      ...props.series.map((s, i) => {
        return {
          label: s.label,
          stroke: () => palette.current.series[i] ?? palette.current.axis,
          width: s.width ?? 1.5,
          dash: s.dash ? [...s.dash] : undefined,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v == null ? "—" : `${formatValue(v)}${unit}`),
        } satisfies uPlot.Series;
      }),
    ],
    cursor: {
      sync: props.syncKey ? { key: props.syncKey, setSeries: false } : undefined,
      drag: { x: true, y: false, setScale: false },
      points: { size: 6 },
      bind: {
        // uPlot's own double-click autoscales this chart only; the page resets every chart.
        dblclick: () => () => {
          latest.current.onResetZoom?.();
          return null;
        },
      },
    },
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width > 2) {
            const from = u.posToVal(u.select.left, "x");
            const to = u.posToVal(u.select.left + u.select.width, "x");
            const range = rangeFromSelection(from, to);
            if (range) latest.current.onZoom?.(range);
          }
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        },
      ],
      drawAxes: [(u) => drawBands(u, latest.current.bands ?? [])],
      draw: [
        (u) => overlayOf(u.over)?.position(u),
        (u) => {
          if (latest.current.spanLabels) {
            drawSpanLabels(u, latest.current.spans ?? [], palette.current.label);
          }
        },
      ],
    },
  };
}

/**
 * Writes "task k" at the top left of each span, in the band above the plot area (outside the
 * plot box, so no curve runs under it), cut to the span's width; spans too narrow to hold a name
 * (a task scrolled out of a zoom) go without. On the canvas, so a PNG export carries them.
 */
function drawSpanLabels(u: uPlot, spans: readonly TaskSpan[], color: string): void {
  const { ctx, bbox } = u;
  const ratio = uPlot.pxRatio;
  const labels = spanLabels(
    spans,
    (step) => u.valToPos(step, "x", true),
    { left: bbox.left, right: bbox.left + bbox.width },
    SPAN_LABEL_MIN_WIDTH * ratio,
    u.scales.x?.max ?? null,
  );
  if (labels.length === 0) return;
  ctx.save();
  ctx.font = `${Math.round(10 * ratio)}px ${FONT_FAMILY}`;
  ctx.fillStyle = color;
  // uPlot leaves its axis labels' alignment on the context.
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  for (const label of labels) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(label.left, 0, label.right - label.left, bbox.top);
    ctx.clip();
    ctx.fillText(label.text, label.left + 4 * ratio, bbox.top - 3 * ratio);
    ctx.restore();
  }
  ctx.restore();
}

/**
 * Fills each band between its edges, under the series lines (drawAxes runs before them).
 * AlignedChart draws its 95% bands with it too.
 */
export function drawBands(u: uPlot, bands: readonly ChartBand[]): void {
  if (bands.length === 0) return;
  const xs = u.data[0] as ArrayLike<number>;
  const { ctx } = u;
  ctx.save();
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  for (const band of bands) {
    ctx.fillStyle = withAlpha(resolveColor(band.colorVar), 0.16);
    for (const [from, to] of bandSegments(band.lower, band.upper)) {
      ctx.beginPath();
      for (let i = from; i <= to; i++) {
        const px = u.valToPos(xs[i]!, "x", true);
        const py = u.valToPos(band.upper[i]!, "y", true);
        if (i === from) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      }
      for (let i = to; i >= from; i--) {
        ctx.lineTo(u.valToPos(xs[i]!, "x", true), u.valToPos(band.lower[i]!, "y", true));
      }
      ctx.closePath();
      ctx.fill();
    }
  }
  ctx.restore();
}

function formatValue(v: number): string {
  const magnitude = Math.abs(v);
  if (magnitude !== 0 && (magnitude < 0.01 || magnitude >= 1e5)) return v.toExponential(2);
  return magnitude >= 100 ? v.toFixed(1) : v.toFixed(magnitude >= 1 ? 2 : 4);
}

function compactNumber(v: number): string {
  if (v == null) return "";
  const magnitude = Math.abs(v);
  return magnitude >= 1e4 || (magnitude > 0 && magnitude < 1e-3) ? v.toExponential(0) : String(v);
}
