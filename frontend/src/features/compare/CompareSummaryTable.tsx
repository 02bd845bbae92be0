// The summary numbers side by side: a column per run (or group), mean ± std for groups.
import type { RunRead, RunSummary } from "../../api/client";
import { percent, plusMinus, signedPercent } from "../../charts/format";
import { COMPARE_METRICS, compareCell, type CompareColumn } from "./compareModel";

interface Props {
  readonly columns: readonly CompareColumn[];
  readonly summaries: ReadonlyMap<number, RunSummary>;
  readonly runs: ReadonlyMap<number, RunRead>;
}

export function CompareSummaryTable({ columns, summaries, runs }: Props) {
  const anySummary = summaries.values().next().value;
  return (
    <div className="table-scroll">
      <table className="compare-summary-table" data-testid="compare-summary-table">
        <thead>
          <tr>
            <th scope="col">metric</th>
            {columns.map((column) => (
              <th key={column.key} scope="col" data-column={column.key}>
                <span className="compare-swatch" style={{ background: `var(${column.colorVar})` }} />
                {column.label}
                {column.isGroup && (
                  <span className="muted compare-column-note">
                    {" "}
                    mean ± std, n = {column.runIds.length}
                  </span>
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {COMPARE_METRICS.map((metric) => (
            <tr key={metric.id} data-metric={metric.id}>
              <th scope="row" title={metric.definition(anySummary)}>
                {metric.label}
              </th>
              {columns.map((column) => {
                const cell = compareCell(metric, column, summaries, runs);
                const text = metric.signed ? signedPercent(cell.mean) : percent(cell.mean, 2);
                return (
                  <td key={column.key} data-value={cell.mean ?? ""}>
                    {text}
                    {column.isGroup && cell.std != null && (
                      <span className="muted"> {plusMinus(cell.std, 2)}</span>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
