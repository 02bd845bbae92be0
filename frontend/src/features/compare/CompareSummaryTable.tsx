// The summary numbers side by side: a column per run (headed by its id and seed, in its colour),
// mean ± std for groups. Each group number says how many runs it averages (n, per number: a run
// without that number counts nowhere); numbers from runs that have not ended are marked.
import type { RunRead, RunSummary } from "../../api/client";
import { plusMinus } from "../../charts/format";
import { compareCell, type CompareColumn, type CompareMetric, formatMetric } from "./compareModel";

interface Props {
  /** The rows: the registry's headline metrics. */
  readonly metrics: readonly CompareMetric[];
  readonly columns: readonly CompareColumn[];
  readonly summaries: ReadonlyMap<number, RunSummary>;
  readonly runs: ReadonlyMap<number, RunRead>;
}

const PROVISIONAL_HINT = "Provisional: from runs that have not ended yet; it may still change.";

export function CompareSummaryTable({ metrics, columns, summaries, runs }: Props) {
  const cells = metrics.map((metric) =>
    columns.map((column) => compareCell(metric, column, summaries, runs)),
  );
  const anyProvisional = cells.some((row) => row.some((cell) => cell.provisional));
  return (
    <div className="table-scroll">
      <table className="compare-summary-table" data-testid="compare-summary-table">
        <thead>
          <tr>
            <th scope="col">metric</th>
            {columns.map((column) => (
              <th
                key={column.key}
                scope="col"
                data-column={column.key}
                data-color={column.colorVar}
                data-testid={`compare-column-${column.key}`}
              >
                <span
                  className="compare-swatch"
                  style={{ background: `var(${column.colorVar})` }}
                />
                {column.label}
                {column.name !== undefined && (
                  <span className="muted compare-column-note">{column.name}</span>
                )}
                {column.isGroup && (
                  <span className="muted compare-column-note">
                    mean ± std of {column.runIds.length} runs
                  </span>
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {metrics.map((metric, row) => (
            <tr key={metric.id} data-metric={metric.id}>
              <th scope="row" title={metric.title}>
                {metric.label}
              </th>
              {columns.map((column, index) => {
                const cell = cells[row]![index]!;
                const text = formatMetric(metric, cell.mean);
                return (
                  <td
                    key={column.key}
                    data-column={column.key}
                    data-value={cell.mean ?? ""}
                    data-n={cell.n}
                    data-provisional={cell.provisional ? "true" : "false"}
                    className={cell.provisional ? "provisional" : undefined}
                    title={cell.provisional ? PROVISIONAL_HINT : undefined}
                  >
                    {text}
                    {cell.provisional && (
                      <span className="provisional-mark" aria-label="provisional">
                        *
                      </span>
                    )}
                    {column.isGroup && cell.std != null && (
                      <span className="muted"> {plusMinus(cell.std, 2)}</span>
                    )}
                    {column.isGroup && (
                      <span className="muted compare-cell-n" data-testid="compare-cell-n">
                        {" "}
                        n = {cell.n}
                      </span>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {anyProvisional && (
        <p className="muted compare-table-note" data-testid="compare-provisional-note">
          * provisional: from runs that have not ended yet; it may still change.
        </p>
      )}
      {columns.some((column) => column.isGroup) && (
        <p className="muted compare-table-note">
          n: the runs behind each number; a run without that number (e.g. cancelled before a task
          ended) is not counted.
        </p>
      )}
    </div>
  );
}
