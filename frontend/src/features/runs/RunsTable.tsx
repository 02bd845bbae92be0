import { Link } from "react-router";

import type { RunRead } from "../../api/client";
import { type Definition, definitionHover } from "../../api/definitions";
import { ProgressBar } from "../../components/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { formatCount, formatDuration, formatPercent, formatWhen, MISSING } from "../../components/format";
import { type RunRowView, runRowView } from "./runRow";
import { type RunsView, type SortColumn, sortDirection } from "./runsQuery";

interface Props {
  runs: readonly RunRead[];
  /** The number columns: the registry's headline metrics (see `numberColumns`). */
  columns: readonly Definition[];
  view: RunsView;
  now: number;
  selected: ReadonlySet<number>;
  onToggle: (id: number) => void;
  onToggleAll: (ids: number[], select: boolean) => void;
  onSort: (column: SortColumn) => void;
}

function SortHeader({
  column,
  label,
  title,
  view,
  onSort,
}: {
  column: SortColumn;
  label: string;
  title?: string;
  view: RunsView;
  onSort: (column: SortColumn) => void;
}) {
  const direction = sortDirection(view.sort, column);
  return (
    <th
      className="num sortable"
      aria-sort={direction === "asc" ? "ascending" : direction === "desc" ? "descending" : "none"}
    >
      <button
        type="button"
        className="sort-button"
        data-testid={`sort-${column}`}
        title={title}
        onClick={() => onSort(column)}
      >
        {label}
        <span className="sort-arrow" aria-hidden>
          {direction === "asc" ? "▲" : direction === "desc" ? "▼" : "↕"}
        </span>
      </button>
    </th>
  );
}

/**
 * The benchmark and strategy cells: the spec's names, or for a loop run "own loop" with its
 * first config entries (it has no benchmark or strategy of ours).
 */
function TrainedCells({ row }: { row: RunRowView }) {
  if (row.config) {
    return (
      <>
        <td className="loop-cell" data-testid={`run-config-${row.id}`}>
          <span className="loop-label">own loop</span>
          {row.config.text && (
            <div className="muted small config-summary" title={row.config.full}>
              {row.config.text}
              {row.config.more > 0 && ` · +${row.config.more}`}
            </div>
          )}
        </td>
        <td className="muted">{MISSING}</td>
      </>
    );
  }
  return (
    <>
      <td>
        {row.benchmark}
        {row.scenario && <div className="muted small">{row.scenario}</div>}
      </td>
      <td>{row.strategy}</td>
    </>
  );
}

export function RunsTable({
  runs,
  columns,
  view,
  now,
  selected,
  onToggle,
  onToggleAll,
  onSort,
}: Props) {
  const rows = runs.map((run) => runRowView(run, now));
  const ids = rows.map((r) => r.id);
  const allSelected = ids.length > 0 && ids.every((id) => selected.has(id));
  return (
    <div className="table-scroll">
      <table className="runs-table" data-testid="runs-table">
        <thead>
          <tr>
            <th className="select">
              <input
                type="checkbox"
                aria-label="Select every run on this page"
                checked={allSelected}
                onChange={() => onToggleAll(ids, !allSelected)}
              />
            </th>
            <th className="num">ID</th>
            <th>Project</th>
            <th>Name</th>
            <th>Status</th>
            <th>Benchmark</th>
            <th>Strategy</th>
            <th className="num">Seed</th>
            <SortHeader column="created_at" label="Created" view={view} onSort={onSort} />
            <SortHeader column="duration" label="Duration" view={view} onSort={onSort} />
            {columns.map((d) => (
              <SortHeader
                key={d.id}
                column={d.id as SortColumn}
                label={d.label}
                title={d.formula ? definitionHover(d) : undefined}
                view={view}
                onSort={onSort}
              />
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={row.id}
              data-testid={`run-row-${row.id}`}
              className={selected.has(row.id) ? "selected" : undefined}
            >
              <td className="select">
                <input
                  type="checkbox"
                  data-testid={`select-run-${row.id}`}
                  aria-label={`Select run ${row.id}`}
                  checked={selected.has(row.id)}
                  onChange={() => onToggle(row.id)}
                />
              </td>
              <td className="num">
                <Link to={`/runs/${row.id}`}>{row.id}</Link>
              </td>
              <td data-testid={`run-project-${row.id}`}>{row.project}</td>
              <td className="name-cell">
                <Link to={`/runs/${row.id}`} className="run-name">
                  {row.name || <span className="muted">unnamed</span>}
                </Link>
                {row.tags.length > 0 && (
                  <span className="tags">
                    {row.tags.map((t) => (
                      <span key={t} className="tag">
                        {t}
                      </span>
                    ))}
                  </span>
                )}
              </td>
              <td data-testid={`run-status-${row.id}`}>
                <StatusBadge status={row.status} />
              </td>
              <TrainedCells row={row} />
              <td className="num">{row.seed ?? MISSING}</td>
              <td className="num" title={new Date(row.createdAt).toLocaleString()}>
                {formatWhen(row.createdAt, now)}
              </td>
              <td className="num">
                {row.step !== null ? (
                  <div className="duration-progress">
                    <span>{formatDuration(row.durationS)}</span>
                    <span className="muted small" data-testid={`run-step-${row.id}`}>
                      step {formatCount(row.step)}
                    </span>
                  </div>
                ) : row.progress !== null ? (
                  <div className="duration-progress">
                    <span>{formatDuration(row.durationS)}</span>
                    <ProgressBar
                      fraction={row.progress}
                      label={`${Math.round(row.progress * 100)}% done`}
                    />
                  </div>
                ) : (
                  formatDuration(row.durationS)
                )}
              </td>
              {columns.map((d) => (
                <td key={d.id} className="num" data-testid={`run-${d.id}-${row.id}`}>
                  {formatPercent(row.numbers[d.id])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
