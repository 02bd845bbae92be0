// No runs in the URL: say what the page does and offer recent finished runs (and their groups)
// to tick.
import { useState } from "react";
import { Link, useNavigate } from "react-router";

import { percent } from "../../charts/format";
import { MISSING } from "../../components/format";
import { OWN_LOOP } from "./compareModel";
import { useRecentFinishedRuns } from "./queries";

export function RunPicker() {
  const recent = useRecentFinishedRuns();
  const navigate = useNavigate();
  const [picked, setPicked] = useState<number[]>([]);
  const runs = recent.data?.items ?? [];
  const groups = [...new Set(runs.map((r) => r.group).filter((g): g is string => !!g))];
  const toggle = (id: number) =>
    setPicked((current) =>
      current.includes(id) ? current.filter((x) => x !== id) : [...current, id],
    );

  return (
    <section className="compare-picker" data-testid="compare-picker">
      <p>
        Compare runs side by side: accuracy on each task with the runs of one strategy (or one
        group of seeds) drawn as their mean ± std, and their summary numbers in one table. Tick two
        or more finished runs, or open a whole group.
      </p>
      {groups.length > 0 && (
        <p className="compare-groups">
          Groups:{" "}
          {groups.map((group) => (
            <Link key={group} to={`/compare?groups=${encodeURIComponent(group)}`}>
              {group}
            </Link>
          ))}
          {groups.length > 1 && (
            <Link to={`/compare?groups=${groups.map(encodeURIComponent).join(",")}`}>all groups</Link>
          )}
        </p>
      )}
      {recent.isPending && <p className="empty">Loading runs…</p>}
      {recent.isError && <p className="error">Could not load runs: {recent.error.message}</p>}
      {recent.isSuccess && runs.length === 0 && (
        <p className="empty">
          No finished run yet. <Link to="/runs/new">Start one</Link>.
        </p>
      )}
      {runs.length > 0 && (
        <>
          <table className="compare-picker-table">
            <thead>
              <tr>
                <th />
                <th>run</th>
                <th>strategy</th>
                <th>benchmark</th>
                <th>group</th>
                <th>ACC</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id}>
                  <td>
                    <input
                      type="checkbox"
                      data-testid={`pick-run-${run.id}`}
                      aria-label={`Compare run ${run.id}`}
                      checked={picked.includes(run.id)}
                      onChange={() => toggle(run.id)}
                    />
                  </td>
                  <td>
                    <Link to={`/runs/${run.id}`}>{run.name ?? `Run ${run.id}`}</Link>{" "}
                    <span className="muted">#{run.id}</span>
                  </td>
                  {run.spec !== null ? (
                    <>
                      <td>{run.spec.strategy.name}</td>
                      <td>{run.spec.benchmark.name}</td>
                    </>
                  ) : (
                    <>
                      <td className="muted">{OWN_LOOP}</td>
                      <td className="muted">{MISSING}</td>
                    </>
                  )}
                  <td>{run.group ?? ""}</td>
                  <td>{percent(run.headline?.acc)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            className="primary"
            data-testid="compare-picked"
            disabled={picked.length < 2}
            onClick={() => navigate(`/compare?runs=${picked.join(",")}`)}
          >
            Compare {picked.length || ""} selected
          </button>
        </>
      )}
    </section>
  );
}
