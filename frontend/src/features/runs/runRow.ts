// One runs-table row from a RunRead: the few things a researcher scans a list for.
import type { RunRead } from "../../api/client";
import { type Definition, headlineDefinitions } from "../../api/definitions";
import { configSeed, configSummary, type ConfigSummary } from "../../components/config";
import { secondsBetween } from "../../components/format";

export interface RunRowView {
  id: number;
  project: string;
  name: string;
  status: RunRead["status"];
  kind: RunRead["kind"];
  /** The spec's benchmark; null for a loop run (it has none). */
  benchmark: string | null;
  scenario: string | null;
  /** The spec's strategy; null for a loop run. */
  strategy: string | null;
  /** The spec's seed, or a loop run's top-level integer `config.seed`; else null. */
  seed: number | null;
  /** A loop run's first config entries ("lr=0.01 · memory=2000"); null for an engine run. */
  config: ConfigSummary | null;
  createdAt: string;
  /** Seconds; live (up to `now`) while running, null while queued. */
  durationS: number | null;
  /** Fraction done while running, else null (a finished run needs no bar). */
  progress: number | null;
  /** The step a running loop run is at when its loop gave no total (no fraction to draw). */
  step: number | null;
  /** The stored headline numbers by metric id (empty until the run has ended). */
  numbers: Readonly<Record<string, number | null>>;
  tags: readonly string[];
  group: string | null;
}

/** "class_incremental" -> "class-incremental": scenarios read as words in a table. */
function scenarioLabel(scenario: unknown): string | null {
  return typeof scenario === "string" ? scenario.replace(/_/g, "-") : null;
}

function durationOf(run: RunRead, now: number): number | null {
  if (run.status === "running") return secondsBetween(run.started_at, null, now);
  if (run.duration_s !== null) return run.duration_s;
  return run.finished_at ? secondsBetween(run.started_at, run.finished_at, now) : null;
}

/** What a run trains, from its spec; a loop run (no spec) shows its config instead. */
function trainedBy(run: RunRead) {
  if (run.spec === null) {
    const seed = configSeed(run.config);
    return {
      benchmark: null,
      scenario: null,
      strategy: null,
      seed,
      // The seed has its own column.
      config: configSummary(run.config, 3, seed !== null ? ["seed"] : []),
    };
  }
  const benchmark = run.spec.benchmark as { name: string; scenario?: unknown };
  return {
    benchmark: benchmark.name,
    scenario: scenarioLabel(benchmark.scenario),
    strategy: run.spec.strategy.name,
    seed: run.spec.seed ?? 0,
    config: null,
  };
}

function progressOf(run: RunRead): { progress: number | null; step: number | null } {
  if (run.status !== "running") return { progress: null, step: null };
  if (run.kind === "loop" && run.progress.total == null) {
    return { progress: null, step: run.progress.step };
  }
  return { progress: run.progress.fraction ?? 0, step: null };
}

export function runRowView(run: RunRead, now: number): RunRowView {
  return {
    id: run.id,
    project: run.project,
    name: run.name ?? "",
    status: run.status,
    kind: run.kind,
    ...trainedBy(run),
    createdAt: run.created_at,
    durationS: durationOf(run, now),
    ...progressOf(run),
    numbers: run.headline ?? {},
    tags: run.tags,
    group: run.group,
  };
}

/** Poll the list while something on it can still change; stop once everything has ended. */
export function listNeedsPolling(runs: readonly Pick<RunRead, "status">[] | undefined): boolean {
  return (runs ?? []).some((r) => r.status === "queued" || r.status === "running");
}

/** The compare page's URL for the selected runs, in id order. */
export function compareHref(selected: Iterable<number>): string {
  return `/compare?runs=${[...selected].sort((a, b) => a - b).join(",")}`;
}

// Until the registry (GET /api/v1/definitions) has loaded, these headline ids are the columns.
const FALLBACK_COLUMNS: readonly Definition[] = (["acc", "min_acc", "wc_acc", "gap"] as const).map(
  (id) => ({
    id,
    label: id,
    definition: "",
    formula: "",
    higher_is_better: id !== "gap",
    unit: "fraction",
    headline: true,
  }),
);

/**
 * The runs list's number columns: the registry's headline metrics, so that a metric added on
 * the server becomes a sortable column here with no change.
 */
export function numberColumns(definitions: readonly Definition[] | undefined): readonly Definition[] {
  const headline = headlineDefinitions(definitions);
  return headline.length > 0 ? headline : FALLBACK_COLUMNS;
}
