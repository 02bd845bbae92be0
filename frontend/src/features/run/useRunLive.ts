// Keeps a queued or running run's page current: ONE EventSource on /runs/<id>/live, whose `run`
// events replace the cached run (status, progress) and, at most every 2 s, refresh the series,
// summary, gaps and events. Where the stream is unavailable it falls back to polling runs-get
// every 2 s. Everything stops once the run reaches a terminal status.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap, type RunRead, type Schemas } from "../../api/client";
import { isActiveStatus } from "../../components/StatusBadge";
import { runKeys } from "./queries";
import { throttle } from "./throttle";

/** The data of each `run` event of the live stream. */
export type LiveRunEvent = Schemas["LiveRunEvent"];

export type LiveMode = "stream" | "polling" | "off";

export const REFRESH_INTERVAL_MS = 2000;
export const POLL_INTERVAL_MS = 2000;

function refreshDerived(client: QueryClient, id: number): void {
  const keys = [runKeys.metrics(id), runKeys.summary(id), runKeys.gaps(id), runKeys.events(id)];
  for (const queryKey of keys) void client.invalidateQueries({ queryKey });
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

export function useRunLive(id: number, status: RunRead["status"] | undefined): LiveMode {
  const client = useQueryClient();
  const active = status !== undefined && isActiveStatus(status);
  const [mode, setMode] = useState<LiveMode>("off");

  useEffect(() => {
    if (!active) {
      setMode("off");
      return;
    }
    const refresh = throttle(() => refreshDerived(client, id), REFRESH_INTERVAL_MS);
    let stream: EventSource | null = null;
    let poller: ReturnType<typeof setInterval> | null = null;
    let stopped = false;

    const stop = () => {
      stopped = true;
      stream?.close();
      if (poller !== null) clearInterval(poller);
      refresh.cancel();
    };

    const accept = (run: RunRead, changed: boolean) => {
      if (stopped) return;
      client.setQueryData(runKeys.run(id), run);
      if (!isActiveStatus(run.status)) {
        // The final state: fetch everything once, now, and let go of the stream.
        stop();
        refreshDerived(client, id);
        return;
      }
      if (changed) refresh();
    };

    const poll = () => {
      setMode("polling");
      poller = setInterval(async () => {
        try {
          const run = unwrap(
            await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } }),
          );
          accept(run, runChanged(client.getQueryData<RunRead>(runKeys.run(id)), run));
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
        accept(data.run, true);
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
