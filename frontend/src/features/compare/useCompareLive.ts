// Keeps the compare page current while any of its runs is queued or running: ONE EventSource on
// /live?runs=<all compared runs>, whose `run` events update each run's status and progress and,
// at most every 2 s, fetch the comparison (curves and summaries) again when points arrived.
// Where the stream is unavailable it polls the runs instead. Everything stops once every run has
// ended, after one last fetch.
import { useEffect, useMemo, useRef, useState } from "react";

import { api, unwrap, type RunRead } from "../../api/client";
import { throttle } from "../run/throttle";
import { type LiveMode, POLL_INTERVAL_MS, REFRESH_INTERVAL_MS, runChanged } from "../run/useRunLive";
import {
  allEnded,
  anyActive,
  applyLiveEvent,
  type LiveRunEvent,
  type LiveRuns,
  liveRuns,
  liveStreamUrl,
} from "./compareLive";

interface Callbacks {
  /** New points, boundaries or a new status: fetch the curves and summaries again. */
  readonly refresh: () => void;
  /** Every run has ended: fetch everything once more (the runs too, with their numbers). */
  readonly ended: () => void;
}

export function useCompareLive(
  fetched: readonly RunRead[] | undefined,
  callbacks: Callbacks,
): { runs: RunRead[] | undefined; mode: LiveMode } {
  const [live, setLive] = useState<LiveRuns>(() => new Map());
  const [mode, setMode] = useState<LiveMode>("off");
  const runs = useMemo(() => fetched && liveRuns(fetched, live), [fetched, live]);
  const active = runs !== undefined && anyActive(runs);
  const idsKey = (fetched ?? []).map((run) => run.id).join(",");
  // The effect reads the latest callbacks and state without restarting the stream for them.
  const latest = useRef({ callbacks, live });
  latest.current = { callbacks, live };

  useEffect(() => {
    if (!active || idsKey === "") {
      setMode("off");
      return;
    }
    const ids = idsKey.split(",").map(Number);
    let state = latest.current.live;
    const refresh = throttle(() => latest.current.callbacks.refresh(), REFRESH_INTERVAL_MS);
    let stream: EventSource | null = null;
    let poller: ReturnType<typeof setInterval> | null = null;
    let stopped = false;

    const stop = () => {
      stopped = true;
      stream?.close();
      if (poller !== null) clearInterval(poller);
      refresh.cancel();
    };

    const accept = (event: LiveRunEvent, changed?: boolean) => {
      if (stopped) return;
      const next = applyLiveEvent(state, event);
      state = next.live;
      setLive(state);
      if (allEnded(ids, state)) {
        // The final state of every run: fetch everything once, now, and let go of the stream.
        stop();
        latest.current.callbacks.ended();
      } else if (changed ?? next.refresh) {
        refresh();
      }
    };

    const poll = () => {
      setMode("polling");
      poller = setInterval(() => {
        for (const id of ids) {
          const before = state.get(id);
          if (before && !anyActive([before.run])) continue;
          api
            .GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })
            .then((answer) => {
              const run = unwrap(answer);
              const event = { run, points: before?.points ?? 0, events: before?.events ?? 0 };
              accept(event, runChanged(state.get(id)?.run, run));
            })
            .catch(() => {
              // A failed poll is retried at the next tick.
            });
        }
      }, POLL_INTERVAL_MS);
    };

    if (typeof EventSource === "undefined") {
      poll();
    } else {
      stream = new EventSource(liveStreamUrl(ids));
      setMode("stream");
      stream.addEventListener("run", (event) => {
        accept(JSON.parse((event as MessageEvent<string>).data) as LiveRunEvent);
      });
      stream.onerror = () => {
        // CONNECTING: the browser retries by itself. CLOSED: refused (over the stream cap, or
        // an older API): poll instead.
        if (stream?.readyState === EventSource.CLOSED && !stopped) {
          stream.close();
          stream = null;
          poll();
        }
      };
    }
    return stop;
  }, [active, idsKey]);

  return { runs, mode };
}
