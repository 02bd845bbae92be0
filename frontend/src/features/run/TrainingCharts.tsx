// Losses (training loss and each task's evaluation loss, log scale) and the learning rate.
import { useMemo } from "react";
import type uPlot from "uplot";

import type { TaskSpan } from "../../charts/boundaries";
import type { StepRange } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import { TimeSeriesChart } from "../../charts/TimeSeriesChart";

interface Props {
  readonly tasks: readonly number[];
  readonly spans: readonly TaskSpan[];
  /** The loss table, or null to leave its chart out (no points). */
  readonly loss: uPlot.AlignedData | null;
  readonly lr: uPlot.AlignedData | null;
  readonly xRange: readonly [number, number] | null;
  readonly syncKey: string;
  readonly onZoom: (range: StepRange) => void;
  readonly onResetZoom: () => void;
}

export function TrainingCharts(props: Props) {
  const lossSeries = useMemo(
    () => [
      { label: "train loss", colorVar: "--fg-muted", width: 1, alpha: 0.7 },
      ...props.tasks.map((j) => ({ label: `eval task ${j}`, colorVar: seriesVar(j), width: 1.5 })),
    ],
    [props.tasks],
  );
  const common = {
    spans: props.spans,
    xRange: props.xRange,
    syncKey: props.syncKey,
    onZoom: props.onZoom,
    onResetZoom: props.onResetZoom,
    height: 220,
  };
  return (
    <div className="training-charts">
      {props.loss && (
        <TimeSeriesChart
          {...common}
          testId="loss-chart"
          title="Loss"
          data={props.loss}
          series={lossSeries}
          yLabel="loss (log)"
          yLog
        />
      )}
      {props.lr && (
        <TimeSeriesChart
          {...common}
          testId="lr-chart"
          title="Learning rate"
          data={props.lr}
          series={LR_SERIES}
          yLabel="learning rate"
        />
      )}
    </div>
  );
}

const LR_SERIES = [{ label: "lr", colorVar: "--accent", width: 1.5 }];
