// The accuracy matrix R[k][j] (accuracy on task j right after training task k) as a heatmap.
import type { Schemas } from "../../api/client";
import { percent } from "../../charts/format";
import { heatCell } from "../../charts/heat";

type AccuracyMatrix = Schemas["AccuracyMatrix"];

export function AccuracyHeatmap({ matrix }: { readonly matrix: AccuracyMatrix }) {
  const rows = matrix.rows;
  const columns = Math.max(0, ...rows.map((row) => row.length));
  if (rows.length === 0) {
    return <p className="empty">The matrix fills in as tasks end.</p>;
  }
  return (
    <div className="heatmap-wrap">
      <div
        className="heatmap"
        data-testid="accuracy-heatmap"
        title={`${matrix.definition}: ${matrix.formula}`}
        style={{ gridTemplateColumns: `auto repeat(${columns}, minmax(44px, 50px))` }}
      >
        <div className="heatmap-corner">after ↓ / on →</div>
        {Array.from({ length: columns }, (_, j) => (
          <div key={`c${j}`} className="heatmap-col-head">
            task {j}
          </div>
        ))}
        {rows.map((row, k) => (
          <div key={`r${k}`} className="heatmap-row" style={{ display: "contents" }}>
            <div className="heatmap-row-head">task {k}</div>
            {Array.from({ length: columns }, (_, j) => {
              const value = row[j] ?? null;
              const style = value === null ? undefined : heatCell(value);
              const classes = ["heatmap-cell"];
              if (value === null) classes.push("heatmap-empty");
              if (j === k) classes.push("heatmap-diagonal");
              return (
                <div
                  key={j}
                  className={classes.join(" ")}
                  data-row={k}
                  data-col={j}
                  data-value={value ?? ""}
                  style={style}
                  title={`R[${k}][${j}]: task ${j} after training task ${k}: ${percent(value, 2)}`}
                >
                  {value === null ? "" : percent(value)}
                </div>
              );
            })}
          </div>
        ))}
      </div>
      <div className="heatmap-scale" aria-hidden="true">
        <span>0%</span>
        <span className="heatmap-scale-bar" />
        <span>100%</span>
      </div>
    </div>
  );
}
