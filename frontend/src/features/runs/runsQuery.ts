// The runs list's view state lives in the URL query string, so a filtered, sorted page is a link
// one can share. These functions translate between the URL and the runs-list API's query.
import type { paths } from "../../api/schema";
import { PROJECT_NAME } from "../../auth/roles";
import { type ConfigFilter, configFiltersOf, configParams } from "./configSearch";

export type RunsListQuery = NonNullable<paths["/api/v1/runs"]["get"]["parameters"]["query"]>;
export type RunStatusFilter = NonNullable<RunsListQuery["status"]>;
export type RunKindFilter = NonNullable<RunsListQuery["kind"]>;
/** The runs-list API query with its config search: any number of `config.<key>=<value>`. */
export type RunsApiQuery = RunsListQuery & { [param: `config.${string}`]: string };
export type Sort = NonNullable<RunsListQuery["sort"]>;
/** A sortable column: the sort value without its direction. */
export type SortColumn = Exclude<Sort, `-${string}`>;

export const RUN_STATUSES: readonly RunStatusFilter[] = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "crashed",
];
/** Engine runs (executed by a worker from a spec) and loop runs (the user's own loop). */
export const RUN_KINDS: readonly RunKindFilter[] = ["engine", "loop"];
const SORTS: readonly Sort[] = [
  "created_at",
  "-created_at",
  "acc",
  "-acc",
  "min_acc",
  "-min_acc",
  "wc_acc",
  "-wc_acc",
  "bwt",
  "-bwt",
  "forgetting",
  "-forgetting",
  "gap",
  "-gap",
  "gap_depth",
  "-gap_depth",
  "gap_forgetting",
  "-gap_forgetting",
  "gap_recovered",
  "-gap_recovered",
  "duration",
  "-duration",
];
/** First key of every runs-list query: invalidate it after submitting or cancelling runs. */
export const RUNS_QUERY_KEY = "runs";
export const DEFAULT_SORT: Sort = "-created_at";
export const PAGE_SIZE = 50;

export interface RunsView {
  project: string | null;
  status: RunStatusFilter | null;
  benchmark: string | null;
  strategy: string | null;
  tag: string | null;
  kind: RunKindFilter | null;
  /** The config search: `config.<key>=<value>` parameters, in the URL as in the API query. */
  config: readonly ConfigFilter[];
  sort: Sort;
  offset: number;
}

function projectName(value: string | null): string | null {
  const name = nonEmpty(value);
  return name && PROJECT_NAME.test(name) ? name : null;
}

function nonEmpty(value: string | null): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

/** The view a URL query string asks for; unknown or malformed values fall back to defaults. */
export function viewFromSearch(search: URLSearchParams): RunsView {
  const status = search.get("status");
  const sort = search.get("sort");
  const offset = Number(search.get("offset") ?? "0");
  return {
    project: projectName(search.get("project")),
    status: RUN_STATUSES.find((s) => s === status) ?? null,
    benchmark: nonEmpty(search.get("benchmark")),
    strategy: nonEmpty(search.get("strategy")),
    tag: nonEmpty(search.get("tag")),
    kind: RUN_KINDS.find((k) => k === search.get("kind")) ?? null,
    config: configFiltersOf(search),
    sort: SORTS.find((s) => s === sort) ?? DEFAULT_SORT,
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

/** The URL query string of a view; defaults are left out so plain /runs stays plain. */
export function searchFromView(view: RunsView): URLSearchParams {
  const search = new URLSearchParams();
  if (view.project) search.set("project", view.project);
  if (view.status) search.set("status", view.status);
  if (view.benchmark) search.set("benchmark", view.benchmark);
  if (view.strategy) search.set("strategy", view.strategy);
  if (view.tag) search.set("tag", view.tag);
  if (view.kind) search.set("kind", view.kind);
  for (const [name, value] of configParams(view.config)) search.append(name, value);
  if (view.sort !== DEFAULT_SORT) search.set("sort", view.sort);
  if (view.offset > 0) search.set("offset", String(view.offset));
  return search;
}

/** The runs-list API query of a view. */
export function listQuery(view: RunsView): RunsApiQuery {
  const query: RunsApiQuery = { sort: view.sort, limit: PAGE_SIZE, offset: view.offset };
  if (view.project) query.project = view.project;
  if (view.status) query.status = view.status;
  if (view.benchmark) query.benchmark = view.benchmark;
  if (view.strategy) query.strategy = view.strategy;
  if (view.tag) query.tag = view.tag;
  if (view.kind) query.kind = view.kind;
  for (const [name, value] of configParams(view.config)) query[name] = value;
  return query;
}

/** Whether any filter narrows the list (an empty filtered list is not an empty tracker). */
export function isFiltered(view: RunsView): boolean {
  return Boolean(
    view.project ||
      view.status ||
      view.benchmark ||
      view.strategy ||
      view.tag ||
      view.kind ||
      view.config.length > 0,
  );
}

/** A filter change: back to the first page, since the old offset may point past the end. */
export function withFilter(
  view: RunsView,
  key: "project" | "status" | "benchmark" | "strategy" | "tag" | "kind",
  value: string | null,
): RunsView {
  const cleaned = nonEmpty(value);
  if (key === "project") return { ...view, project: projectName(cleaned), offset: 0 };
  if (key === "status") {
    return { ...view, status: RUN_STATUSES.find((s) => s === cleaned) ?? null, offset: 0 };
  }
  if (key === "kind") {
    return { ...view, kind: RUN_KINDS.find((k) => k === cleaned) ?? null, offset: 0 };
  }
  return { ...view, [key]: cleaned, offset: 0 };
}

/** A new config search (the filters of the box's text): back to the first page. */
export function withConfig(view: RunsView, config: readonly ConfigFilter[]): RunsView {
  return { ...view, config, offset: 0 };
}

export function sortDirection(sort: Sort, column: SortColumn): "asc" | "desc" | null {
  if (sort === column) return "asc";
  if (sort === `-${column}`) return "desc";
  return null;
}

/**
 * The sort after clicking a column header: a new column starts descending (best accuracy,
 * deepest gap, longest run first); clicking it again flips the direction. Back to page one.
 */
export function toggleSort(view: RunsView, column: SortColumn): RunsView {
  const sort: Sort = view.sort === `-${column}` ? column : (`-${column}` as Sort);
  return { ...view, sort, offset: 0 };
}

/** "1–50 of 123" and whether there are pages before and after. */
export function pageInfo(offset: number, shown: number, total: number) {
  return {
    label: total === 0 ? "0 runs" : `${offset + 1}–${offset + shown} of ${total}`,
    previous: offset > 0 ? Math.max(0, offset - PAGE_SIZE) : null,
    next: offset + shown < total ? offset + PAGE_SIZE : null,
  };
}

/**
 * Why a page of the list is empty: "no-match" when no run matches the filters at all,
 * "past-end" when runs match but the page lies beyond them (an old link's offset, say); null
 * when the page has runs.
 */
export function emptyPage(shown: number, total: number): "no-match" | "past-end" | null {
  if (shown > 0) return null;
  return total > 0 ? "past-end" : "no-match";
}
