// runs-compare → the compare page's charts and table. Runs are grouped (by strategy, or by their
// group when groups were asked for); each group is drawn as its mean with a ± std band across its
// runs (seeds), over faint lines of the single runs. Compared by id, every run has a colour of its
// own, the same in the charts, the legend and the heading of its table column.
import type uPlot from "uplot";

import type { RunRead, RunSummary, Schemas } from "../../api/client";
import { alignSeries, breakThreshold, type StepSeries } from "../../charts/align";
import { bandEdges } from "../../charts/bands";
import { m4BucketWidth } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import { percent, signedPercent } from "../../charts/format";
import { entryText, flattenConfig, jsonText, searchValueText } from "../../components/config";
import { isActiveStatus, type RunStatus } from "../../components/StatusBadge";
import { interpolate, meanStd, spreadOf } from "../../charts/stats";
import type { ChartBand, SeriesStyle } from "../../charts/TimeSeriesChart";
import { plannedIterations as runPlannedIterations } from "../run/progress";
import { plannedTasks } from "../run/runSeries";

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
 * config are drawn as its mean ± std. Group i is coloured with series slot `colorOffset + i`
 * (compared by id, the runs take the first slots: see runColors).
 */
export function groupRuns(
  runs: readonly RunRead[],
  by: "strategy" | "group",
  colorOffset = 0,
): RunGroup[] {
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
    colorVar: seriesVar(colorOffset + i),
  }));
}

/** Each run's own colour, in the order compared: series slots 0, 1, 2, … */
export function runColors(runs: readonly RunRead[]): Map<number, string> {
  return new Map(runs.map((run, i) => [run.id, seriesVar(i)]));
}

/** The iterations the runs plan (the longest), to span the x axis before any point exists. */
export function plannedIterations(runs: readonly RunRead[]): number | null {
  const totals = runs.map((run) => run.progress?.total || runPlannedIterations(run) || 0);
  const most = Math.max(0, ...totals);
  return most > 0 ? most : null;
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
 * request was made with, to tell M4 bucket spacing from holes. With `colors` (compared by id),
 * each run's line has its own colour and the group's mean the group's; else a group's runs are
 * drawn in the group's colour. `scale` multiplies the values (100: fractions in percent; 1 for
 * diagnostics such as a rank or a norm).
 */
export function compareChart(
  aligned: AlignedSeries | undefined,
  runIds: readonly number[],
  groups: readonly RunGroup[],
  points: number,
  labels: ReadonlyMap<number, string>,
  colors?: ReadonlyMap<number, string>,
  scale = 100,
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
  const table = alignSeries(perRun, { scale, bucketWidths: buckets });
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
      series.push({ label, colorVar: colors?.get(members[0]!) ?? group.colorVar, width: 1.5 });
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
      const own = colors?.get(id);
      series.push({ label, colorVar: own ?? group.colorVar, width: 1, alpha: own ? 0.6 : 0.3 });
    }
    const spread = meanStd(filled, xs.length);
    // With runs in colours of their own, a "mean" of one run would hide that run's line: the
    // mean is drawn where two runs or more cover the step.
    const mean = colors ? spread.mean.map((m, i) => (spread.count[i]! >= 2 ? m : null)) : spread.mean;
    const std = spread.std;
    columns.push(mean);
    series.push({ label: `${group.label} mean`, colorVar: group.colorVar, width: 2.25 });
    bands.push({ ...bandEdges(mean, std), colorVar: group.colorVar });
  }
  return { data: [xs, ...columns], series, bands };
}

/** One entry of GET /definitions: a registry metric. */
export type MetricDefinition = Schemas["Definition"];

/** The compare table's metrics: label, how to print, and where each run's number comes from. */
export interface CompareMetric {
  readonly id: string;
  readonly label: string;
  readonly unit: MetricDefinition["unit"];
  /** A difference that may go either way (printed with its sign). */
  readonly signed: boolean;
  /** The hover text: definition, formula, which way is better. */
  readonly title: string;
  readonly pick: (summary: RunSummary | undefined, run: RunRead | undefined) => number | null;
}

// Transfers are differences either way; the other numbers are levels, depths or shares.
const SIGNED = new Set(["bwt", "fwt"]);

/**
 * The table's rows: the registry's headline metrics (GET /definitions, in its order), each run's
 * number read from its summary's metrics (live, as of its last ended task), else from the
 * numbers stored when it ended.
 */
export function compareMetrics(definitions: readonly MetricDefinition[]): CompareMetric[] {
  return definitions
    .filter((d) => d.headline)
    .map((d) => ({
      id: d.id,
      label: d.label,
      unit: d.unit,
      signed: SIGNED.has(d.id),
      title: `${d.label}: ${d.definition}\n${d.formula}\n(${
        d.higher_is_better ? "higher" : "lower"
      } is better)`,
      pick: (summary, run) => storedNumber(summary, run, d.id),
    }));
}

/** A metric's value as the table prints it: accuracies in percent, shares as a percentage. */
export function formatMetric(metric: CompareMetric, value: number | null): string {
  if (metric.unit === "share") return percent(value, 0);
  return metric.signed ? signedPercent(value) : percent(value, 2);
}

/**
 * A run's number of metric `id`: its summary's, else the one stored when it ended; null where
 * neither has it.
 */
export function storedNumber(
  summary: RunSummary | undefined,
  run: RunRead | undefined,
  id: string,
): number | null {
  const live = summary?.metrics?.[id]?.value;
  if (live !== undefined) return live;
  return run?.headline?.[id] ?? null;
}

export interface CompareColumn {
  readonly key: string;
  /** A run column: "#12 · seed 3"; a group column: the group's label. */
  readonly label: string;
  /** A run column's name, under its label. */
  readonly name?: string;
  /** Runs behind the column: one for a run column, several for a group's mean ± std. */
  readonly runIds: readonly number[];
  readonly colorVar: string;
  readonly isGroup: boolean;
}

/**
 * Table columns: with ?runs=, one per run (headed by its id and seed, in its own colour), then a
 * mean ± std column for each group (strategy) of two runs or more; with ?groups=, one mean ± std
 * column per group.
 */
export function compareColumns(
  runs: readonly RunRead[],
  groups: readonly RunGroup[],
  kind: "runs" | "groups",
): CompareColumn[] {
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
  const colors = runColors(runs);
  const runColumns = runs.map((run) => ({
    key: `run:${run.id}`,
    label: runDetail(run),
    name: runLabel(run),
    runIds: [run.id],
    colorVar: colors.get(run.id)!,
    isGroup: false,
  }));
  return [...runColumns, ...groupColumns];
}

export interface CompareCell {
  readonly mean: number | null;
  /** Sample std across the contributing runs (group columns with two or more). */
  readonly std: number | null;
  /** Runs that contribute to this number: those of the column where it is defined. */
  readonly n: number;
  readonly runIds: readonly number[];
  /** A contributing run has not ended: the number may still change. */
  readonly provisional: boolean;
}

/**
 * One cell: a run's number, or a group's mean ± std over the runs where it is defined (n counts
 * those, per number: a run cancelled before a task ended counts nowhere). Provisional when one
 * of them has not ended, by the status its summary was computed at (else its own).
 */
export function compareCell(
  metric: CompareMetric,
  column: CompareColumn,
  summaries: ReadonlyMap<number, RunSummary>,
  runs: ReadonlyMap<number, RunRead>,
): CompareCell {
  const contributing = column.runIds.flatMap((id) => {
    const value = metric.pick(summaries.get(id), runs.get(id));
    return value == null || !Number.isFinite(value) ? [] : [{ id, value }];
  });
  const status = (id: number) =>
    (summaries.get(id)?.status ?? runs.get(id)?.status) as RunStatus | undefined;
  const provisional = contributing.some(({ id }) => {
    const s = status(id);
    return s !== undefined && isActiveStatus(s);
  });
  const runIds = contributing.map(({ id }) => id);
  if (!column.isGroup) {
    return { mean: contributing[0]?.value ?? null, std: null, n: runIds.length, runIds, provisional };
  }
  const { mean, std } = spreadOf(contributing.map(({ value }) => value));
  return { mean, std, n: runIds.length, runIds, provisional };
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
    ...runs.map((run) => plannedTasks(run) ?? 0),
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
