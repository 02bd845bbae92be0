// metrics-read → the run page's chart tables. The keys are the ones the worker writes
// (ARCHITECTURE.md, "Metric points"): eval/acc/task_<j>, eval/loss/task_<j>, train/loss, train/lr.
import type uPlot from "uplot";

import type { RunRead, Schemas } from "../../api/client";
import { alignSeries, type AlignOptions } from "../../charts/align";
import { bucketWidth, type StepRange } from "../../charts/budget";

type MetricsRead = Schemas["MetricsRead"];
type SeriesRead = Schemas["SeriesRead"];

export const accKey = (task: number) => `eval/acc/task_${task}`;
export const evalLossKey = (task: number) => `eval/loss/task_${task}`;
export const TRAIN_LOSS = "train/loss";
export const TRAIN_LR = "train/lr";

/**
 * The task count a benchmark spec plans: its `n_tasks` (the built-ins), else a custom
 * benchmark's split (one task per class list, per permutation or per angle); null when the spec
 * says none (a plugin's benchmark may not).
 */
function benchmarkTasks(benchmark: unknown): number | null {
  const b = benchmark as
    | { n_tasks?: unknown; split?: { n_tasks?: unknown; tasks?: unknown; angles?: unknown } }
    | null
    | undefined;
  const split = b?.split;
  const n =
    b?.n_tasks ??
    split?.n_tasks ??
    (Array.isArray(split?.tasks) ? split.tasks.length : undefined) ??
    (Array.isArray(split?.angles) ? split.angles.length : undefined);
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The task count a run's spec plans (see `benchmarkTasks`), or null; null for a loop run too
 * (no spec: its tasks are the ones its events started).
 */
export function plannedTasks(run: RunRead | undefined): number | null {
  return benchmarkTasks(run?.spec?.benchmark);
}

/** The keys the page reads in its one metrics request, for tasks 0..nTasks-1. */
export function runSeriesKeys(nTasks: number): string[] {
  const tasks = Array.from({ length: nTasks }, (_, j) => j);
  return [...tasks.map(accKey), ...tasks.map(evalLossKey), TRAIN_LOSS, TRAIN_LR];
}

/** How the request that produced a MetricsRead was cut: its points budget and range. */
export interface ReadShape {
  readonly points: number;
  readonly range: StepRange | null;
}

function bucketOf(read: MetricsRead, series: SeriesRead, shape: ReadShape): number {
  const total = read.points_in_range?.[series.key] ?? series.steps.length;
  const first = shape.range?.start ?? series.steps[0] ?? 0;
  const last = shape.range ? shape.range.end - 1 : (series.steps.at(-1) ?? 0);
  return bucketWidth(total, shape.points, first, last);
}

/** The aligned uPlot table of `keys` (missing keys are empty columns). */
export function chartTable(
  read: MetricsRead | undefined,
  keys: readonly string[],
  shape: ReadShape,
  options: Omit<AlignOptions, "bucketWidths"> = {},
): uPlot.AlignedData {
  const byKey = new Map((read?.series ?? []).map((s) => [s.key, s]));
  const series = keys.map((key) => byKey.get(key));
  const bucketWidths = series.map((s) => (s && read ? bucketOf(read, s, shape) : 0));
  return alignSeries(series, { ...options, bucketWidths });
}

/** Accuracy tables in percent: one per task, and all tasks overlaid. */
export function accuracyTables(
  read: MetricsRead | undefined,
  tasks: readonly number[],
  shape: ReadShape,
): { perTask: uPlot.AlignedData[]; overlay: uPlot.AlignedData } {
  return {
    perTask: tasks.map((j) => chartTable(read, [accKey(j)], shape, { scale: 100 })),
    overlay: chartTable(read, tasks.map(accKey), shape, { scale: 100 }),
  };
}

/** The loss table: training loss first, then each task's evaluation loss (positive, for log y). */
export function lossTable(
  read: MetricsRead | undefined,
  tasks: readonly number[],
  shape: ReadShape,
): uPlot.AlignedData {
  return chartTable(read, [TRAIN_LOSS, ...tasks.map(evalLossKey)], shape, { positiveOnly: true });
}

/** Whether a chart table holds any value to draw (charts without one are left out). */
export function hasPoints(table: uPlot.AlignedData | undefined): boolean {
  if (!table) return false;
  for (let i = 1; i < table.length; i++) {
    const column = table[i] as ArrayLike<number | null | undefined>;
    for (let k = 0; k < column.length; k++) {
      const value = column[k];
      if (typeof value === "number" && Number.isFinite(value)) return true;
    }
  }
  return false;
}

/**
 * The x range to show: the zoom ([start, end) → [start, end − 1]) or, unzoomed, the whole run
 * as planned (so a running run's curves grow into a fixed frame instead of rescaling).
 */
export function visibleRange(
  zoom: StepRange | null,
  plannedTotal: number | null | undefined,
): [number, number] | null {
  if (zoom) return [zoom.start, zoom.end - 1];
  return plannedTotal && plannedTotal > 0 ? [0, plannedTotal] : null;
}
