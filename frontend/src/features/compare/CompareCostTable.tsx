// The compared runs' costs side by side (METRICS.md "Cost of a run"): totals in human units and
// each one's ratio to the joint run of its benchmark in its group or sweep ("0.31× retraining").
// The same columns as the summary table; a group column averages its runs that have the number.
import type { Schemas } from "../../api/client";
import { costCell, costQuantitiesOf } from "./compareCost";
import type { CompareColumn } from "./compareModel";

type RunCostTotals = Schemas["RunCostTotals"];

interface Props {
  readonly costs: readonly RunCostTotals[];
  readonly columns: readonly CompareColumn[];
}

export function CompareCostTable({ costs, columns }: Props) {
  const quantities = costQuantitiesOf(costs);
  if (quantities.length === 0) return null;
  const byRun = new Map(costs.map((c) => [c.run_id, c]));
  return (
    <section className="run-section" aria-labelledby="compare-cost-heading">
      <h2 id="compare-cost-heading">Cost</h2>
      <div className="table-scroll">
        <table className="compare-summary-table" data-testid="compare-cost-table">
          <thead>
            <tr>
              <th scope="col">cost</th>
              {columns.map((column) => (
                <th key={column.key} scope="col" data-column={column.key}>
                  <span className="compare-swatch" style={{ background: `var(${column.colorVar})` }} />
                  {column.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {quantities.map((q) => (
              <tr key={q.id} data-cost={q.id}>
                <th scope="row">{q.label}</th>
                {columns.map((column) => {
                  const cell = costCell(q.id, column.runIds, byRun);
                  return (
                    <td key={column.key} data-column={column.key} data-value={cell.value ?? ""} data-ratio={cell.ratio ?? ""}>
                      {cell.text}
                      {cell.ratioText && <span className="muted compare-column-note">{cell.ratioText}</span>}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted compare-table-note">
        Ratios are to the joint run (retraining on everything seen) of the same benchmark in the
        run’s group or sweep, of the same seed where there is one (Harun et al. 2023).
      </p>
    </section>
  );
}
