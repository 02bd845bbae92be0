// A sweep's API answers → what its page shows: progress, the results table's cells and order,
// links to its runs, and the boundary-aligned chart's columns. Pure functions, tested beside.

import { definitionHover } from "../../api/definitions";
import { seriesVar } from "../../charts/color";
import { entryText, searchValueText } from "../../components/config";
import { MISSING } from "../../components/format";
import { type AlignedChart, alignedChart as alignedLines } from "../../charts/aligned";
import type {
  MetricDefinition,
  ResultCell,
  RunStatusName,
  SweepAligned,
  SweepProgress,
  SweepRow,
} from "./types";

/** The statuses in the order the progress line lists them. */
export const STATUS_ORDER: readonly RunStatusName[] = [
  "succeeded",
  "running",
  "queued",
  "failed",
  "cancelled",
  "crashed",
];

/** A run that will not change any more (a crashed loop run may resume, but nothing waits on it). */
const ENDED: ReadonlySet<RunStatusName> = new Set(["succeeded", "failed", "cancelled", "crashed"]);

export interface ProgressView {
  readonly total: number;
  readonly ended: number;
  /** ended / total; 1 for a sweep without runs. */
  readonly fraction: number;
  /** Statuses with at least one run, in STATUS_ORDER. */
  readonly counts: readonly (readonly [RunStatusName, number])[];
  /** Some run is queued or running: the page polls. */
  readonly active: boolean;
}

export function progressView(progress: SweepProgress): ProgressView {
  const counts = STATUS_ORDER.map((status) => [status, progress[status] ?? 0] as const).filter(
    ([, n]) => n > 0,
  );
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const ended = counts.reduce((sum, [status, n]) => sum + (ENDED.has(status) ? n : 0), 0);
  return { total, ended, fraction: total === 0 ? 1 : ended / total, counts, active: ended < total };
}

// --- the results table -----------------------------------------------------------------------

type Unit = MetricDefinition["unit"];

/** How a unit is shown: its scale, decimals and what one of it reads as. A new unit in the
 * registry (the generated type) must be added here. */
const UNITS: Record<Unit, { scale: number; digits: number; suffix: string }> = {
  fraction: { scale: 100, digits: 1, suffix: "pp" }, // accuracies and differences: points
  share: { scale: 100, digits: 1, suffix: "%" },
};

/** A metric value in its display unit: fractions as points, shares as percentages. */
export function displayValue(value: number, unit: Unit): number {
  return value * UNITS[unit].scale;
}

/** "12.3", "−4.0" (a true minus), "1,234.5": one number in the metric's display unit. */
export function formatNumber(value: number | null | undefined, unit: Unit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const shown = displayValue(value, unit);
  const { digits } = UNITS[unit];
  const text = Math.abs(shown).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return shown < 0 && Number(text.replace(/,/g, "")) !== 0 ? `−${text}` : text;
}

/** What one unit of a metric's display reads as ("pp" for accuracies, "%" for shares). */
export function unitSuffix(unit: Unit): string {
  return UNITS[unit].suffix;
}

export interface CellView {
  /** "87.3 ± 1.2", "87.3" (one run), or "—". */
  readonly text: string;
  readonly provisional: boolean;
  /** Runs that contribute, shown in the cell when fewer than the row's runs. */
  readonly n: number;
  /** The hover text: the interval's bounds, n, and why the number is provisional. */
  readonly title: string;
}

/** One results cell: mean ± 95% CI half width in the metric's display unit. */
export function cellView(cell: ResultCell | undefined, metric: MetricDefinition): CellView {
  if (!cell || cell.mean === null || !Number.isFinite(cell.mean)) {
    const provisional = cell?.provisional ?? false;
    return {
      text: MISSING,
      provisional,
      n: cell?.n ?? 0,
      title: provisional
        ? "No run of this configuration has ended yet"
        : "No run gives this number",
    };
  }
  const unit = metric.unit;
  const mean = formatNumber(cell.mean, unit);
  const half = cell.ci95 !== null && Number.isFinite(cell.ci95) ? cell.ci95 : null;
  const text = half === null ? mean : `${mean} ± ${formatNumber(Math.abs(half), unit)}`;
  const runs = `n = ${cell.n} ${cell.n === 1 ? "run" : "runs"}`;
  const interval =
    half === null
      ? `${runs}: no interval with fewer than two runs`
      : `95% CI [${formatNumber(cell.mean - half, unit)}, ` +
        `${formatNumber(cell.mean + half, unit)}] ${unitSuffix(unit)}, ${runs}`;
  const title = cell.provisional
    ? `${interval}. Provisional: some runs of this configuration have not ended`
    : interval;
  return { text, provisional: cell.provisional, n: cell.n, title };
}

/** A header's hover text: the metric's definition, its formula and which way is better. */
export function metricTitle(metric: MetricDefinition): string {
  return `${definitionHover(metric)}\nmean ± 95% CI over seeds, in ${unitSuffix(metric.unit)}`;
}

/** The definitions of `metrics` from GET /definitions where it has them (fuller, same ids). */
export function withDefinitions(
  metrics: readonly MetricDefinition[],
  definitions: readonly MetricDefinition[] | undefined,
): MetricDefinition[] {
  const byId = new Map((definitions ?? []).map((d) => [d.id, d]));
  return metrics.map((metric) => byId.get(metric.id) ?? metric);
}

// --- sorting -----------------------------------------------------------------------------------

export interface RowSort {
  readonly metric: string;
  readonly descending: boolean;
}

/** `?sort=gap` (ascending) or `?sort=-gap` (descending), for a metric the table has; else null. */
export function parseSort(text: string | null, metricIds: readonly string[]): RowSort | null {
  if (!text) return null;
  const descending = text.startsWith("-");
  const metric = descending ? text.slice(1) : text;
  return metricIds.includes(metric) ? { metric, descending } : null;
}

export function sortText(sort: RowSort): string {
  return `${sort.descending ? "-" : ""}${sort.metric}`;
}

/** A header click: a new column sorts best first (by its direction); the same one flips. */
export function nextSort(current: RowSort | null, metric: MetricDefinition): RowSort {
  if (current?.metric === metric.id) return { metric: metric.id, descending: !current.descending };
  return { metric: metric.id, descending: metric.higher_is_better };
}

/**
 * The rows in `sort`'s order of their metric's mean, rows without a number last whichever the
 * direction; ties keep the API's order. No sort: the API's order.
 */
export function sortRows(rows: readonly SweepRow[], sort: RowSort | null): SweepRow[] {
  const indexed = rows.map((row, index) => ({ row, index }));
  if (!sort) return rows.slice();
  const valueOf = (row: SweepRow) => {
    const mean = row.cells[sort.metric]?.mean;
    return mean === null || mean === undefined || !Number.isFinite(mean) ? null : mean;
  };
  indexed.sort((a, b) => {
    const [x, y] = [valueOf(a.row), valueOf(b.row)];
    if (x === null || y === null) return x === y ? a.index - b.index : x === null ? 1 : -1;
    if (x !== y) return sort.descending ? y - x : x - y;
    return a.index - b.index;
  });
  return indexed.map(({ row }) => row);
}

// --- configurations and their runs -------------------------------------------------------------

/** "strategy.name=er · optimizer.lr=0.01"; a sweep over seeds only has one configuration. */
export function configLabel(config: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(config);
  return entries.length === 0 ? "all runs" : entries.map((entry) => entryText(entry)).join(" · ");
}

/** A stable key for a configuration (its values as JSON, in the axes' order). */
export function configKey(config: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.entries(config));
}

/** The compare page's URL for these runs (its ?runs=1,2,3 selection). */
export function compareHref(runIds: readonly number[]): string {
  return `/compare?runs=${[...runIds].sort((a, b) => a - b).join(",")}`;
}

/** The runs list filtered to the sweep's runs (every run of sweep N is tagged "sweep:N"). */
export function sweepRunsHref(sweepId: number): string {
  return `/runs?${new URLSearchParams({ tag: `sweep:${sweepId}` }).toString()}`;
}

/** The axes as a line: "strategy.name ∈ {finetune, er} × seed ∈ {0, 1}". */
export function axesText(axes: Readonly<Record<string, readonly unknown[]>>): string {
  return Object.entries(axes)
    .map(
      ([path, values]) =>
        `${path} ∈ {${values.map(searchValueText).join(", ")}}`,
    )
    .join(" × ");
}

// --- the boundary-aligned chart ----------------------------------------------------------------

/** Each configuration's colour: its place in the API's order of the results rows. */
export function configColors(rows: readonly Pick<SweepRow, "config">[]): Map<string, string> {
  return new Map(rows.map((row, i) => [configKey(row.config), seriesVar(i)]));
}

/**
 * One line per configuration: the mean change of accuracy since the boundary, with its 95%
 * band. A configuration's colour is `colors`' (the table's), else its place among the
 * configurations, drawn or not.
 */
export function alignedChart(
  aligned: SweepAligned,
  colors: ReadonlyMap<string, string> = new Map(),
): AlignedChart {
  return alignedLines(
    aligned.configs.map(({ config, band }) => ({
      label: configLabel(config),
      band,
      colorVar: colors.get(configKey(config)),
    })),
  );
}
