// A run's progress as the page knows it best. The run's own progress comes from heartbeats, which
// may lag the points already stored (or never come, for a run that failed early), and its total
// from the worker once it has planned the run: the spec and the stored points fill the gaps, so
// the header never says "0 / ? it" beside a chart that already shows 90% accuracy.
import type { RunRead } from "../../api/client";
import { plannedTasks } from "./runSeries";

export interface Progress {
  readonly step: number;
  readonly total: number | null;
  readonly fraction: number | null;
}

/** n_tasks × iterations_per_task of an engine run's spec, or null (epochs, or a loop run). */
export function plannedIterations(run: RunRead): number | null {
  const perTask = run.spec?.training?.iterations_per_task;
  const tasks = plannedTasks(run);
  return tasks !== null && typeof perTask === "number" && perTask > 0 ? tasks * perTask : null;
}

/**
 * The step: the heartbeat's, or the last stored step if further (never 0 once points exist).
 * The total: the run's total_steps, else what its spec plans, else, for a run that succeeded,
 * the step it got to. A loop that does not say its total, running or stopped early, has none.
 */
export function runProgress(run: RunRead, lastStoredStep: number | null): Progress {
  const step = Math.max(run.progress.step, lastStoredStep ?? 0);
  const total =
    run.progress.total ??
    plannedIterations(run) ??
    (run.status === "succeeded" && step > 0 ? step : null);
  const fraction = total !== null && total > 0 ? Math.min(1, step / total) : null;
  return { step, total, fraction };
}
