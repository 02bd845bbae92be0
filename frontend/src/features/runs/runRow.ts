// One runs-table row from a RunRead: the few things a researcher scans a list for.
import type { RunRead } from "../../api/client";
import { secondsBetween } from "../../components/format";

export interface RunRowView {
  id: number;
  project: string;
  name: string;
  status: RunRead["status"];
  benchmark: string;
  scenario: string | null;
  strategy: string;
  seed: number;
  createdAt: string;
  /** Seconds; live (up to `now`) while running, null while queued. */
  durationS: number | null;
  /** Fraction done while running, else null (a finished run needs no bar). */
  progress: number | null;
  acc: number | null;
  minAcc: number | null;
  wcAcc: number | null;
  meanGapDepth: number | null;
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

export function runRowView(run: RunRead, now: number): RunRowView {
  const benchmark = run.spec.benchmark as { name: string; scenario?: unknown };
  return {
    id: run.id,
    project: run.project,
    name: run.name ?? "",
    status: run.status,
    benchmark: benchmark.name,
    scenario: scenarioLabel(benchmark.scenario),
    strategy: run.spec.strategy.name,
    seed: run.spec.seed ?? 0,
    createdAt: run.created_at,
    durationS: durationOf(run, now),
    progress: run.status === "running" ? (run.progress.fraction ?? 0) : null,
    acc: run.headline?.acc ?? null,
    minAcc: run.headline?.min_acc ?? null,
    wcAcc: run.headline?.wc_acc ?? null,
    meanGapDepth: run.headline?.mean_gap_depth ?? null,
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
