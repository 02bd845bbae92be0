// The Plasticity panel: the run's diag/... series (dormant units, effective and stable rank of
// each hidden layer, weight magnitude, gradient norm, per-update plasticity) against the
// iteration with the task boundaries, one small chart per quantity. Left out when the run
// logged no diagnostics (evaluation.diagnostics off).
import { useMemo } from "react";

import type { TaskSpan } from "../../charts/boundaries";
import type { StepRange } from "../../charts/budget";
import { seriesVar } from "../../charts/color";
import { TimeSeriesChart } from "../../charts/TimeSeriesChart";
import { plasticityCharts, plasticityKeys } from "./plasticity";
import { useRunMetricKeys, useRunSeries } from "./queries";
import { chartTable, hasPoints } from "./runSeries";

interface Props {
  readonly id: number;
  readonly active: boolean;
  readonly spans: readonly TaskSpan[];
  readonly zoom: StepRange | null;
  readonly points: number;
  readonly xRange: readonly [number, number] | null;
  readonly syncKey: string;
  readonly onZoom: (range: StepRange) => void;
  readonly onResetZoom: () => void;
}

export function PlasticityPanel(props: Props) {
  const { id, zoom, points } = props;
  const metricKeys = useRunMetricKeys(id, true, props.active);
  const charts = useMemo(() => plasticityCharts(metricKeys.data?.keys ?? []), [metricKeys.data]);
  const keys = useMemo(() => plasticityKeys(charts), [charts]);
  const series = useRunSeries(id, keys, zoom, points, keys.length > 0 && points > 0);
  const shape = useMemo(() => ({ points, range: zoom }), [points, zoom]);
  const drawn = useMemo(
    () =>
      charts.flatMap((chart) => {
        const table = chartTable(series.data, chart.keys, shape, { scale: chart.scale });
        if (!hasPoints(table)) return [];
        // The run-wide line (all hidden layers) in the muted colour, each layer in its own.
        const whole = chart.labels[0] === "all hidden" ? 1 : 0;
        const styles = chart.labels.map((label, i) => ({
          label,
          colorVar: i < whole ? "--fg-muted" : seriesVar(i - whole),
          width: i < whole ? 2 : 1.5,
        }));
        return [{ chart, table, styles }];
      }),
    [charts, series.data, shape],
  );

  if (charts.length === 0) return null;
  const ready = series.data !== undefined && !series.isFetching && !series.isPlaceholderData;
  return (
    <section className="run-section" aria-labelledby="plasticity-heading" data-testid="plasticity-panel">
      <h2 id="plasticity-heading">Plasticity</h2>
      <p className="muted small">
        Diagnostics on a fixed probe batch at each evaluation (METRICS.md “Plasticity
        diagnostics”): dormant units, feature rank of each hidden layer, weight magnitude, the
        last update’s gradient norm and plasticity.
      </p>
      {series.isError && <p className="error">Could not load the diagnostics: {series.error.message}</p>}
      <div className="plasticity-charts" data-ready={ready ? "true" : "false"}>
        {series.data === undefined
          ? !series.isError && <p className="empty">Loading the diagnostics…</p>
          : drawn.map(({ chart, table, styles }) => (
              <TimeSeriesChart
                key={chart.id}
                testId={`plasticity-chart-${chart.id}`}
                title={chart.title}
                data={table}
                series={styles}
                yLabel={chart.yLabel}
                yUnit={chart.yUnit}
                spans={props.spans}
                xRange={props.xRange}
                syncKey={props.syncKey}
                onZoom={props.onZoom}
                onResetZoom={props.onResetZoom}
                height={180}
              />
            ))}
      </div>
    </section>
  );
}
