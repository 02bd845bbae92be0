// /runs/:runId — one run: header, summary cards, accuracy on every task with its stability gaps
// marked, losses and learning rate, the gap table and the accuracy matrix. Live while running.
import "./run.css";

import { useCallback, useMemo, useRef } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { ApiError, type RunRead } from "../../api/client";

import { boundarySteps, taskSpansFromEvents } from "../../charts/boundaries";
import { formatRange, parseRange, pointsForWidth, type StepRange } from "../../charts/budget";
import { composeCharts, downloadCanvas, exportFilename } from "../../charts/exportPng";
import { troughMarkers } from "../../charts/troughs";
import { useElementWidth } from "../../charts/useElementWidth";
import { ZoomHint } from "../../charts/ZoomHint";
import { FigureLinks } from "../../components/FigureLinks";
import { isActiveStatus } from "../../components/StatusBadge";
import { AccuracyCharts, type ChartLayout } from "./AccuracyCharts";
import { AccuracyHeatmap } from "./AccuracyHeatmap";
import { CostCard } from "./CostCard";
import { AlignedChart } from "../../charts/AlignedChart";
import { alignedChart } from "../../charts/aligned";
import { GapsTable } from "./GapsTable";
import { lastStoredStep } from "./liveSeries";
import { PlasticityPanel } from "./PlasticityPanel";
import { runProgress } from "./progress";
import {
  useRun,
  useRunAligned,
  useRunCost,
  useRunEvents,
  useRunGaps,
  useRunSeries,
  useRunSummary,
} from "./queries";
import { RunConfig } from "./RunConfig";
import { describeRun, RunHeader } from "./RunHeader";
import {
  accuracyTables,
  chartTable,
  hasPoints,
  lossTable,
  plannedTasks,
  runSeriesKeys,
  TRAIN_LR,
  visibleRange,
} from "./runSeries";
import { SummaryCards } from "./SummaryCards";
import { TrainingCharts } from "./TrainingCharts";
import { useRefreshOnTaskEnd, useRunLive } from "./useRunLive";

export function RunPage() {
  const { runId } = useParams();
  const id = Number(runId);
  if (!Number.isInteger(id) || id < 1) {
    return <p className="empty">No run “{runId}”.</p>;
  }
  return <RunView key={id} id={id} />;
}

function RunView({ id }: { readonly id: number }) {
  const runQuery = useRun(id);
  const run = runQuery.data;
  // A run cancelled (or failed) while still queued never had a worker: nothing to chart.
  const started = run !== undefined && run.status !== "queued" && hasStarted(run);
  const active = run !== undefined && isActiveStatus(run.status);
  const live = useRunLive(id, run?.status);

  const [params, setParams] = useSearchParams();
  const layout: ChartLayout = params.get("layout") === "overlay" ? "overlay" : "per-task";
  const zoomText = params.get("zoom");
  const zoom = useMemo(() => parseRange(zoomText), [zoomText]);
  const updateParams = useCallback(
    (change: (next: URLSearchParams) => void) =>
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          change(next);
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  const setLayout = (value: ChartLayout) =>
    updateParams((next) => (value === "overlay" ? next.set("layout", value) : next.delete("layout")));
  const onZoom = useCallback(
    (range: StepRange) => updateParams((next) => next.set("zoom", formatRange(range))),
    [updateParams],
  );
  const onResetZoom = useCallback(() => updateParams((next) => next.delete("zoom")), [updateParams]);

  const events = useRunEvents(id, started);
  const summary = useRunSummary(id, started);
  const gaps = useRunGaps(id, started);
  const aligned = useRunAligned(id, started);
  const cost = useRunCost(id, started);
  const alignedView = useMemo(
    () => (aligned.data ? alignedChart([{ label: `run ${id}`, band: aligned.data }]) : null),
    [aligned.data, id],
  );
  useRefreshOnTaskEnd(id, events.data, active);

  const [chartsRef, chartsWidth] = useElementWidth<HTMLDivElement>();
  const points = pointsForWidth(chartsWidth);
  const spans = useMemo(() => taskSpansFromEvents(events.data?.events ?? []), [events.data]);
  const nTasks = plannedTasks(run) ?? summary.data?.tasks_total ?? spans.length;
  const tasks = useMemo(() => Array.from({ length: nTasks }, (_, j) => j), [nTasks]);
  const keys = useMemo(() => runSeriesKeys(nTasks), [nTasks]);
  const series = useRunSeries(id, keys, zoom, points, started && chartsWidth > 0);

  // How the series were cut (for telling M4 bucket spacing from real holes in the curves).
  const shape = useMemo(() => ({ points, range: zoom }), [points, zoom]);
  const tables = useMemo(() => {
    const read = series.data;
    return {
      accuracy: accuracyTables(read, tasks, shape),
      loss: lossTable(read, tasks, shape),
      lr: chartTable(read, [TRAIN_LR], shape),
    };
  }, [series.data, tasks, shape]);
  const troughs = useMemo(() => troughMarkers(gaps.data), [gaps.data]);
  const lastStep = useMemo(() => lastStoredStep(series.data), [series.data]);
  const plannedTotal = run ? runProgress(run, lastStep).total : null;
  const xRange = useMemo(
    () => visibleRange(zoom, plannedTotal ?? spans.at(-1)?.end ?? null),
    [zoom, plannedTotal, spans],
  );
  // Panels with nothing to show are left out (a run that failed before its first evaluation
  // shows its error, not empty 0–100 frames). Before the first answer nothing is known yet.
  const shown = useMemo(() => {
    const known = series.data !== undefined;
    const tasksWithPoints = tasks.filter((_, i) => !known || hasPoints(tables.accuracy.perTask[i]));
    return {
      tasks: tasksWithPoints,
      perTask: tasksWithPoints.map((j) => tables.accuracy.perTask[tasks.indexOf(j)]!),
      accuracy: !known || hasPoints(tables.accuracy.overlay),
      loss: !known || hasPoints(tables.loss),
      lr: !known || hasPoints(tables.lr),
    };
  }, [series.data, tasks, tables]);

  // Every chart shows the latest answer of each query it draws from (the e2e tests wait on it).
  const ready =
    [series, events, gaps, summary].every((q) => q.data !== undefined && !q.isFetching) &&
    !series.isPlaceholderData;

  const pageRef = useRef<HTMLDivElement>(null);
  const exportPng = () => {
    if (!run || !pageRef.current) return;
    const what = describeRun(run).map(({ label, value }) => `${label} ${value}`);
    const range = zoom
      ? [`iterations ${zoom.start.toLocaleString("en-US")}–${(zoom.end - 1).toLocaleString("en-US")}`]
      : [];
    const canvas = composeCharts(pageRef.current, {
      title: `${run.name ?? `Run ${run.id}`} #${run.id}`,
      subtitle: [...what, ...range].join(" · "),
    });
    const suffix = zoom ? `-${formatRange(zoom)}` : "";
    if (canvas) downloadCanvas(canvas, exportFilename(id, run.name, suffix));
  };

  if (runQuery.isPending) return <p className="empty">Loading run {id}…</p>;
  if (runQuery.error instanceof ApiError && runQuery.error.status === 404) {
    return (
      <p className="empty" data-testid="run-not-found">
        Run {id} not found. <Link to="/runs">All runs</Link>
      </p>
    );
  }
  if (runQuery.isError || !run) {
    return <p className="error">Could not load run {id}: {runQuery.error?.message}</p>;
  }

  const syncKey = `run-${id}`;
  const downsampled = series.data?.downsampled ?? false;
  const terminal = !active;
  const noPoints = series.data !== undefined && !shown.accuracy && !shown.loss && !shown.lr;
  const showGaps = !(terminal && gaps.data && gaps.data.boundaries.length === 0);
  const showMatrix = !(terminal && summary.data && summary.data.accuracy_matrix.rows.length === 0);
  return (
    <div className="run-page" ref={pageRef}>
      <RunHeader
        run={run}
        live={live}
        lastStep={lastStep}
        onExportPng={started && !noPoints ? exportPng : null}
      />
      {/* A loop run's settings are its config (an engine run's spec is in the header). */}
      {run.spec === null && <RunConfig config={run.config} />}

      {!started ? (
        <section className="run-waiting" data-testid="run-waiting">
          {run.status === "queued" ? (
            <>
              <p className="run-waiting-text">Waiting for a worker…</p>
              <p className="muted">
                The run is queued; it starts when a worker picks it up. Its spec:
              </p>
            </>
          ) : (
            <p className="muted">
              This run {run.status === "cancelled" ? "was cancelled" : "ended"} before a worker
              started it. Its spec:
            </p>
          )}
          {run.spec !== null && (
            <pre className="run-spec">{JSON.stringify(run.spec, null, 2)}</pre>
          )}
        </section>
      ) : (
        // Measured for the points budget: always on screen, whatever panels it holds.
        <div className="run-body" ref={chartsRef}>
          {/* The cards once a task has ended: before, every number would be empty. */}
          {summary.data && summary.data.tasks_completed > 0 && (
            <SummaryCards summary={summary.data} />
          )}

          {cost.data && <CostCard cost={cost.data} />}

          {terminal && noPoints && (
            <p className="muted run-no-points" data-testid="run-no-points">
              {`The run stored no points before it ${run.status === "succeeded" ? "ended" : run.status}: there is nothing to chart.`}
            </p>
          )}

          {!(terminal && noPoints) && (
            <section className="run-section" aria-labelledby="accuracy-heading">
              <div className="section-head">
                <h2 id="accuracy-heading">Accuracy on each task</h2>
                <div className="chart-toolbar">
                  <ZoomHint zoom={zoom} onReset={onResetZoom} />
                  <label className="layout-select">
                    Layout{" "}
                    <select
                      data-testid="chart-layout"
                      value={layout}
                      onChange={(e) => setLayout(e.target.value as ChartLayout)}
                    >
                      <option value="per-task">one chart per task</option>
                      <option value="overlay">all tasks overlaid</option>
                    </select>
                  </label>
                </div>
              </div>
              <div
                className="charts-measure"
                data-testid="run-charts"
                data-ready={ready ? "true" : "false"}
              >
                {series.isError && (
                  <p className="error">Could not load the series: {series.error.message}</p>
                )}
                {nTasks === 0 ? (
                  <p className="empty">No task has started yet.</p>
                ) : series.data === undefined ? (
                  !series.isError && <p className="empty">Loading the series…</p>
                ) : !shown.accuracy ? (
                  <p className="empty">No evaluation yet: the curves appear with the first one.</p>
                ) : (
                  <AccuracyCharts
                    layout={layout}
                    tasks={shown.tasks}
                    spans={spans}
                    perTask={shown.perTask}
                    overlay={tables.accuracy.overlay}
                    troughs={troughs}
                    xRange={xRange}
                    syncKey={syncKey}
                    onZoom={onZoom}
                    onResetZoom={onResetZoom}
                  />
                )}
              </div>
              <p className="chart-note muted">
                {plural(boundarySteps(spans).length, "task boundary", "task boundaries")} (dashed)
                · dots mark each stability-gap trough with its depth and recovery time
                {downsampled &&
                  ` · at most ${points.toLocaleString("en-US")} points per series (M4: every dip` +
                    " kept); zoom for full resolution"}
                {series.isFetching && series.isPlaceholderData && " · loading…"}
              </p>
            </section>
          )}

          {series.data !== undefined && (shown.loss || shown.lr) && (
            <section className="run-section" aria-labelledby="training-heading">
              <h2 id="training-heading">Training</h2>
              <TrainingCharts
                tasks={tasks}
                spans={spans}
                loss={shown.loss ? tables.loss : null}
                lr={shown.lr ? tables.lr : null}
                xRange={xRange}
                syncKey={syncKey}
                onZoom={onZoom}
                onResetZoom={onResetZoom}
              />
            </section>
          )}

          {chartsWidth > 0 && (
            <PlasticityPanel
              id={id}
              active={active}
              spans={spans}
              zoom={zoom}
              points={points}
              xRange={xRange}
              syncKey={syncKey}
              onZoom={onZoom}
              onResetZoom={onResetZoom}
            />
          )}

          {(showGaps || showMatrix) && (
            <div className="run-analysis">
              {showGaps && (
                <section className="run-section" aria-labelledby="gaps-heading">
                  <h2 id="gaps-heading">Stability gap per boundary</h2>
                  {gaps.data ? (
                    <GapsTable gaps={gaps.data} />
                  ) : (
                    <p className="empty">{gaps.isError ? gaps.error.message : "Loading…"}</p>
                  )}
                </section>
              )}
              {alignedView && alignedView.series.length > 0 && aligned.data && (
                <section className="run-section" aria-labelledby="aligned-heading">
                  <div className="section-head">
                    <h2 id="aligned-heading">Aligned at the boundaries</h2>
                    <span className="run-figures" role="group" aria-label="Aligned figure">
                      <FigureLinks
                        testIdPrefix="aligned-export-"
                        href={(format) => `/api/v1/runs/${id}/figures/aligned.${format}`}
                      />
                    </span>
                  </div>
                  <p className="muted small">
                    Accuracy change of the earlier tasks since each task boundary (points), mean
                    over the {aligned.data.rows} eligible (boundary, task) rows with a 95% band;
                    window {aligned.data.gap_window.toLocaleString("en-US")} it.
                  </p>
                  <AlignedChart chart={alignedView} testId="run-aligned-chart" />
                </section>
              )}
              {showMatrix && (
                <section className="run-section" aria-labelledby="matrix-heading">
                  <h2 id="matrix-heading">Accuracy matrix</h2>
                  {summary.data ? (
                    <AccuracyHeatmap matrix={summary.data.accuracy_matrix} />
                  ) : (
                    <p className="empty">
                      {summary.isError ? summary.error.message : "Loading…"}
                    </p>
                  )}
                </section>
              )}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function hasStarted(run: RunRead): boolean {
  return run.started_at !== null || run.progress.step > 0;
}
