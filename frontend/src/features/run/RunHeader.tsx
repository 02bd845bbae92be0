// The run's name, status, what it trains, its progress while running, and its actions.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";

import { api, unwrap, type RunRead } from "../../api/client";
import { canEdit } from "../../auth/roles";
import { useMe } from "../../auth/session";
import { configSeed } from "../../components/config";
import { FigureLinks } from "../../components/FigureLinks";
import { formatCount, formatDuration } from "../../components/format";
import { ProgressBar } from "../../components/ProgressBar";
import { isActiveStatus, StatusBadge } from "../../components/StatusBadge";
import { runProgress, type Progress } from "./progress";
import { runKeys } from "./queries";
import { plannedTasks } from "./runSeries";
import { RunErrorAlert } from "./RunErrorAlert";
import { refreshRunPage, type LiveMode } from "./useRunLive";

interface Props {
  readonly run: RunRead;
  readonly live: LiveMode;
  /** Saves the charts on screen as a PNG; null while there is nothing to draw. */
  readonly onExportPng: (() => void) | null;
  /** The last step of the points the page holds (progress is never behind it). */
  readonly lastStep?: number | null;
}

/**
 * What the run trains, short: the spec's names ("split_digits (class-incremental, 5 tasks)" and
 * friends) for an engine run; "own training loop" and the host it runs on for a loop run, whose
 * settings are its config (the page tables them).
 */
export function describeRun(run: RunRead): { label: string; value: string }[] {
  const spec = run.spec;
  if (spec === null) {
    const seed = configSeed(run.config);
    return [
      { label: "trained by", value: "own training loop" },
      ...(run.worker ? [{ label: "host", value: run.worker }] : []),
      ...(seed !== null ? [{ label: "seed", value: String(seed) }] : []),
    ];
  }
  const benchmark = spec.benchmark as { name: string; scenario?: string; dataset?: number };
  const tasks = plannedTasks(run);
  const details = [
    // A custom benchmark's uploaded dataset, by id.
    benchmark.dataset !== undefined && `dataset ${benchmark.dataset}`,
    benchmark.scenario?.replace(/_/g, "-"),
    tasks && `${tasks} tasks`,
  ]
    .filter(Boolean)
    .join(", ");
  const training = spec.training;
  const schedule = training?.iterations_per_task
    ? `${training.iterations_per_task.toLocaleString("en-US")} it/task`
    : training?.epochs_per_task
      ? `${training.epochs_per_task} epochs/task`
      : null;
  return [
    { label: "benchmark", value: details ? `${benchmark.name} (${details})` : benchmark.name },
    { label: "strategy", value: spec.strategy.name },
    { label: "model", value: spec.model.name },
    { label: "seed", value: String(spec.seed ?? 0) },
    ...(schedule ? [{ label: "training", value: schedule }] : []),
    ...(spec.evaluation ? [{ label: "eval every", value: `${spec.evaluation.every ?? 1} it` }] : []),
  ];
}

/**
 * "1,200 / 1,500 it (80.0%) · 412.3 it/s" while running; the totals and the time taken after.
 * Without a total (a loop that does not know it) just the step: "step 1,200 · 412.3 it/s".
 */
export function progressText(run: RunRead, progress: Progress = runProgress(run, null)): string {
  const { step, total, fraction } = progress;
  const parts = [
    total == null
      ? `step ${formatCount(step)}`
      : `${formatCount(step)} / ${formatCount(total)} it`,
  ];
  if (fraction != null) parts[0] += ` (${(fraction * 100).toFixed(1)}%)`;
  if (isActiveStatus(run.status)) {
    if (run.iterations_per_s != null) parts.push(`${run.iterations_per_s.toFixed(1)} it/s`);
  } else if (run.duration_s != null) {
    parts.push(`took ${formatDuration(run.duration_s)}`);
  }
  return parts.join(" · ");
}

/**
 * Whether the run can be queued again from its page: an engine run that failed or was cancelled
 * (a worker resumes it from its last checkpoint). A loop run is resumed by its own code instead.
 */
export function isRetryable(run: RunRead): boolean {
  return run.kind === "engine" && (run.status === "failed" || run.status === "cancelled");
}

export function RunHeader({ run, live, onExportPng, lastStep = null }: Props) {
  const client = useQueryClient();
  // Viewers see the run but may not stop or retry it (the server would answer 403).
  const mayEdit = canEdit(useMe(), run.project);
  const onUpdated = (updated: RunRead) => {
    client.setQueryData(runKeys.run(run.id), updated);
    // The live hook lets go once the run is no longer active and drops the refresh it had
    // pending (and follows a retried run again), so fetch what the charts, cards and events
    // show once more, now.
    refreshRunPage(client, run.id);
  };
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: run.id } } }),
      ),
    onSuccess: onUpdated,
  });
  const retry = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: run.id } } }),
      ),
    onSuccess: onUpdated,
  });
  const active = isActiveStatus(run.status);
  const progress = runProgress(run, lastStep);
  const { step, total, fraction } = progress;
  return (
    <header className="run-header">
      <div className="run-title-row">
        <h1 className="run-title">
          {run.name ?? `Run ${run.id}`} <span className="run-id">#{run.id}</span>
        </h1>
        <span data-testid="run-status" data-status={run.status}>
          <StatusBadge status={run.status} />
        </span>
        {live !== "off" && (
          <span className="run-live" title={live === "stream" ? "live stream" : "polling every 2 s"}>
            ● live
          </span>
        )}
        <div className="run-actions">
          {active && mayEdit && (
            <button
              type="button"
              data-testid="cancel-run"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate()}
            >
              {cancel.isPending ? "Cancelling…" : "Cancel run"}
            </button>
          )}
          {isRetryable(run) && mayEdit && (
            <button
              type="button"
              data-testid="retry-run"
              title="Queue it again: a worker resumes it from its last checkpoint"
              disabled={retry.isPending}
              onClick={() => retry.mutate()}
            >
              {retry.isPending ? "Retrying…" : "Retry"}
            </button>
          )}
          <a
            className="button-link"
            data-testid="export-csv"
            href={`/api/v1/runs/${run.id}/export?format=csv`}
            download
          >
            Export CSV
          </a>
          <span className="run-figures" role="group" aria-label="Accuracy figure">
            <button
              type="button"
              data-testid="export-png"
              disabled={!onExportPng}
              title="The charts on screen, with the run's name and the task labels"
              onClick={() => onExportPng?.()}
            >
              Export PNG
            </button>
            {onExportPng && (
              <FigureLinks
                testIdPrefix="export-"
                href={(format) => `/api/v1/runs/${run.id}/figures/accuracy.${format}`}
                title={(format) =>
                  `The accuracy figure as ${format.toUpperCase()}, drawn by the server for a paper`
                }
              />
            )}
          </span>
        </div>
      </div>
      <dl className="run-meta">
        <div>
          <dt>project</dt>
          <dd data-testid="run-project">{run.project}</dd>
        </div>
        {describeRun(run).map(({ label, value }) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
        {run.group && (
          <div>
            <dt>group</dt>
            <dd>
              <Link to={`/compare?groups=${encodeURIComponent(run.group)}`}>{run.group}</Link>
            </dd>
          </div>
        )}
        {run.tags.length > 0 && (
          <div>
            <dt>tags</dt>
            <dd>{run.tags.join(", ")}</dd>
          </div>
        )}
      </dl>
      {(run.status === "running" || run.started_at !== null) && (
        <div className="run-progress" data-testid="progress-bar" data-status={run.status}>
          {/* A loop without a total has no fraction to draw: the text says its step. */}
          {/* Without a total there is no fraction to draw: the text says the step. */}
          {total != null && (
            <ProgressBar
              fraction={fraction ?? 0}
              label={`${formatCount(step)} of ${formatCount(total)} iterations`}
            />
          )}
          <span className="run-progress-text" data-testid="progress-text">
            {progressText(run, progress)}
          </span>
        </div>
      )}
      {cancel.error && <p className="error">Could not cancel: {cancel.error.message}</p>}
      {retry.error && (
        <p className="error" data-testid="retry-error">
          Could not retry: {retry.error.message}
        </p>
      )}
      <RunErrorAlert run={run} />
    </header>
  );
}
