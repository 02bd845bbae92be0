// The run page's server state: one query per endpoint, keyed under ["run", id] so that the live
// updates can refresh them (see useRunLive). The series and the events, which grow while a run
// trains, are refreshed by fetching only what the page lacks (see liveSeries.ts).
import { keepPreviousData, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";

import { api, ApiError, unwrap, type RunRead } from "../../api/client";
import { seriesQuery, type StepRange } from "../../charts/budget";
import { isActiveStatus } from "../../components/StatusBadge";
import {
  eventsStart,
  mergeEvents,
  mergeSeries,
  planSeriesRead,
  type HeldEvents,
  type HeldSeries,
} from "./liveSeries";

export const runKeys = {
  all: (id: number) => ["run", id] as const,
  run: (id: number) => ["run", id, "run"] as const,
  events: (id: number) => ["run", id, "events"] as const,
  summary: (id: number) => ["run", id, "summary"] as const,
  gaps: (id: number) => ["run", id, "gaps"] as const,
  /** Under `gaps`: refreshed whenever the gap table is (a task ended). */
  aligned: (id: number) => ["run", id, "gaps", "aligned"] as const,
  metrics: (id: number) => ["run", id, "metrics"] as const,
  /** Under `gaps`: costs are logged at task ends, when the gap table is refreshed. */
  cost: (id: number) => ["run", id, "gaps", "cost"] as const,
  metricKeys: (id: number) => ["run", id, "metric-keys"] as const,
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

/** Whether the cached run has ended (its status known and not queued or running). */
function runEnded(client: QueryClient, id: number): boolean {
  const run = client.getQueryData<RunRead>(runKeys.run(id));
  return run !== undefined && !isActiveStatus(run.status);
}

/** The run's events; a refresh asks only for those from the last step held on. */
export function useRunEvents(id: number, enabled: boolean) {
  const client = useQueryClient();
  return useQuery({
    queryKey: runKeys.events(id),
    enabled,
    queryFn: async ({ queryKey }): Promise<HeldEvents> => {
      const held = client.getQueryData<HeldEvents>(queryKey);
      const ended = runEnded(client, id);
      const start = eventsStart(held, ended);
      const answer = unwrap(
        await api.GET("/api/v1/runs/{run_id}/events", {
          params: { path: { run_id: id }, query: start === null ? {} : { start } },
        }),
      );
      return start === null || !held
        ? { ...answer, final: ended }
        : mergeEvents(held, answer, ended);
    },
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
 * Every series the page draws: first in ONE request, all keys, each cut to `points` for the
 * range (the whole run, or a zoom); a refresh asks only for the points after each key's last
 * held step (see `planSeriesRead`). The previous answer stays on screen while a zoom loads.
 */
export function useRunSeries(
  id: number,
  keys: readonly string[],
  range: StepRange | null,
  points: number,
  enabled: boolean,
) {
  const client = useQueryClient();
  return useQuery({
    queryKey: [...runKeys.metrics(id), keys, range, points],
    enabled: enabled && keys.length > 0,
    placeholderData: keepPreviousData,
    queryFn: async ({ queryKey }): Promise<HeldSeries> => {
      const held = client.getQueryData<HeldSeries>(queryKey);
      const ended = runEnded(client, id);
      const read = (query: { keys: string; start?: number; end?: number; points: number }) =>
        api
          .GET("/api/v1/runs/{run_id}/metrics", { params: { path: { run_id: id }, query } })
          .then(unwrap);
      const plan = planSeriesRead(held, keys, { range, points, ended });
      if (plan.kind === "none") return held!;
      if (plan.kind === "full" || !held) {
        const answer = await read({ keys: keys.join(","), ...seriesQuery(range, points) });
        return { ...answer, final: ended };
      }
      const answers = await Promise.all(
        plan.reads.map((tail) =>
          read({
            keys: tail.keys.join(","),
            start: tail.start,
            ...(tail.end === undefined ? {} : { end: tail.end }),
            points,
          }),
        ),
      );
      return mergeSeries(held, answers, ended);
    },
  });
}

/** The boundary-aligned view (mean change since each boundary over the eligible rows). */
export function useRunAligned(id: number, enabled: boolean) {
  return useQuery({
    queryKey: runKeys.aligned(id),
    enabled,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/aligned", { params: { path: { run_id: id } } })),
  });
}

/** Every metric key the run logged (the Plasticity panel draws the diag/ ones it finds). */
export function useRunMetricKeys(id: number, enabled: boolean, active: boolean) {
  return useQuery({
    queryKey: runKeys.metricKeys(id),
    enabled,
    // New keys appear with the first evaluation that logs them.
    refetchInterval: active ? 10_000 : false,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/metrics/keys", { params: { path: { run_id: id } } })),
  });
}

/** The run's costs per task and in total, with the ratios to its joint baseline. */
export function useRunCost(id: number, enabled: boolean) {
  return useQuery({
    queryKey: runKeys.cost(id),
    enabled,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}/cost", { params: { path: { run_id: id } } })),
  });
}
