// /compare?runs=1,2,3 or ?groups=a,b — runs side by side: for each task one chart with every
// strategy (or group) as mean ± std across its runs, and the summary numbers in one table. While
// a run is queued or running the page follows all of them over one live stream.
import "../run/run.css";
import "./compare.css";

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import type { RunRead, RunSummary } from "../../api/client";
import { taskSpansFromEvents, taskTitle } from "../../charts/boundaries";
import { formatRange, parseRange, pointsForWidth, type StepRange } from "../../charts/budget";
import { TimeSeriesChart } from "../../charts/TimeSeriesChart";
import { useElementWidth } from "../../charts/useElementWidth";
import { ZoomHint } from "../../charts/ZoomHint";
import { FigureLinks } from "../../components/FigureLinks";
import { ProgressBar } from "../../components/ProgressBar";
import { isActiveStatus, StatusBadge } from "../../components/StatusBadge";
import { accKey, visibleRange } from "../run/runSeries";
import { progressFraction, progressText } from "./compareLive";
import {
  compareChart,
  compareColumns,
  compareMetrics,
  comparedTasks,
  groupRuns,
  parseSelection,
  plannedIterations,
  runColors,
  runDetail,
  runLabel,
  type Selection,
  sameSchedule,
  type RunGroup,
} from "./compareModel";
import { useDefinitions } from "../../api/definitions";
import { diagOverlays } from "./compareCost";
import { CompareCostTable } from "./CompareCostTable";
import { CompareSettingsTable } from "./CompareSettingsTable";
import { CompareSummaryTable } from "./CompareSummaryTable";
import {
  MAX_COMPARED_RUNS,
  useComparison,
  useEventsOf,
  useKeysOf,
  useSelectedRuns,
} from "./queries";
import { RunPicker } from "./RunPicker";
import { useCompareLive } from "./useCompareLive";

const ACCURACY_RANGE = [0, 100] as const;

/** What identifies a comparison in the URL (a zoom is not a new comparison). */
function selectionKey(params: URLSearchParams): string {
  return `${params.get("runs") ?? ""}|${params.get("groups") ?? params.get("group") ?? ""}`;
}

export function ComparePage() {
  const [params] = useSearchParams();
  const selection = useMemo(() => parseSelection(params), [params]);
  return (
    <div className="compare-page">
      <h1 className="compare-title">Compare</h1>
      {selection.kind === "none" ? (
        <RunPicker />
      ) : (
        <Comparison selection={selection} key={selectionKey(params)} />
      )}
    </div>
  );
}

type SomeSelection = Exclude<Selection, { kind: "none" }>;

function Comparison({ selection }: { readonly selection: SomeSelection }) {
  const { runs: allRuns, error } = useSelectedRuns(selection);
  const queryClient = useQueryClient();
  const fetched = useMemo(() => allRuns?.slice(0, MAX_COMPARED_RUNS), [allRuns]);
  const firstId = fetched?.[0]?.id;
  const live = useMemo(() => {
    const refresh = () => {
      void queryClient.invalidateQueries({ queryKey: ["compare"] });
      if (firstId !== undefined) {
        void queryClient.invalidateQueries({ queryKey: ["run", firstId, "events"] });
      }
    };
    return {
      refresh,
      ended: () => {
        refresh();
        // The runs once more: ended, with the numbers stored when they ended.
        void queryClient.invalidateQueries({ queryKey: ["run"] });
        void queryClient.invalidateQueries({ queryKey: ["runs", "group"] });
      },
    };
  }, [queryClient, firstId]);
  const { runs, mode } = useCompareLive(fetched, live);
  const [params, setParams] = useSearchParams();
  const zoomText = params.get("zoom");
  const zoom = useMemo(() => parseRange(zoomText), [zoomText]);
  const setZoom = useCallback(
    (range: StepRange | null) =>
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (range) next.set("zoom", formatRange(range));
          else next.delete("zoom");
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  const resetZoom = useCallback(() => setZoom(null), [setZoom]);
  const planned = useMemo(() => plannedIterations(runs ?? []), [runs]);
  const xRange = useMemo(() => visibleRange(zoom, planned), [zoom, planned]);
  const runIds = useMemo(() => (runs ?? []).map((r) => r.id), [runs]);
  // Compared by id, every run has its own colour (slots 0…n−1) and the groups' means the next.
  const colors = useMemo(
    () => (selection.kind === "runs" ? runColors(runs ?? []) : undefined),
    [runs, selection.kind],
  );
  const groups = useMemo(
    () =>
      selection.kind === "groups"
        ? groupRuns(runs ?? [], "group")
        : groupRuns(runs ?? [], "strategy", (runs ?? []).length),
    [runs, selection.kind],
  );
  const events = useEventsOf(runIds[0]);
  const spans = useMemo(() => taskSpansFromEvents(events.data?.events ?? []), [events.data]);
  // Loop runs plan no task count: the summaries (and the first run's task events) tell it, so a
  // comparison of loop runs asks for the summaries first, then for the curves.
  const [summariesSeen, setSummariesSeen] = useState<readonly RunSummary[]>([]);
  const nTasks = Math.max(comparedTasks(runs ?? [], summariesSeen), spans.length);
  const tasks = useMemo(() => Array.from({ length: nTasks }, (_, j) => j), [nTasks]);
  const keys = useMemo(() => tasks.map(accKey), [tasks]);

  const [chartsRef, width] = useElementWidth<HTMLDivElement>();
  const points = pointsForWidth(width);
  const comparison = useComparison(runIds, keys, points, zoom);
  // The plasticity overlays: every diag/ key any run logged, in a request of their own.
  const allKeys = useKeysOf(runIds).join(",");
  const overlays = useMemo(() => diagOverlays(allKeys ? allKeys.split(",") : []), [allKeys]);
  const diagKeys = useMemo(() => overlays.map((o) => o.key), [overlays]);
  const diagComparison = useComparison(diagKeys.length > 0 ? runIds : [], diagKeys, points, zoom);
  const answered = comparison.data?.summaries;
  useEffect(() => {
    if (answered) setSummariesSeen(answered);
  }, [answered]);

  const labels = useMemo(
    () =>
      new Map(
        (runs ?? []).map((r) => [r.id, selection.kind === "runs" ? runDetail(r) : runLabel(r)]),
      ),
    [runs, selection.kind],
  );
  const diagCharts = useMemo(() => {
    const data = diagComparison.data;
    if (!data) return [];
    const byKey = new Map(data.series.map((s) => [s.key, s]));
    return overlays.map((o) => ({
      overlay: o,
      chart: compareChart(byKey.get(o.key), data.run_ids, groups, points, labels, colors, o.scale),
    }));
  }, [diagComparison.data, overlays, groups, points, labels, colors]);
  const charts = useMemo(() => {
    const data = comparison.data;
    if (!data) return [];
    const byKey = new Map(data.series.map((s) => [s.key, s]));
    return tasks.map((j) =>
      compareChart(byKey.get(accKey(j)), data.run_ids, groups, points, labels, colors),
    );
  }, [comparison.data, tasks, groups, points, labels, colors]);
  // Accuracy points drawn in all charts: tests and people watching see the curves grow.
  const pointsDrawn = useMemo(
    () =>
      (comparison.data?.series ?? []).reduce(
        (sum, s) => sum + s.values.reduce((n, row) => n + row.filter((v) => v !== null).length, 0),
        0,
      ),
    [comparison.data],
  );
  const summaries = useMemo(
    () => new Map<number, RunSummary>((comparison.data?.summaries ?? []).map((s) => [s.run_id, s])),
    [comparison.data],
  );
  const runsById = useMemo(() => new Map<number, RunRead>((runs ?? []).map((r) => [r.id, r])), [runs]);
  const definitions = useDefinitions();
  const metrics = useMemo(() => compareMetrics(definitions.data ?? []), [definitions.data]);
  const columns = useMemo(
    () => compareColumns(runs ?? [], groups, selection.kind),
    [runs, groups, selection.kind],
  );

  if (error) return <p className="error">Could not load the runs: {error.message}</p>;
  if (!runs) return <p className="empty">Loading runs…</p>;
  if (runs.length === 0) return <p className="empty">No runs in this selection.</p>;

  const schedule = sameSchedule(runs);
  // Ready once the curves asked for are all the tasks the latest answer knows of.
  const tasksKnown = Math.max(comparedTasks(runs, answered ?? []), spans.length);
  const ready =
    comparison.data !== undefined &&
    !comparison.isFetching &&
    events.data !== undefined &&
    tasksKnown === nTasks;
  return (
    <>
      <CompareRuns
        runs={runs}
        groups={groups}
        colors={colors}
        live={mode}
        truncated={(allRuns?.length ?? 0) > runs.length}
      />
      {comparison.isError && (
        <p className="error">Could not compare: {comparison.error.message}</p>
      )}
      {comparison.data && (
        <section className="run-section" aria-labelledby="compare-summary-heading">
          <h2 id="compare-summary-heading">Summary</h2>
          {definitions.isError && (
            <p className="error">Could not load the metric definitions: {definitions.error.message}</p>
          )}
          <CompareSummaryTable
            metrics={metrics}
            columns={columns}
            summaries={summaries}
            runs={runsById}
          />
        </section>
      )}
      {comparison.data && <CompareCostTable costs={comparison.data.costs} columns={columns} />}
      {runs.length > 1 && <CompareSettingsTable runs={runs} colors={colors} />}
      <section className="run-section" aria-labelledby="compare-accuracy-heading">
        <div className="section-head">
          <h2 id="compare-accuracy-heading">Accuracy on each task</h2>
          <ZoomHint zoom={zoom} onReset={resetZoom} />
          <GroupLegend groups={groups} runs={runs} colors={colors} />
          <span className="run-figures" role="group" aria-label="Average accuracy figure">
            <FigureLinks
              testIdPrefix="compare-export-"
              href={(format) =>
                `/api/v1/compare/figures/accuracy.${format}?runs=${runIds.join(",")}`
              }
              title={(format) =>
                `Average accuracy over the seen tasks, one line per run, as ${format.toUpperCase()} for a paper`
              }
            />
          </span>
        </div>
        {schedule === false && (
          <p className="muted chart-note">
            The runs train tasks of different lengths; the boundaries drawn are run #{runIds[0]}'s.
          </p>
        )}
        {schedule === null && (
          <p className="muted chart-note">
            Own-loop runs keep their schedule in their code; the boundaries drawn are run #
            {runIds[0]}'s.
          </p>
        )}
        <div
          ref={chartsRef}
          className="accuracy-grid"
          data-testid="compare-charts"
          data-ready={ready ? "true" : "false"}
          data-points={pointsDrawn}
        >
          {charts.map((chart, j) => (
            <TimeSeriesChart
              key={j}
              testId={`compare-chart-${j}`}
              title={taskTitle(j, spans.find((s) => s.task === j))}
              data={chart.data}
              series={chart.series}
              bands={chart.bands}
              yLabel="accuracy (%)"
              yRange={ACCURACY_RANGE}
              yUnit="%"
              spans={spans}
              spanLabels
              syncKey="compare"
              xRange={xRange}
              onZoom={setZoom}
              onResetZoom={resetZoom}
              legend={false}
              height={240}
            />
          ))}
        </div>
        {comparison.isPending && <p className="empty">Loading the comparison…</p>}
      </section>
      {overlays.length > 0 && (
        <section className="run-section" aria-labelledby="compare-plasticity-heading">
          <h2 id="compare-plasticity-heading">Plasticity</h2>
          {diagComparison.isError && (
            <p className="error">Could not load the diagnostics: {diagComparison.error.message}</p>
          )}
          <div
            className="plasticity-charts"
            data-testid="compare-plasticity"
            data-ready={diagComparison.data && !diagComparison.isFetching ? "true" : "false"}
          >
            {diagCharts.map(({ overlay, chart }) => (
              <TimeSeriesChart
                key={overlay.key}
                testId={`compare-diag-${overlay.key.replace(/\//g, "-")}`}
                title={overlay.title}
                data={chart.data}
                series={chart.series}
                bands={chart.bands}
                yLabel={overlay.yLabel}
                yUnit={overlay.yUnit}
                spans={spans}
                syncKey="compare"
                xRange={xRange}
                onZoom={setZoom}
                onResetZoom={resetZoom}
                legend={false}
                height={180}
              />
            ))}
          </div>
        </section>
      )}
    </>
  );
}

/** The compared runs, by group, each linking to its page, with its status and progress. */
function CompareRuns({
  runs,
  groups,
  colors,
  live,
  truncated,
}: {
  readonly runs: readonly RunRead[];
  readonly groups: readonly RunGroup[];
  readonly colors: ReadonlyMap<number, string> | undefined;
  readonly live: "stream" | "polling" | "off";
  readonly truncated: boolean;
}) {
  const byId = new Map(runs.map((r) => [r.id, r]));
  return (
    <section className="compare-runs" aria-label="Compared runs" data-live={live}>
      {groups.map((group) => (
        <div key={group.key} className="compare-run-group">
          {!colors && (
            <span className="compare-swatch" style={{ background: `var(${group.colorVar})` }} />
          )}
          <strong>{group.label}</strong>
          {group.runIds.map((id) => {
            const run = byId.get(id)!;
            const progress = progressText(run);
            return (
              <span key={id} className="compare-run" data-testid={`compare-run-${id}`}>
                {colors && (
                  <span
                    className="compare-swatch"
                    data-testid={`compare-run-swatch-${id}`}
                    data-color={colors.get(id)}
                    style={{ background: `var(${colors.get(id)})` }}
                  />
                )}
                <Link to={`/runs/${id}`} data-testid={`compare-run-link-${id}`}>
                  {runLabel(run)}
                </Link>{" "}
                <span className="muted">{runDetail(run)}</span>{" "}
                <span data-testid={`compare-run-status-${id}`} data-status={run.status}>
                  <StatusBadge status={run.status} />
                </span>
                {progress && (
                  <span
                    className="compare-run-progress"
                    data-testid={`compare-run-progress-${id}`}
                    data-step={run.progress.step}
                  >
                    {(isActiveStatus(run.status) || run.progress.total != null) && (
                      <ProgressBar
                        fraction={progressFraction(run)}
                        label={`run ${id}: ${progress}`}
                      />
                    )}
                    <span className="muted">{progress}</span>
                  </span>
                )}
              </span>
            );
          })}
        </div>
      ))}
      {live !== "off" && (
        <p className="muted compare-live-note" data-testid="compare-live">
          {live === "stream" ? "Live: following the runs as they train." : "Live: checking every 2 s."}
        </p>
      )}
      {truncated && (
        <p className="muted">Only the first {MAX_COMPARED_RUNS} runs are compared.</p>
      )}
    </section>
  );
}

/** What each line is: compared by id, every run in its colour and each group's mean; compared by
 * group, each group. */
function GroupLegend({
  groups,
  runs,
  colors,
}: {
  readonly groups: readonly RunGroup[];
  readonly runs: readonly RunRead[];
  readonly colors: ReadonlyMap<number, string> | undefined;
}) {
  return (
    <ul className="chart-legend compare-legend" data-testid="compare-legend">
      {colors &&
        runs.map((run) => (
          <li key={`run:${run.id}`} data-run={run.id}>
            <span
              className="chart-legend-swatch"
              data-color={colors.get(run.id)}
              style={{ background: `var(${colors.get(run.id)})` }}
            />
            <span className="chart-legend-label">{runDetail(run)}</span>
          </li>
        ))}
      {groups
        .filter((group) => !colors || group.runIds.length > 1)
        .map((group) => (
          <li key={group.key} data-group={group.key}>
            <span
              className="chart-legend-swatch"
              data-color={group.colorVar}
              style={{ background: `var(${group.colorVar})` }}
            />
            <span className="chart-legend-label">
              {group.label}
              {group.runIds.length > 1 && ` (mean ± std of ${group.runIds.length} runs)`}
            </span>
          </li>
        ))}
    </ul>
  );
}
