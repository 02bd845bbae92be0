// The stability gap of every earlier task j at every boundary k, as numbers.
import type { Schemas } from "../../api/client";
import { area, iterations, percent, points } from "../../charts/format";
import { formatDepth } from "../../charts/troughs";

type RunGaps = Schemas["RunGaps"];

/** Depths at least this deep (a fraction) are emphasised. */
const NOTABLE_DEPTH = 0.05;
const COLUMNS = 9;

type GapRow = RunGaps["boundaries"][number]["rows"][number];

/** Rows without a dip are kept quietly; rows not eligible (at chance) are greyed out. */
function rowClass(row: GapRow): string | undefined {
  if (!row.evaluated) return undefined;
  if (!row.eligible) return "gap-ineligible";
  return row.depth != null && row.depth > 0 ? undefined : "gap-none";
}

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
            <th scope="col" title="lowest accuracy in the window (s_k, s_k + w_k]">
              trough
            </th>
            <th scope="col" title="before − trough: the whole drop inside the window">
              depth
            </th>
            <th
              scope="col"
              title="max(0, min(depth, after − trough)): the part of the drop that came back by the end of task k — the stability gap proper"
            >
              gap
            </th>
            <th scope="col" title="max(0, before − after): what had not come back by the end of task k">
              forgetting
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
              <th colSpan={COLUMNS} scope="rowgroup">
                Start of task {boundary.task}{" "}
                <span className="muted">
                  (iteration {boundary.start.toLocaleString("en-US")}, window{" "}
                  {boundary.window.toLocaleString("en-US")} it
                  {boundary.complete ? "" : ", still training"})
                </span>
                {boundary.eligible > 0 && (
                  <span className="gaps-boundary-stats" data-testid={`gaps-means-${boundary.task}`}>
                    mean gap {points(boundary.mean_gap)} · depth {points(boundary.mean_depth)} ·
                    forgetting {points(boundary.mean_forgetting)}{" "}
                    <span className="muted">(n = {boundary.eligible})</span>
                  </span>
                )}
              </th>
            </tr>
            {boundary.rows.map((row) => (
              <tr
                key={row.task}
                data-task={row.task}
                data-boundary={boundary.task}
                data-eligible={row.evaluated ? String(row.eligible) : undefined}
                className={rowClass(row)}
              >
                <td>
                  task {row.task}
                  {row.evaluated && !row.eligible && (
                    <span
                      className="gap-ineligible-mark"
                      title={`before − chance (${percent(row.chance)}) is under ${points(gaps.eligibility_margin, 0)}: nothing left to lose; left out of every mean`}
                    >
                      {" "}
                      at chance
                    </span>
                  )}
                </td>
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
                    <td data-value={row.gap ?? ""}>{points(row.gap)}</td>
                    <td data-value={row.forgetting ?? ""}>{points(row.forgetting)}</td>
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
                  <td colSpan={COLUMNS - 1} className="muted">
                    not evaluated at this boundary or inside its window
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
