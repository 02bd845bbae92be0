// Keeps a queued or running run's page current: ONE EventSource on /runs/<id>/live, whose `run`
// events replace the cached run (status, progress) and say how many accuracy points and task
// boundaries are stored. The page fetches only what grew, at most every 2 s: the series when
// points were added, the events when boundaries were (each asking only for what it lacks, see
// liveSeries.ts); the summary and the gaps when a task ends (useRefreshOnTaskEnd). Where the
// stream is unavailable it falls back to polling runs-get every 2 s. Once the run reaches a
// terminal status, everything is read once more, in full, and the updates stop.
import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";

import { api, unwrap, type RunRead, type Schemas } from "../../api/client";
import { isActiveStatus } from "../../components/StatusBadge";
import { tasksEnded } from "./liveSeries";
import { runKeys } from "./queries";
import { throttle } from "./throttle";

/** The data of each `run` event of the live stream. */
export type LiveRunEvent = Schemas["LiveRunEvent"];

export type LiveMode = "stream" | "polling" | "off";

export const REFRESH_INTERVAL_MS = 2000;
export const POLL_INTERVAL_MS = 2000;

/** What the stream counts: accuracy points and task-boundary events stored. */
export interface LiveCounts {
  readonly points: number;
  readonly events: number;
}

/** Which held queries an update makes out of date. */
export interface Growth {
  readonly series: boolean;
  readonly events: boolean;
}

/**
 * What grew between two updates. With the stream's counts: the series when the points count
 * moved, the events when the boundary count did. Without them (polling), both whenever the run
 * changed (`runChanged`).
 */
export function growth(
  previous: LiveCounts | null,
  next: LiveCounts | null,
  changed: boolean,
): Growth {
  if (next === null) return { series: changed, events: changed };
  return {
    series: previous === null || previous.points !== next.points,
    events: previous === null || previous.events !== next.events,
  };
}

/** What a polled or streamed run changes on the page: anything the charts would show. */
export function runChanged(previous: RunRead | undefined, next: RunRead): boolean {
  return (
    !previous ||
    previous.status !== next.status ||
    previous.progress.step !== next.progress.step ||
    previous.progress.total !== next.progress.total
  );
}

/**
 * Refetches the queries under `queryKey` that hold data (one still loading its first answer gets
 * the latest anyway), without cancelling a fetch in flight: its answer is kept, and what arrives
 * meanwhile is fetched at the next update.
 */
function refetchHeld(client: QueryClient, queryKey: QueryKey): void {
  void client.invalidateQueries(
    { queryKey, predicate: (query) => query.state.data !== undefined },
    { cancelRefetch: false },
  );
}

/** Everything the page shows, read again (the run ended, or was cancelled or retried here). */
export function refreshRunPage(client: QueryClient, id: number): void {
  const keys = [runKeys.metrics(id), runKeys.summary(id), runKeys.gaps(id), runKeys.events(id)];
  for (const queryKey of keys) void client.invalidateQueries({ queryKey });
}

export function useRunLive(id: number, status: RunRead["status"] | undefined): LiveMode {
  const client = useQueryClient();
  const active = status !== undefined && isActiveStatus(status);
  const [mode, setMode] = useState<LiveMode>("off");

  useEffect(() => {
    if (!active) {
      setMode("off");
      return;
    }
    const refreshSeries = throttle(() => refetchHeld(client, runKeys.metrics(id)), REFRESH_INTERVAL_MS);
    const refreshEvents = throttle(() => refetchHeld(client, runKeys.events(id)), REFRESH_INTERVAL_MS);
    let stream: EventSource | null = null;
    let poller: ReturnType<typeof setInterval> | null = null;
    let stopped = false;
    let counts: LiveCounts | null = null;

    const stop = () => {
      stopped = true;
      stream?.close();
      if (poller !== null) clearInterval(poller);
      refreshSeries.cancel();
      refreshEvents.cancel();
    };

    const accept = (run: RunRead, next: LiveCounts | null, changed: boolean) => {
      if (stopped) return;
      client.setQueryData(runKeys.run(id), run);
      if (!isActiveStatus(run.status)) {
        // The final state: read everything once, now, and let go of the stream.
        stop();
        refreshRunPage(client, id);
        return;
      }
      const grew = growth(counts, next, changed);
      counts = next ?? counts;
      if (grew.series) refreshSeries();
      if (grew.events) refreshEvents();
    };

    const poll = () => {
      setMode("polling");
      poller = setInterval(async () => {
        try {
          const run = unwrap(
            await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } }),
          );
          accept(run, null, runChanged(client.getQueryData<RunRead>(runKeys.run(id)), run));
        } catch {
          // A failed poll is retried at the next tick.
        }
      }, POLL_INTERVAL_MS);
    };

    if (typeof EventSource === "undefined") {
      poll();
    } else {
      stream = new EventSource(`/api/v1/runs/${id}/live`);
      setMode("stream");
      stream.addEventListener("run", (event) => {
        const data = JSON.parse((event as MessageEvent<string>).data) as LiveRunEvent;
        accept(data.run, { points: data.points, events: data.events }, true);
      });
      stream.onerror = () => {
        // CONNECTING: the browser retries by itself. CLOSED: no stream here (an older API).
        if (stream?.readyState === EventSource.CLOSED && !stopped) {
          stream.close();
          stream = null;
          poll();
        }
      };
    }
    return stop;
  }, [active, client, id]);

  return mode;
}

/**
 * Reads the summary and the gap table again when a task of an active run ends (a new task_end
 * among the events held): they change at task ends, not with every point. An ended run's last
 * read is `refreshRunPage`'s.
 */
export function useRefreshOnTaskEnd(
  id: number,
  events: Schemas["EventsRead"] | undefined,
  active: boolean,
): void {
  const client = useQueryClient();
  const ended = events ? tasksEnded(events.events) : null;
  const previous = useRef<number | null>(null);
  useEffect(() => {
    if (ended === null) return;
    const before = previous.current;
    previous.current = ended;
    if (active && before !== null && ended > before) {
      for (const queryKey of [runKeys.summary(id), runKeys.gaps(id)]) {
        void client.invalidateQueries({ queryKey });
      }
    }
  }, [active, client, ended, id]);
}
