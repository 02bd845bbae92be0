// One row per configuration of a sweep: its axis values, its runs, and every headline metric as
// mean ± 95% CI over its seeds; sortable by any metric, each header's hover says its definition.
import { Link } from "react-router";

import { searchValueText } from "../../components/config";
import {
  cellView,
  compareHref,
  configKey,
  metricTitle,
  nextSort,
  type RowSort,
  unitSuffix,
} from "./sweepModel";
import type { MetricDefinition, SweepRow } from "./types";

interface Props {
  readonly axes: readonly string[];
  readonly metrics: readonly MetricDefinition[];
  /** In the order to show. */
  readonly rows: readonly SweepRow[];
  readonly colors: ReadonlyMap<string, string>;
  readonly sort: RowSort | null;
  readonly onSort: (sort: RowSort) => void;
}

/** The most compared runs the compare page takes (its MAX_COMPARED_RUNS). */
const MAX_COMPARED = 50;

export function SweepResultsTable({ axes, metrics, rows, colors, sort, onSort }: Props) {
  return (
    <div className="table-scroll">
      <table className="sweep-results" data-testid="sweep-results">
        <thead>
          <tr>
            {axes.length === 0 && <th>Configuration</th>}
            {axes.map((axis) => (
              <th key={axis} data-testid={`sweep-axis-${axis}`}>
                {axis}
              </th>
            ))}
            <th className="num" title="Runs of this configuration (one per seed)">
              n
            </th>
            {metrics.map((metric) => {
              const sorted = sort?.metric === metric.id ? sort : null;
              const direction = sorted ? (sorted.descending ? "desc" : "asc") : null;
              return (
                <th
                  key={metric.id}
                  className="num sortable"
                  aria-sort={
                    direction === "asc" ? "ascending" : direction === "desc" ? "descending" : "none"
                  }
                >
                  <button
                    type="button"
                    className="sort-button"
                    data-testid={`sweep-sort-${metric.id}`}
                    title={metricTitle(metric)}
                    onClick={() => onSort(nextSort(sort, metric))}
                  >
                    {metric.label}
                    <span className="muted small"> ({unitSuffix(metric.unit)})</span>
                    <span className="sort-arrow" aria-hidden>
                      {direction === "asc" ? "▲" : direction === "desc" ? "▼" : "↕"}
                    </span>
                  </button>
                </th>
              );
            })}
            <th>Runs</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const key = configKey(row.config);
            const runs = row.run_ids.length;
            return (
              <tr key={key} data-testid="sweep-row" data-config={key}>
                {axes.length === 0 && <td>all runs</td>}
                {axes.map((axis, i) => (
                  <td key={axis} data-axis={axis}>
                    {i === 0 && (
                      <span
                        className="compare-swatch"
                        style={{ background: `var(${colors.get(key) ?? "--series-0"})` }}
                      />
                    )}
                    {searchValueText(row.config[axis])}
                  </td>
                ))}
                <td className="num" data-testid="sweep-row-n">
                  {runs}
                </td>
                {metrics.map((metric) => {
                  const cell = row.cells[metric.id];
                  const view = cellView(cell, metric);
                  return (
                    <td
                      key={metric.id}
                      className={`num${view.provisional ? " provisional" : ""}`}
                      data-metric={metric.id}
                      data-mean={cell?.mean ?? ""}
                      data-provisional={view.provisional ? "true" : "false"}
                      title={view.title}
                    >
                      {view.text}
                      {view.n > 0 && view.n < runs && (
                        <span className="cell-n muted small"> n={view.n}</span>
                      )}
                      {view.provisional && (
                        <span className="provisional-mark" aria-label="provisional">
                          *
                        </span>
                      )}
                    </td>
                  );
                })}
                <td className="sweep-row-runs">
                  {row.run_ids.map((id, i) => (
                    <Link
                      key={id}
                      to={`/runs/${id}`}
                      title={row.seeds[i] !== undefined ? `seed ${row.seeds[i]}` : undefined}
                    >
                      #{id}
                    </Link>
                  ))}
                  {runs > 1 && runs <= MAX_COMPARED && (
                    <Link
                      to={compareHref(row.run_ids)}
                      className="sweep-compare-link"
                      data-testid="sweep-row-compare"
                    >
                      compare
                    </Link>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
