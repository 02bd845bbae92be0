// The compare page's server state: the runs (for names, strategies and groups), ONE runs-compare
// request for every summary and series, and the first run's events for the task boundaries.
import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";

import { api, unwrap, type RunRead } from "../../api/client";
import { seriesQuery, type StepRange } from "../../charts/budget";
import type { Selection } from "./compareModel";

/** Most runs one comparison holds (the API's MAX_RUNS). */
export const MAX_COMPARED_RUNS = 50;

/** The selected runs, in URL order (by id) or group by group (oldest first within each). */
export function useSelectedRuns(selection: Selection): {
  runs: RunRead[] | undefined;
  error: Error | null;
} {
  const byId = useQueries({
    queries: (selection.kind === "runs" ? selection.ids : []).map((id) => ({
      queryKey: ["run", id, "run"],
      queryFn: async () =>
        unwrap(await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })),
    })),
  });
  const byGroup = useQueries({
    queries: (selection.kind === "groups" ? selection.groups : []).map((group) => ({
      queryKey: ["runs", "group", group],
      queryFn: async () =>
        unwrap(
          await api.GET("/api/v1/runs", {
            params: { query: { group, limit: MAX_COMPARED_RUNS, sort: "created_at" } },
          }),
        ),
    })),
  });
  const results = selection.kind === "runs" ? byId : byGroup;
  const error = results.find((r) => r.error)?.error ?? null;
  if (results.length === 0 || results.some((r) => r.data === undefined)) {
    return { runs: undefined, error };
  }
  const runs =
    selection.kind === "runs"
      ? byId.map((r) => r.data!)
      : byGroup.flatMap((r) => r.data!.items);
  return { runs, error };
}

export function useComparison(
  runIds: readonly number[],
  keys: readonly string[],
  points: number,
  range: StepRange | null,
) {
  return useQuery({
    queryKey: ["compare", runIds, keys, points, range],
    enabled: runIds.length > 0 && points > 4,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/compare", {
          params: {
            query: {
              runs: runIds.join(","),
              // No keys yet (loop runs plan no task count: the summaries tell it): summaries only.
              ...(keys.length > 0 ? { keys: keys.join(",") } : {}),
              ...seriesQuery(range, points),
            },
          },
        }),
      ),
  });
}

export function useEventsOf(runId: number | undefined) {
  return useQuery({
    queryKey: ["run", runId, "events"],
    enabled: runId !== undefined,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/runs/{run_id}/events", { params: { path: { run_id: runId! } } }),
      ),
  });
}

/** Recent finished runs to pick from. */
export function useRecentFinishedRuns() {
  return useQuery({
    queryKey: ["runs", "recent-succeeded"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/runs", {
          params: { query: { status: "succeeded", limit: 50, sort: "-created_at" } },
        }),
      ),
  });
}

/** The union of the metric keys the runs logged (the plasticity overlays draw the diag/ ones). */
export function useKeysOf(runIds: readonly number[]) {
  return useQueries({
    queries: runIds.map((id) => ({
      queryKey: ["run", id, "metric-keys"],
      queryFn: async () =>
        unwrap(await api.GET("/api/v1/runs/{run_id}/metrics/keys", { params: { path: { run_id: id } } })),
    })),
    combine: (results) => [...new Set(results.flatMap((r) => r.data?.keys ?? []))].sort(),
  });
}
