// The sweep pages' server state. The sweep itself is polled while some run of it has not ended;
// its results and aligned view are keyed by how many runs have ended, so they are fetched again
// only when a run ends (a run's headline numbers are written once, when it ends).
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api, ApiError, unwrap } from "../../api/client";
import { progressView } from "./sweepModel";
import type { SweepRead } from "./types";

/** How often an unfinished sweep is asked for again. */
export const SWEEP_POLL_MS = 3_000;
export const SWEEPS_PAGE_SIZE = 50;

export const sweepKeys = {
  list: (offset: number) => ["sweeps", "list", offset] as const,
  sweep: (id: number) => ["sweep", id, "sweep"] as const,
  results: (id: number, version: string) => ["sweep", id, "results", version] as const,
  aligned: (id: number, version: string) => ["sweep", id, "aligned", version] as const,
};

const notFoundIsFinal = (failures: number, error: Error) =>
  !(error instanceof ApiError && error.status === 404) && failures < 1;

export function useSweeps(offset: number) {
  return useQuery({
    queryKey: sweepKeys.list(offset),
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/sweeps", {
          params: { query: { limit: SWEEPS_PAGE_SIZE, offset } },
        }),
      ),
    refetchInterval: (q) =>
      q.state.data?.items.some((s) => progressView(s.progress).active) ? SWEEP_POLL_MS : false,
  });
}

export function useSweep(id: number) {
  return useQuery({
    queryKey: sweepKeys.sweep(id),
    retry: notFoundIsFinal,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/sweeps/{sweep_id}", { params: { path: { sweep_id: id } } })),
    // Live while a run is queued or running; a sweep whose runs have all ended stops asking.
    refetchInterval: (q) =>
      q.state.data && progressView(q.state.data.progress).active ? SWEEP_POLL_MS : false,
  });
}

/** What the results depend on: the runs that have ended (and how many runs there are). */
export function sweepVersion(sweep: SweepRead | undefined): string {
  if (!sweep) return "";
  const { ended, total } = progressView(sweep.progress);
  return `${ended}/${total}`;
}

export function useSweepResults(id: number, version: string) {
  return useQuery({
    queryKey: sweepKeys.results(id, version),
    enabled: version !== "",
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/sweeps/{sweep_id}/results", {
          params: { path: { sweep_id: id } },
        }),
      ),
  });
}

export function useSweepAligned(id: number, version: string) {
  return useQuery({
    queryKey: sweepKeys.aligned(id, version),
    enabled: version !== "",
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/sweeps/{sweep_id}/aligned", {
          params: { path: { sweep_id: id } },
        }),
      ),
  });
}

