// runs-compare → the compare page's charts and table. Runs are grouped (by strategy, or by their
// group when groups were asked for); each group is drawn as its mean with a ± std band across its
// runs (seeds), over faint lines of the single runs.
import type uPlot from "uplot";

import type { RunRead, RunSummary, Schemas } from "../../api/client";
import { alignSeries, breakThreshold, type StepSeries } from "../../charts/align";
import { bandEdges } from "../../charts/bands";
import { m4BucketWidth } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import { interpolate, meanStd, spreadOf } from "../../charts/stats";
import type { ChartBand, SeriesStyle } from "../../charts/TimeSeriesChart";

type AlignedSeries = Schemas["AlignedSeries"];

/** What the URL asks to compare. */
export type Selection =
  | { readonly kind: "runs"; readonly ids: readonly number[] }
  | { readonly kind: "groups"; readonly groups: readonly string[] }
  | { readonly kind: "none" };

/** Reads ?runs=1,2,3 or ?groups=a,b (runs win when both are given). */
export function parseSelection(params: URLSearchParams): Selection {
  const ids = [
    ...new Set(
      (params.get("runs") ?? "")
        .split(",")
        .map((part) => Number(part.trim()))
        .filter((id) => Number.isInteger(id) && id > 0),
    ),
  ];
  if (ids.length > 0) return { kind: "runs", ids };
  const groups = [
    ...new Set(
      (params.get("groups") ?? params.get("group") ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean),
    ),
  ];
  return groups.length > 0 ? { kind: "groups", groups } : { kind: "none" };
}

export interface RunGroup {
  readonly key: string;
  readonly label: string;
  readonly runIds: readonly number[];
  readonly colorVar: string;
}

/** The label a run goes by: its name, else "Run <id>". */
export function runLabel(run: RunRead): string {
  return run.name ?? `Run ${run.id}`;
}

/**
 * Groups the runs, in order of first appearance: by their `group` when groups were asked for
 * (a run without one stands alone), else by strategy.
 */
export function groupRuns(runs: readonly RunRead[], by: "strategy" | "group"): RunGroup[] {
  const groups = new Map<string, number[]>();
  for (const run of runs) {
    const key = by === "group" ? (run.group ?? `#${run.id}`) : run.spec.strategy.name;
    groups.set(key, [...(groups.get(key) ?? []), run.id]);
  }
  return [...groups.entries()].map(([key, runIds], i) => ({
    key,
    label: key,
    runIds,
    colorVar: seriesVar(i),
  }));
}

export interface CompareChart {
  readonly data: uPlot.AlignedData;
  readonly series: SeriesStyle[];
  readonly bands: ChartBand[];
}

/**
 * One task's chart: per group, its runs as faint lines and (with two runs or more) their mean
 * with a ± std band; a group of one run is just that run's line. Accuracies in percent.
 *
 * `runIds` is the order of `aligned.values` (the comparison's run_ids); `points` the budget the
 * request was made with, to tell M4 bucket spacing from holes.
 */
export function compareChart(
  aligned: AlignedSeries | undefined,
  runIds: readonly number[],
  groups: readonly RunGroup[],
  points: number,
  labels: ReadonlyMap<number, string>,
): CompareChart {
  const perRun: (StepSeries | undefined)[] = runIds.map((_, r) => {
    const values = aligned?.values[r];
    if (!aligned || !values) return undefined;
    const steps: number[] = [];
    const kept: number[] = [];
    values.forEach((v, i) => {
      if (v !== null) {
        steps.push(aligned.steps[i]!);
        kept.push(v);
      }
    });
    return { steps, values: kept };
  });
  // The server cuts every run over the same buckets, spanning all runs' steps.
  const shared =
    aligned?.downsampled && aligned.steps.length > 0
      ? m4BucketWidth(points, aligned.steps[0]!, aligned.steps.at(-1)!)
      : 0;
  const buckets = perRun.map(() => shared);
  const table = alignSeries(perRun, { scale: 100, bucketWidths: buckets });
  const xs = table[0] as number[];
  const columnOf = (runId: number) =>
    table[runIds.indexOf(runId) + 1] as (number | null | undefined)[];

  const columns: (number | null | undefined)[][] = [];
  const series: SeriesStyle[] = [];
  const bands: ChartBand[] = [];
  for (const group of groups) {
    const members = group.runIds.filter((id) => runIds.includes(id));
    if (members.length === 0) continue;
    if (members.length === 1) {
      columns.push(columnOf(members[0]!));
      const label = labels.get(members[0]!) ?? group.label;
      series.push({ label, colorVar: group.colorVar, width: 1.5 });
      continue;
    }
    const filled = members.map((id) => {
      const s = perRun[runIds.indexOf(id)];
      const maxGap = s ? breakThreshold(s.steps, buckets[runIds.indexOf(id)] ?? 0) : 0;
      return interpolate(xs, columnOf(id), maxGap);
    });
    for (const id of members) {
      columns.push(columnOf(id));
      const label = labels.get(id) ?? `#${id}`;
      series.push({ label, colorVar: group.colorVar, width: 1, alpha: 0.3 });
    }
    const { mean, std } = meanStd(filled, xs.length);
    columns.push(mean);
    series.push({ label: `${group.label} mean`, colorVar: group.colorVar, width: 2.25 });
    bands.push({ ...bandEdges(mean, std), colorVar: group.colorVar });
  }
  return { data: [xs, ...columns], series, bands };
}

/** The compare table's metrics: label, how to print, and where each run's number comes from. */
export interface CompareMetric {
  readonly id: string;
  readonly label: string;
  readonly signed: boolean;
  readonly pick: (summary: RunSummary | undefined, run: RunRead | undefined) => number | null;
  readonly definition: (summary: RunSummary | undefined) => string;
}

const wf = (w: number) => (summary: RunSummary | undefined) =>
  summary?.wf.windows.find((window) => window.w === w)?.value ?? null;

export const COMPARE_METRICS: readonly CompareMetric[] = [
  {
    id: "acc",
    label: "ACC",
    signed: false,
    pick: (s) => s?.acc.value ?? null,
    definition: (s) => (s ? `${s.acc.definition}: ${s.acc.formula}` : ""),
  },
  {
    id: "bwt",
    label: "BWT",
    signed: true,
    pick: (s) => s?.bwt.value ?? null,
    definition: (s) => (s ? `${s.bwt.definition}: ${s.bwt.formula}` : ""),
  },
  {
    id: "forgetting",
    label: "Forgetting",
    signed: true,
    pick: (s) => s?.forgetting.value ?? null,
    definition: (s) => (s ? `${s.forgetting.definition}: ${s.forgetting.formula}` : ""),
  },
  {
    id: "min_acc",
    label: "min-ACC",
    signed: false,
    pick: (s) => s?.min_acc.value ?? null,
    definition: (s) => (s ? `${s.min_acc.definition}: ${s.min_acc.formula}` : ""),
  },
  {
    id: "wc_acc",
    label: "WC-ACC",
    signed: false,
    pick: (s) => s?.wc_acc.value ?? null,
    definition: (s) => (s ? `${s.wc_acc.definition}: ${s.wc_acc.formula}` : ""),
  },
  {
    id: "wf10",
    label: "WF10",
    signed: false,
    pick: wf(10),
    definition: (s) => (s ? `${s.wf.definition}: ${s.wf.formula} (w = 10)` : ""),
  },
  {
    id: "wf100",
    label: "WF100",
    signed: false,
    pick: wf(100),
    definition: (s) => (s ? `${s.wf.definition}: ${s.wf.formula} (w = 100)` : ""),
  },
  {
    id: "mean_gap_depth",
    label: "Mean gap depth",
    signed: false,
    pick: (_s, run) => run?.headline?.mean_gap_depth ?? null,
    definition: () =>
      "mean stability-gap depth (before − trough) over every evaluated (boundary, earlier task) pair",
  },
];

export interface CompareColumn {
  readonly key: string;
  readonly label: string;
  /** Runs behind the column: one for a run column, several for a group's mean ± std. */
  readonly runIds: readonly number[];
  readonly colorVar: string;
  readonly isGroup: boolean;
}

/**
 * Table columns: with ?runs=, one per run, then a mean ± std column for each group (strategy)
 * of two runs or more; with ?groups=, one mean ± std column per group.
 */
export function compareColumns(
  runs: readonly RunRead[],
  groups: readonly RunGroup[],
  kind: "runs" | "groups",
): CompareColumn[] {
  const groupOf = new Map(groups.flatMap((g) => g.runIds.map((id) => [id, g] as const)));
  const groupColumns = groups
    .filter((g) => kind === "groups" || g.runIds.length > 1)
    .map((g) => ({
      key: `group:${g.key}`,
      label: g.label,
      runIds: g.runIds,
      colorVar: g.colorVar,
      isGroup: true,
    }));
  if (kind === "groups") return groupColumns;
  const runColumns = runs.map((run) => ({
    key: `run:${run.id}`,
    label: runLabel(run),
    runIds: [run.id],
    colorVar: groupOf.get(run.id)?.colorVar ?? seriesVar(0),
    isGroup: false,
  }));
  return [...runColumns, ...groupColumns];
}

/** One cell: a run's number, or a group's mean ± std over its runs. */
export function compareCell(
  metric: CompareMetric,
  column: CompareColumn,
  summaries: ReadonlyMap<number, RunSummary>,
  runs: ReadonlyMap<number, RunRead>,
): { mean: number | null; std: number | null; n: number } {
  const values = column.runIds.map((id) => metric.pick(summaries.get(id), runs.get(id)));
  if (!column.isGroup) return { mean: values[0] ?? null, std: null, n: values[0] == null ? 0 : 1 };
  return spreadOf(values);
}

/** The task count to chart: the most any compared run plans. */
export function comparedTasks(runs: readonly RunRead[]): number {
  return Math.max(
    0,
    ...runs.map((run) => {
      const n = (run.spec.benchmark as { n_tasks?: unknown }).n_tasks;
      return typeof n === "number" ? n : 0;
    }),
  );
}

/** Whether every run trains tasks of the same length (so one run's boundaries fit all). */
export function sameSchedule(runs: readonly RunRead[]): boolean {
  const schedules = new Set(
    runs.map(({ spec }) => `${spec.training?.iterations_per_task}/${spec.training?.epochs_per_task}`),
  );
  return schedules.size <= 1;
}
