// runs-compare → the compare page's charts and table. Runs are grouped (by strategy, or by their
// group when groups were asked for); each group is drawn as its mean with a ± std band across its
// runs (seeds), over faint lines of the single runs.
import type uPlot from "uplot";

import type { RunRead, RunSummary, Schemas } from "../../api/client";
import { alignSeries, breakThreshold, type StepSeries } from "../../charts/align";
import { bandEdges } from "../../charts/bands";
import { m4BucketWidth } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import { entryText, flattenConfig, jsonText, searchValueText } from "../../components/config";
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

/** What a loop run is called where an engine run shows its strategy. */
export const OWN_LOOP = "own loop";

/** "#12 · seed 3" for an engine run; "#12 · own loop" (and its config's seed) for a loop run. */
export function runDetail(run: RunRead): string {
  if (run.spec !== null) return `#${run.id} · seed ${run.spec.seed ?? 0}`;
  const seed = flattenConfig(run.config).find(([key]) => key === "seed")?.[1];
  return `#${run.id} · ${OWN_LOOP}${seed !== undefined ? ` · seed ${jsonText(seed)}` : ""}`;
}

/** A seed is a repetition of a setting, not a setting: runs that differ only there belong together. */
function isSeedKey(key: string): boolean {
  return /(^|[._])seed$/i.test(key);
}

/**
 * The config entries that tell the loop runs among `runs` apart (seeds left out): the axes a
 * comparison of loop runs groups them along, in order of first appearance.
 */
export function loopAxes(runs: readonly RunRead[]): string[] {
  const loops = runs.filter((run) => run.spec === null).map((run) => configMap(run.config));
  const keys = [...new Set(loops.flatMap((config) => [...config.keys()]))];
  return keys.filter(
    (key) => !isSeedKey(key) && new Set(loops.map((config) => config.get(key) ?? "")).size > 1,
  );
}

function configMap(config: unknown): Map<string, string> {
  return new Map(flattenConfig(config).map(([key, value]) => [key, jsonText(value)]));
}

// A group label names at most this many config entries (the key still tells every one apart).
const LABEL_AXES = 3;

/** A loop run's group when grouping by "strategy": "own loop", or "own loop · lr=0.1" when the
 * compared loop runs differ in their config (their seeds aside). */
function loopGroup(run: RunRead, axes: readonly string[]): { key: string; label: string } {
  const entries = new Map(flattenConfig(run.config));
  const parts = axes.map((key) =>
    entries.has(key) ? entryText([key, entries.get(key)]) : `${key}=—`,
  );
  const shown = parts.slice(0, LABEL_AXES).join(" · ") + (parts.length > LABEL_AXES ? " · …" : "");
  return {
    key: `loop:${parts.join("\u0000")}`,
    label: parts.length > 0 ? `${OWN_LOOP} · ${shown}` : OWN_LOOP,
  };
}

/**
 * Groups the runs, in order of first appearance: by their `group` when groups were asked for
 * (a run without one stands alone), else by strategy. A loop run has no strategy: loop runs
 * group by the config entries they differ in (their seeds aside), so that the seeds of one
 * config are drawn as its mean ± std.
 */
export function groupRuns(runs: readonly RunRead[], by: "strategy" | "group"): RunGroup[] {
  const axes = by === "strategy" ? loopAxes(runs) : [];
  const groups = new Map<string, { label: string; runIds: number[] }>();
  for (const run of runs) {
    const { key, label } =
      by === "group"
        ? { key: run.group ?? `#${run.id}`, label: run.group ?? `#${run.id}` }
        : run.spec !== null
          ? { key: run.spec.strategy.name, label: run.spec.strategy.name }
          : loopGroup(run, axes);
    const group = groups.get(key) ?? { label, runIds: [] };
    group.runIds.push(run.id);
    groups.set(key, group);
  }
  return [...groups.entries()].map(([key, { label, runIds }], i) => ({
    key,
    label,
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

/**
 * The task count to chart: the most any compared run plans (its spec's n_tasks) or, for loop
 * runs, which plan nothing the server knows of, the most tasks a summary has seen.
 */
export function comparedTasks(
  runs: readonly RunRead[],
  summaries: readonly Pick<RunSummary, "tasks_total" | "tasks_completed">[] = [],
): number {
  return Math.max(
    0,
    ...runs.map((run) => {
      const n = (run.spec?.benchmark as { n_tasks?: unknown } | undefined)?.n_tasks;
      return typeof n === "number" ? n : 0;
    }),
    ...summaries.map((summary) => summary.tasks_total ?? summary.tasks_completed),
  );
}

/**
 * Whether every run trains tasks of the same length (so one run's boundaries fit all): true or
 * false from the engine runs' specs; null when they agree but a loop run is compared too (its
 * schedule is its code's, unknown here).
 */
export function sameSchedule(runs: readonly RunRead[]): boolean | null {
  const schedules = new Set(
    runs.flatMap(({ spec }) =>
      spec === null
        ? []
        : [`${spec.training?.iterations_per_task}/${spec.training?.epochs_per_task}`],
    ),
  );
  if (schedules.size > 1) return false;
  return runs.length > 1 && runs.some((run) => run.spec === null) ? null : true;
}

/** One setting that differs between the compared runs: its value per run ("" where unset). */
export interface SettingRow {
  readonly key: string;
  readonly values: readonly string[];
}

// Spec fields that label or route a run rather than set its training.
const NOT_SETTINGS = new Set(["project", "name", "group", "tags", "queue"]);

/**
 * A run's settings, flat: an engine run's spec ("strategy.name", "optimizer.lr", …) or a loop
 * run's config ("config.lr", "config.optimizer.name", …), values as the config search writes
 * them (0.01, adam, "two words").
 */
export function runSettings(run: RunRead): Map<string, string> {
  if (run.spec === null) {
    return new Map(
      flattenConfig(run.config).map(([key, value]) => [`config.${key}`, searchValueText(value)]),
    );
  }
  const spec = Object.fromEntries(
    Object.entries(run.spec).filter(([key]) => !NOT_SETTINGS.has(key)),
  );
  return new Map(
    flattenConfig(spec).map(([key, value]) => [key, searchValueText(value)]),
  );
}

/**
 * The settings that differ between the runs, one row each with every run's value, in order of
 * first appearance: spec fields for engine runs, config entries for loop runs (the axes a
 * comparison of one's own loops runs along).
 */
export function settingDifferences(runs: readonly RunRead[]): SettingRow[] {
  const settings = runs.map(runSettings);
  const keys = [...new Set(settings.flatMap((s) => [...s.keys()]))];
  return keys
    .map((key) => ({ key, values: settings.map((s) => s.get(key) ?? "") }))
    .filter((row) => new Set(row.values).size > 1);
}
