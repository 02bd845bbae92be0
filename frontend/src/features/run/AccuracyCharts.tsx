// Accuracy on each task against iteration: one chart per task (two per row), or every task
// overlaid in one wide chart. Boundaries, task spans and gap troughs sit on top of the plots.
import { useMemo } from "react";
import type uPlot from "uplot";

import { taskTitle, type TaskSpan } from "../../charts/boundaries";
import type { StepRange } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import type { ChartTrough } from "../../charts/overlay";
import { TimeSeriesChart } from "../../charts/TimeSeriesChart";
import type { TroughMarker } from "../../charts/troughs";

export type ChartLayout = "per-task" | "overlay";

interface Props {
  readonly layout: ChartLayout;
  readonly tasks: readonly number[];
  readonly spans: readonly TaskSpan[];
  readonly perTask: readonly uPlot.AlignedData[];
  readonly overlay: uPlot.AlignedData;
  readonly troughs: readonly TroughMarker[];
  readonly xRange: readonly [number, number] | null;
  readonly syncKey: string;
  readonly onZoom: (range: StepRange) => void;
  readonly onResetZoom: () => void;
}

const ACCURACY_RANGE = [0, 100] as const;

export function AccuracyCharts(props: Props) {
  const { tasks, spans, troughs } = props;
  // Per-task charts mark troughs in the gap colour; the overlay in each task's own colour.
  const troughsByTask = useMemo(() => {
    const byTask = new Map<number, ChartTrough[]>();
    for (const marker of troughs) {
      const list = byTask.get(marker.task) ?? [];
      list.push({ marker, colorVar: "--chart-trough" });
      byTask.set(marker.task, list);
    }
    return byTask;
  }, [troughs]);
  const overlayTroughs = useMemo(
    () => troughs.map((marker) => ({ marker, colorVar: seriesVar(marker.task) })),
    [troughs],
  );
  const perTaskSeries = useMemo(
    () => tasks.map((j) => [{ label: `task ${j}`, colorVar: seriesVar(j), width: 1.5 }]),
    [tasks],
  );
  const overlaySeries = useMemo(
    () => tasks.map((j) => ({ label: `task ${j}`, colorVar: seriesVar(j), width: 1.5 })),
    [tasks],
  );
  const common = {
    yLabel: "accuracy (%)",
    yRange: ACCURACY_RANGE,
    yUnit: "%",
    xRange: props.xRange,
    spans,
    syncKey: props.syncKey,
    onZoom: props.onZoom,
    onResetZoom: props.onResetZoom,
  };

  if (props.layout === "overlay") {
    return (
      <div className="accuracy-charts accuracy-overlay">
        <TimeSeriesChart
          {...common}
          testId="overlay-chart"
          title="All tasks"
          data={props.overlay}
          series={overlaySeries}
          troughs={overlayTroughs}
          spanLabels
          height={340}
        />
      </div>
    );
  }
  return (
    <div className="accuracy-charts accuracy-grid">
      {tasks.map((j, i) => (
        <TimeSeriesChart
          {...common}
          key={j}
          testId={`task-chart-${j}`}
          title={taskTitle(j, spans.find((s) => s.task === j))}
          data={props.perTask[i]!}
          series={perTaskSeries[i]!}
          troughs={troughsByTask.get(j) ?? NO_TROUGHS}
          spanLabels
          height={230}
        />
      ))}
    </div>
  );
}

const NO_TROUGHS: readonly ChartTrough[] = [];
