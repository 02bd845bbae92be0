import "./runs.css";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api, ApiError, unwrap } from "../../api/client";
import { useDefinitions } from "../../api/definitions";
import { useMe } from "../../auth/session";
import { useNow } from "../../components/useNow";
import { unionTags } from "../new-run/schemaForm";
import { runSpecSchema, useSpecDescription } from "../new-run/specQuery";
import { configFilterProblem } from "./configSearch";
import { RunsEmpty } from "./RunsEmpty";
import { RunsFilters } from "./RunsFilters";
import { RunsTable } from "./RunsTable";
import { compareHref, listNeedsPolling, numberColumns } from "./runRow";
import {
  type RunsView,
  RUNS_QUERY_KEY,
  type SortColumn,
  emptyPage,
  isFiltered,
  listQuery,
  pageInfo,
  searchFromView,
  toggleSort,
  viewFromSearch,
} from "./runsQuery";

// While a listed run is queued or running, the list refreshes this often; then it stops.
const POLL_MS = 2_000;
// "Created 3 min ago" keeps ageing: every second while a listed run's duration ticks, else
// twice a minute (minutes are the finest unit such an age shows).
const CLOCK_RUNNING_MS = 1_000;
const CLOCK_IDLE_MS = 30_000;

export function RunsPage() {
  const [search, setSearch] = useSearchParams();
  const searchText = search.toString();
  // Memoised on the text so that children's effects see a stable view between URL changes.
  const view = useMemo(() => viewFromSearch(new URLSearchParams(searchText)), [searchText]);
  const setView = useCallback((next: RunsView) => setSearch(searchFromView(next)), [setSearch]);
  const navigate = useNavigate();
  const me = useMe();
  const columns = numberColumns(useDefinitions().data);
  const projects = useMemo(() => me.projects.map((p) => p.name), [me.projects]);
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());

  const query = listQuery(view);
  const runs = useQuery({
    queryKey: [RUNS_QUERY_KEY, query],
    queryFn: async () => unwrap(await api.GET("/api/v1/runs", { params: { query } })),
    refetchInterval: (q) => (listNeedsPolling(q.state.data?.items) ? POLL_MS : false),
    placeholderData: keepPreviousData,
    // A refused query (a malformed config search) is refused again: say so at once.
    retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 1,
  });
  const configProblem = configFilterProblem(runs.error);
  const spec = useSpecDescription();
  const names = useMemo(() => {
    if (!spec.data) return { benchmarks: [], strategies: [] };
    const { ctx, schema } = runSpecSchema(spec.data);
    return {
      benchmarks: unionTags(ctx, schema, "benchmark"),
      strategies: unionTags(ctx, schema, "strategy"),
    };
  }, [spec.data]);

  const items = runs.data?.items ?? [];
  const now = useNow(
    items.some((r) => r.status === "running") ? CLOCK_RUNNING_MS : CLOCK_IDLE_MS,
  );

  const toggle = (id: number) =>
    setSelected((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const toggleAll = (ids: number[], select: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      for (const id of ids) {
        if (select) next.add(id);
        else next.delete(id);
      }
      return next;
    });

  const noRunsAtAll = runs.data !== undefined && runs.data.total === 0 && !isFiltered(view);
  const page = runs.data ? pageInfo(runs.data.offset, items.length, runs.data.total) : null;
  const empty = runs.data ? emptyPage(items.length, runs.data.total) : null;

  return (
    <div className="runs-page">
      <div className="page-header">
        <h1>Runs</h1>
        <div className="page-actions">
          {selected.size > 0 && (
            <button type="button" className="link-button" onClick={() => setSelected(new Set())}>
              Clear selection
            </button>
          )}
          <button
            type="button"
            data-testid="compare-selected"
            disabled={selected.size === 0}
            title={selected.size === 0 ? "Tick runs in the table to compare them" : undefined}
            onClick={() => navigate(compareHref(selected))}
          >
            Compare selected{selected.size > 0 ? ` (${selected.size})` : ""}
          </button>
          <Link to="/runs/new" className="button primary">
            New run
          </Link>
        </div>
      </div>

      {noRunsAtAll ? (
        <RunsEmpty />
      ) : (
        <>
          <RunsFilters
            view={view}
            projects={projects}
            benchmarks={names.benchmarks}
            strategies={names.strategies}
            configProblem={configProblem}
            onChange={setView}
          />
          {runs.isError && !configProblem && <p className="error">Could not load runs: {runs.error.message}</p>}
          {runs.isPending && <p className="muted">Loading runs…</p>}
          {empty === "past-end" && (
            <p className="empty" data-testid="runs-past-end">
              This page is past the end of the list ({runs.data?.total} matching{" "}
              {runs.data?.total === 1 ? "run" : "runs"}).{" "}
              <Link
                data-testid="runs-first-page"
                to={{ search: searchFromView({ ...view, offset: 0 }).toString() }}
              >
                Go to the first page
              </Link>
            </p>
          )}
          {empty === "no-match" && (
            <p className="empty" data-testid="runs-no-match">
              No runs match these filters.{" "}
              <button
                type="button"
                className="link-button"
                onClick={() => setSearch(new URLSearchParams())}
              >
                Clear filters
              </button>
            </p>
          )}
          {items.length > 0 && (
            <RunsTable
              runs={items}
              columns={columns}
              view={view}
              now={now}
              selected={selected}
              onToggle={toggle}
              onToggleAll={toggleAll}
              onSort={(column: SortColumn) => setView(toggleSort(view, column))}
            />
          )}
          {page && items.length > 0 && (
            <nav className="pager" aria-label="Pages of runs">
              <button
                type="button"
                data-testid="page-previous"
                disabled={page.previous === null}
                onClick={() => page.previous !== null && setView({ ...view, offset: page.previous })}
              >
                ← Previous
              </button>
              <span className="muted" data-testid="page-label">
                {page.label}
              </span>
              <button
                type="button"
                data-testid="page-next"
                disabled={page.next === null}
                onClick={() => page.next !== null && setView({ ...view, offset: page.next })}
              >
                Next →
              </button>
            </nav>
          )}
        </>
      )}
    </div>
  );
}
