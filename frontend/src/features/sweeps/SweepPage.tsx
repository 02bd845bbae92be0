// /sweeps/:sweepId — one sweep: what it varies, its runs' progress (live until every run has
// ended), one results row per configuration (mean ± 95% CI over seeds), the exports that go into
// a paper, and the boundary-aligned gap view per configuration.
import "../compare/compare.css";
import "../run/run.css";
import "./sweeps.css";

import { useCallback, useMemo } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { ApiError } from "../../api/client";
import { useDefinitions } from "../../api/definitions";
import { FigureLinks } from "../../components/FigureLinks";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { AlignedChart } from "../../charts/AlignedChart";
import {
  useSweep,
  useSweepAligned,
  useSweepResults,
  sweepVersion,
} from "./queries";
import {
  alignedChart,
  axesText,
  compareHref,
  configColors,
  parseSort,
  progressView,
  type RowSort,
  sortRows,
  sortText,
  sweepRunsHref,
  withDefinitions,
} from "./sweepModel";
import { SweepResultsTable } from "./SweepResultsTable";
import type { SweepRead } from "./types";

export function SweepPage() {
  const { sweepId } = useParams();
  const id = Number(sweepId);
  if (!Number.isInteger(id) || id < 1) return <p className="empty">No sweep “{sweepId}”.</p>;
  return <SweepView key={id} id={id} />;
}

function SweepView({ id }: { readonly id: number }) {
  const sweepQuery = useSweep(id);
  const sweep = sweepQuery.data;
  if (sweepQuery.error instanceof ApiError && sweepQuery.error.status === 404) {
    return (
      <p className="empty" data-testid="sweep-not-found">
        Sweep #{id} was not found. <Link to="/sweeps">All sweeps</Link>
      </p>
    );
  }
  if (sweepQuery.isError) {
    return <p className="error">Could not load sweep #{id}: {sweepQuery.error.message}</p>;
  }
  if (!sweep) return <p className="empty">Loading sweep #{id}…</p>;
  return (
    <div className="run-page sweep-page">
      <SweepHeader sweep={sweep} />
      <SweepProgressLine sweep={sweep} />
      <SweepResults sweep={sweep} />
    </div>
  );
}

function SweepHeader({ sweep }: { readonly sweep: SweepRead }) {
  const base = `/api/v1/sweeps/${sweep.id}`;
  return (
    <header className="run-header">
      <div className="run-title-row">
        <h1 className="run-title" data-testid="sweep-name">
          {sweep.name} <span className="run-id">#{sweep.id}</span>
        </h1>
        <div className="run-actions sweep-downloads" aria-label="Exports">
          <a
            className="button-link"
            data-testid="download-csv"
            href={`${base}/results.csv`}
            download
          >
            results.csv
          </a>
          <a
            className="button-link"
            data-testid="download-tex"
            href={`${base}/results.tex`}
            download
          >
            results.tex
          </a>
          <FigureLinks
            testIdPrefix="download-"
            href={(format) => `${base}/figures/aligned.${format}`}
            label={(format) => `aligned.${format}`}
          />
        </div>
      </div>
      <dl className="run-meta">
        <div>
          <dt>project</dt>
          <dd>{sweep.project}</dd>
        </div>
        <div>
          <dt>method</dt>
          <dd data-testid="sweep-method">{sweep.method}</dd>
        </div>
        <div>
          <dt>axes</dt>
          <dd data-testid="sweep-axes">{axesText(sweep.axes)}</dd>
        </div>
        <div>
          <dt>created</dt>
          <dd>{new Date(sweep.created_at).toLocaleString()}</dd>
        </div>
      </dl>
      <details className="sweep-base">
        <summary>Base spec</summary>
        <pre className="code-block">{JSON.stringify(sweep.base, null, 2)}</pre>
      </details>
    </header>
  );
}

function SweepProgressLine({ sweep }: { readonly sweep: SweepRead }) {
  const progress = progressView(sweep.progress);
  const ids = [...sweep.run_ids].sort((a, b) => a - b);
  return (
    <section
      className="sweep-progress"
      data-testid="sweep-progress"
      data-ended={progress.ended}
      data-total={progress.total}
      aria-label="Progress"
    >
      <div className="sweep-progress-line">
        <strong>
          {progress.ended} / {progress.total} runs ended
        </strong>
        {progress.counts.map(([status, n]) => (
          <span key={status} data-testid={`sweep-count-${status}`} className="sweep-count">
            {n} <StatusBadge status={status} />
          </span>
        ))}
        {progress.active && <span className="run-live">● live</span>}
        <span className="sweep-run-links">
          <Link to={sweepRunsHref(sweep.id)}>runs list</Link>
          {ids.length > 1 && ids.length <= 50 && (
            <Link to={compareHref(ids)} data-testid="sweep-compare-all">
              compare all
            </Link>
          )}
        </span>
      </div>
      <ProgressBar
        fraction={progress.fraction}
        label={`${progress.ended} of ${progress.total} runs ended`}
      />
    </section>
  );
}

function SweepResults({ sweep }: { readonly sweep: SweepRead }) {
  const version = sweepVersion(sweep);
  const results = useSweepResults(sweep.id, version);
  const aligned = useSweepAligned(sweep.id, version);
  const definitions = useDefinitions();
  const [params, setParams] = useSearchParams();

  const metrics = useMemo(
    () => withDefinitions(results.data?.metrics ?? [], definitions.data),
    [results.data, definitions.data],
  );
  const sort = parseSort(
    params.get("sort"),
    metrics.map((m) => m.id),
  );
  const setSort = useCallback(
    (next: RowSort) =>
      setParams(
        (current) => {
          const search = new URLSearchParams(current);
          search.set("sort", sortText(next));
          return search;
        },
        { replace: true },
      ),
    [setParams],
  );
  const rows = useMemo(() => sortRows(results.data?.rows ?? [], sort), [results.data, sort]);
  // Colours follow the API's order of configurations, not the table's sort.
  const colors = useMemo(() => configColors(results.data?.rows ?? []), [results.data]);
  const chart = useMemo(
    () => (aligned.data ? alignedChart(aligned.data, colors) : null),
    [aligned.data, colors],
  );
  const provisional = rows.some((row) => Object.values(row.cells).some((c) => c.provisional));

  return (
    <>
      <section className="run-section" aria-labelledby="sweep-results-heading">
        <div className="section-head">
          <h2 id="sweep-results-heading">Results</h2>
          <span className="muted small">
            one row per configuration; mean ± 95% CI over its seeds (Student t), accuracies in
            percentage points; n = runs. Hover a header for its definition.
          </span>
        </div>
        {results.isError && (
          <p className="error">Could not load the results: {results.error.message}</p>
        )}
        {results.isPending && <p className="empty">Loading the results…</p>}
        {results.data && (
          <SweepResultsTable
            axes={results.data.axes}
            metrics={metrics}
            rows={rows}
            colors={colors}
            sort={sort}
            onSort={setSort}
          />
        )}
        {provisional && (
          <p className="muted small" data-testid="sweep-provisional-note">
            * provisional: some runs of the configuration have not ended; the number covers those
            that have.
          </p>
        )}
      </section>
      <section className="run-section" aria-labelledby="sweep-aligned-heading">
        <div className="section-head">
          <h2 id="sweep-aligned-heading">The stability gap, aligned on the boundaries</h2>
        </div>
        {aligned.isError && (
          <p className="error">Could not load the aligned view: {aligned.error.message}</p>
        )}
        {aligned.isPending && <p className="empty">Loading the aligned view…</p>}
        {chart && chart.series.length > 0 && (
          <div
            data-testid="sweep-aligned"
            data-ready={aligned.isFetching ? "false" : "true"}
            data-lines={chart.series.length}
          >
            <AlignedChart chart={chart} testId="sweep-aligned-chart" />
          </div>
        )}
        {chart && chart.empty.length > 0 && (
          <p className="muted small" data-testid="sweep-aligned-empty">
            Nothing to align yet for {chart.empty.join("; ")} (no ended task boundary with an
            earlier task above chance).
          </p>
        )}
      </section>
    </>
  );
}
