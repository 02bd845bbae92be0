// The run page's server state: one query per endpoint, keyed under ["run", id] so that the live
// updates can refresh them together (see useRunLive).
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api, ApiError, unwrap } from "../../api/client";
import { seriesQuery, type StepRange } from "../../charts/budget";

export const runKeys = {
  all: (id: number) => ["run", id] as const,
  run: (id: number) => ["run", id, "run"] as const,
  events: (id: number) => ["run", id, "events"] as const,
  summary: (id: number) => ["run", id, "summary"] as const,
  gaps: (id: number) => ["run", id, "gaps"] as const,
  metrics: (id: number) => ["run", id, "metrics"] as const,
};

export function useRun(id: number) {
  return useQuery({
    queryKey: runKeys.run(id),
    // An unknown run stays unknown: say so at once instead of retrying.
    retry: (failures, error) =>
      !(error instanceof ApiError && error.status === 404) && failures < 1,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })),
  });
}

export function useRunEvents(id: number, enabled: boolean) {
  return useQuery({
    queryKey: runKeys.events(id),
    enabled,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/events", { params: { path: { run_id: id } } })),
  });
}

export function useRunSummary(id: number, enabled: boolean) {
  return useQuery({
    queryKey: runKeys.summary(id),
    enabled,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/summary", { params: { path: { run_id: id } } })),
  });
}

export function useRunGaps(id: number, enabled: boolean) {
  return useQuery({
    queryKey: runKeys.gaps(id),
    enabled,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/gaps", { params: { path: { run_id: id } } })),
  });
}

/**
 * Every series the page draws, in ONE request: all keys, each cut to `points` for the range
 * (the whole run, or a zoom). The previous answer stays on screen while a zoom loads.
 */
export function useRunSeries(
  id: number,
  keys: readonly string[],
  range: StepRange | null,
  points: number,
  enabled: boolean,
) {
  return useQuery({
    queryKey: [...runKeys.metrics(id), keys, range, points],
    enabled: enabled && keys.length > 0,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/runs/{run_id}/metrics", {
          params: {
            path: { run_id: id },
            query: { keys: keys.join(","), ...seriesQuery(range, points) },
          },
        }),
      ),
  });
}
