// /sweeps — every sweep the user may see, newest first: what it varies and how far its runs got.
// Sweeps are made with `gapwatch sweep spec.yaml` or POST /api/v1/sweeps.
import "../runs/runs.css";
import "./sweeps.css";

import { Link, useSearchParams } from "react-router";

import { ProgressBar } from "../../components/ProgressBar";
import { formatWhen } from "../../components/format";
import { useNow } from "../../components/useNow";
import { SWEEPS_PAGE_SIZE, useSweeps } from "./queries";
import { axesText, progressView } from "./sweepModel";

export function SweepsPage() {
  const [params, setParams] = useSearchParams();
  const offsetParam = Number(params.get("offset") ?? "0");
  const offset = Number.isInteger(offsetParam) && offsetParam > 0 ? offsetParam : 0;
  const sweeps = useSweeps(offset);
  const now = useNow(30_000);
  const items = sweeps.data?.items ?? [];
  const total = sweeps.data?.total ?? 0;
  const goTo = (next: number) =>
    setParams(next > 0 ? new URLSearchParams({ offset: String(next) }) : new URLSearchParams());

  return (
    <div className="sweeps-page">
      <div className="page-header">
        <h1>Sweeps</h1>
      </div>
      {sweeps.isError && <p className="error">Could not load sweeps: {sweeps.error.message}</p>}
      {sweeps.isPending && <p className="muted">Loading sweeps…</p>}
      {sweeps.data && total === 0 && (
        <div className="runs-empty" data-testid="sweeps-empty">
          <h2>No sweeps yet</h2>
          <p>
            A sweep runs one spec over a grid (or a seeded random draw) of values and aggregates
            its seeds: mean ± 95% CI per configuration. Describe it in a YAML file — a{" "}
            <code>base</code> run spec and its <code>axes</code> — and post it:
          </p>
          <pre className="code-block">{SWEEP_EXAMPLE}</pre>
          <pre className="code-block">gapwatch sweep sweep.yaml --wait</pre>
          <p className="muted">or POST the same document as JSON to /api/v1/sweeps.</p>
        </div>
      )}
      {items.length > 0 && (
        <div className="table-scroll">
          <table className="sweeps-table" data-testid="sweeps-table">
            <thead>
              <tr>
                <th className="num">ID</th>
                <th>Name</th>
                <th>Project</th>
                <th>Method</th>
                <th>Axes</th>
                <th className="num">Runs</th>
                <th>Progress</th>
                <th className="num">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((sweep) => {
                const progress = progressView(sweep.progress);
                return (
                  <tr key={sweep.id} data-testid={`sweep-list-row-${sweep.id}`}>
                    <td className="num">
                      <Link to={`/sweeps/${sweep.id}`}>{sweep.id}</Link>
                    </td>
                    <td>
                      <Link to={`/sweeps/${sweep.id}`} className="run-name">
                        {sweep.name}
                      </Link>
                    </td>
                    <td>{sweep.project}</td>
                    <td>{sweep.method}</td>
                    <td className="sweep-axes-cell" title={axesText(sweep.axes)}>
                      {axesText(sweep.axes)}
                    </td>
                    <td className="num">{sweep.runs}</td>
                    <td>
                      <div className="duration-progress sweep-list-progress">
                        <span className="small">
                          {progress.ended} / {progress.total} ended
                        </span>
                        <ProgressBar
                          fraction={progress.fraction}
                          label={`${progress.ended} of ${progress.total} runs ended`}
                        />
                      </div>
                    </td>
                    <td className="num" title={new Date(sweep.created_at).toLocaleString()}>
                      {formatWhen(sweep.created_at, now)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {total > SWEEPS_PAGE_SIZE && (
        <nav className="pager" aria-label="Pages of sweeps">
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => goTo(Math.max(0, offset - SWEEPS_PAGE_SIZE))}
          >
            ← Previous
          </button>
          <span className="muted">
            {offset + 1}–{Math.min(total, offset + items.length)} of {total}
          </span>
          <button
            type="button"
            disabled={offset + SWEEPS_PAGE_SIZE >= total}
            onClick={() => goTo(offset + SWEEPS_PAGE_SIZE)}
          >
            Next →
          </button>
        </nav>
      )}
    </div>
  );
}

const SWEEP_EXAMPLE = `name: er-vs-finetune
base:
  benchmark: {name: split_digits}
  model: {name: mlp}
  strategy: {name: finetune}
axes:
  strategy.name: [finetune, er]
  seed: [0, 1, 2]
method: grid`;
