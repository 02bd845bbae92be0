// The stability gap of every earlier task j at every boundary k, as numbers.
import type { Schemas } from "../../api/client";
import { area, iterations, percent, points } from "../../charts/format";
import { formatDepth } from "../../charts/troughs";

type RunGaps = Schemas["RunGaps"];

/** Depths at least this deep (a fraction) are emphasised. */
const NOTABLE_DEPTH = 0.05;

export function GapsTable({ gaps }: { readonly gaps: RunGaps }) {
  if (gaps.boundaries.length === 0) {
    return <p className="empty">No task boundary yet: the first gap appears when task 1 starts.</p>;
  }
  return (
    <div className="table-scroll">
      <table
        className="gaps-table"
        data-testid="gaps-table"
        title={`${gaps.definition}: ${gaps.formula}`}
      >
        <thead>
          <tr>
            <th scope="col">task j</th>
            <th scope="col" title="a_j(s_k): accuracy at the boundary, before the first update">
              before
            </th>
            <th scope="col" title="lowest accuracy while task k is trained">
              trough
            </th>
            <th scope="col" title="before − trough">
              depth
            </th>
            <th scope="col" title="depth / before">
              relative
            </th>
            <th scope="col" title="iterations from s_k to the trough">
              trough at
            </th>
            <th
              scope="col"
              title={`iterations from s_k until back within ${points(gaps.recovery_tolerance, 0)} of before`}
            >
              recovered at
            </th>
            <th scope="col" title="accuracy-iterations lost while task k is trained">
              area
            </th>
          </tr>
        </thead>
        {gaps.boundaries.map((boundary) => (
          <tbody key={boundary.task} data-boundary={boundary.task}>
            <tr className="gaps-boundary-row">
              <th colSpan={8} scope="rowgroup">
                Start of task {boundary.task}{" "}
                <span className="muted">
                  (iteration {boundary.start.toLocaleString("en-US")}
                  {boundary.complete ? "" : ", still training"})
                </span>
                {boundary.mean_depth != null && (
                  <span className="gaps-boundary-stats">
                    mean depth {points(boundary.mean_depth)} · max {points(boundary.max_depth)}
                  </span>
                )}
              </th>
            </tr>
            {boundary.rows.map((row) => (
              <tr
                key={row.task}
                data-task={row.task}
                data-boundary={boundary.task}
                // No dip (the task was already at its floor): keep the row, quietly.
                className={row.evaluated && !(row.depth != null && row.depth > 0) ? "gap-none" : undefined}
              >
                <td>task {row.task}</td>
                {row.evaluated ? (
                  <>
                    <td>{percent(row.before)}</td>
                    <td>{percent(row.trough)}</td>
                    <td
                      className={row.depth != null && row.depth >= NOTABLE_DEPTH ? "gap-deep" : undefined}
                      data-value={row.depth ?? ""}
                    >
                      {row.depth != null && row.depth > 0
                        ? formatDepth(row.depth)
                        : points(row.depth)}
                    </td>
                    <td>{percent(row.relative_depth)}</td>
                    <td>{iterations(row.trough_at)}</td>
                    <td>
                      {row.recovered_at != null ? (
                        iterations(row.recovered_at)
                      ) : (
                        <span className="muted">
                          {boundary.complete ? "not recovered" : "not yet"}
                        </span>
                      )}
                    </td>
                    <td>{area(row.area)}</td>
                  </>
                ) : (
                  <td colSpan={7} className="muted">
                    not evaluated at this boundary
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        ))}
      </table>
    </div>
  );
}
