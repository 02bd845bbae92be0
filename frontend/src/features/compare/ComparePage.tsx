// /compare?runs=1,2,3 or ?groups=a,b — runs side by side: for each task one chart with every
// strategy (or group) as mean ± std across its runs, and the summary numbers in one table.
import "../run/run.css";
import "./compare.css";

import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import type { RunRead, RunSummary } from "../../api/client";
import { taskSpansFromEvents, taskTitle } from "../../charts/boundaries";
import { formatRange, parseRange, pointsForWidth, type StepRange } from "../../charts/budget";
import { TimeSeriesChart } from "../../charts/TimeSeriesChart";
import { useElementWidth } from "../../charts/useElementWidth";
import { ZoomHint } from "../../charts/ZoomHint";
import { StatusBadge } from "../../components/StatusBadge";
import { accKey, visibleRange } from "../run/runSeries";
import {
  compareChart,
  compareColumns,
  comparedTasks,
  groupRuns,
  parseSelection,
  runDetail,
  runLabel,
  type Selection,
  sameSchedule,
  type RunGroup,
} from "./compareModel";
import { CompareSettingsTable } from "./CompareSettingsTable";
import { CompareSummaryTable } from "./CompareSummaryTable";
import { MAX_COMPARED_RUNS, useComparison, useEventsOf, useSelectedRuns } from "./queries";
import { RunPicker } from "./RunPicker";

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
  const xRange = useMemo(() => visibleRange(zoom, null), [zoom]);
  const runs = useMemo(() => allRuns?.slice(0, MAX_COMPARED_RUNS), [allRuns]);
  const runIds = useMemo(() => (runs ?? []).map((r) => r.id), [runs]);
  const groups = useMemo(
    () => groupRuns(runs ?? [], selection.kind === "groups" ? "group" : "strategy"),
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
  const answered = comparison.data?.summaries;
  useEffect(() => {
    if (answered) setSummariesSeen(answered);
  }, [answered]);

  const labels = useMemo(() => new Map((runs ?? []).map((r) => [r.id, runLabel(r)])), [runs]);
  const charts = useMemo(() => {
    const data = comparison.data;
    if (!data) return [];
    const byKey = new Map(data.series.map((s) => [s.key, s]));
    return tasks.map((j) => compareChart(byKey.get(accKey(j)), data.run_ids, groups, points, labels));
  }, [comparison.data, tasks, groups, points, labels]);
  const summaries = useMemo(
    () => new Map<number, RunSummary>((comparison.data?.summaries ?? []).map((s) => [s.run_id, s])),
    [comparison.data],
  );
  const runsById = useMemo(() => new Map<number, RunRead>((runs ?? []).map((r) => [r.id, r])), [runs]);
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
      <CompareRuns runs={runs} groups={groups} truncated={(allRuns?.length ?? 0) > runs.length} />
      {comparison.isError && (
        <p className="error">Could not compare: {comparison.error.message}</p>
      )}
      {comparison.data && (
        <section className="run-section" aria-labelledby="compare-summary-heading">
          <h2 id="compare-summary-heading">Summary</h2>
          <CompareSummaryTable columns={columns} summaries={summaries} runs={runsById} />
        </section>
      )}
      {runs.length > 1 && <CompareSettingsTable runs={runs} />}
      <section className="run-section" aria-labelledby="compare-accuracy-heading">
        <div className="section-head">
          <h2 id="compare-accuracy-heading">Accuracy on each task</h2>
          <ZoomHint zoom={zoom} onReset={resetZoom} />
          <GroupLegend groups={groups} />
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
    </>
  );
}

/** The compared runs, by group, each linking to its page. */
function CompareRuns({
  runs,
  groups,
  truncated,
}: {
  readonly runs: readonly RunRead[];
  readonly groups: readonly RunGroup[];
  readonly truncated: boolean;
}) {
  const byId = new Map(runs.map((r) => [r.id, r]));
  return (
    <section className="compare-runs" aria-label="Compared runs">
      {groups.map((group) => (
        <div key={group.key} className="compare-run-group">
          <span className="compare-swatch" style={{ background: `var(${group.colorVar})` }} />
          <strong>{group.label}</strong>
          {group.runIds.map((id) => {
            const run = byId.get(id)!;
            return (
              <span key={id} className="compare-run">
                <Link to={`/runs/${id}`} data-testid={`compare-run-link-${id}`}>
                  {runLabel(run)}
                </Link>{" "}
                <span className="muted">{runDetail(run)}</span>{" "}
                {run.status !== "succeeded" && <StatusBadge status={run.status} />}
              </span>
            );
          })}
        </div>
      ))}
      {truncated && (
        <p className="muted">Only the first {MAX_COMPARED_RUNS} runs are compared.</p>
      )}
    </section>
  );
}

function GroupLegend({ groups }: { readonly groups: readonly RunGroup[] }) {
  return (
    <ul className="chart-legend compare-legend">
      {groups.map((group) => (
        <li key={group.key}>
          <span className="chart-legend-swatch" style={{ background: `var(${group.colorVar})` }} />
          <span className="chart-legend-label">
            {group.label}
            {group.runIds.length > 1 && ` (mean ± std of ${group.runIds.length} runs)`}
          </span>
        </li>
      ))}
    </ul>
  );
}
