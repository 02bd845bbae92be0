// The Cost card: the run's totals in human units (FLOPs, bytes, seconds, counts), each with its
// ratio to the joint run of the same benchmark ("0.31× retraining", Harun et al. 2023), and a
// collapsible per-task table. Left out while the run has logged no cost.
import type { Schemas } from "../../api/client";
import { baselineNote, costQuantity, costRows, formatCost } from "./cost";

type RunCost = Schemas["RunCost"];

export function CostCard({ cost }: { readonly cost: RunCost }) {
  const rows = costRows(cost);
  if (rows.length === 0 && cost.tasks.length === 0) return null;
  const note = baselineNote(cost);
  return (
    <section className="run-section cost-card" aria-labelledby="cost-heading" data-testid="cost-card">
      <div className="section-head">
        <h2 id="cost-heading">Cost</h2>
        <span className="muted small" data-testid="cost-baseline" title={cost.formula}>
          {note ?? "no joint run of this benchmark in the run’s group or sweep: no ratios"}
        </span>
      </div>
      <div className="cost-totals">
        {rows.map((row) => (
          <div key={row.id} className="cost-total" data-testid={`cost-total-${row.id}`} data-value={row.value}>
            <div className="summary-card-label">{row.label}</div>
            <div className="cost-total-value">{row.text}</div>
            {row.ratio && (
              <div className="cost-ratio" data-testid={`cost-ratio-${row.id}`}>
                {row.ratio}
              </div>
            )}
          </div>
        ))}
      </div>
      {cost.tasks.length > 0 && (
        <details className="cost-tasks">
          <summary data-testid="cost-tasks-toggle">Per task ({cost.tasks.length})</summary>
          <div className="table-scroll">
            <table className="gaps-table" data-testid="cost-tasks">
              <thead>
                <tr>
                  <th>Task</th>
                  <th>End step</th>
                  {cost.quantities.map((q) => (
                    <th key={q}>{costQuantity(q).label}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {cost.tasks.map((t) => (
                  <tr key={t.step}>
                    <td>{t.task}</td>
                    <td>{t.step.toLocaleString("en-US")}</td>
                    {cost.quantities.map((q) => (
                      <td key={q}>{formatCost(q, t.values[q])}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      )}
    </section>
  );
}
