// The compare page's live state: what ONE stream of all its runs (GET /live?runs=1,2,3) has said
// about each run, folded in event by event, and what each event asks the page to fetch again.
import type { RunRead, Schemas } from "../../api/client";
import { isActiveStatus } from "../../components/StatusBadge";

/** The data of each `run` event of a live stream. */
export type LiveRunEvent = Schemas["LiveRunEvent"];

/** What the stream said last about each run. */
export type LiveRuns = ReadonlyMap<number, LiveRunEvent>;

/** Where ONE stream of these runs is read: every compared run, in the page's order. */
export function liveStreamUrl(runIds: readonly number[]): string {
  return `/api/v1/live?runs=${runIds.join(",")}`;
}

/**
 * Folds one event in. `refresh`: the run has new points, boundary events or a new status (the
 * curves and summaries must be fetched again); a step alone (progress bar) needs nothing.
 */
export function applyLiveEvent(
  live: LiveRuns,
  event: LiveRunEvent,
): { live: LiveRuns; refresh: boolean } {
  const previous = live.get(event.run.id);
  const refresh =
    previous === undefined ||
    previous.points !== event.points ||
    previous.events !== event.events ||
    previous.run.status !== event.run.status;
  const next = new Map(live);
  next.set(event.run.id, event);
  return { live: next, refresh };
}

/**
 * The compared runs as they are now: the stream's latest state of each, unless the fetched run
 * has ended (a run that ended is fetched once more afterwards, with its stored numbers).
 */
export function liveRuns(runs: readonly RunRead[], live: LiveRuns): RunRead[] {
  return runs.map((run) => {
    const streamed = live.get(run.id)?.run;
    return streamed === undefined || !isActiveStatus(run.status) ? run : streamed;
  });
}

/** Whether any run still changes (queued or running): the page then follows them live. */
export function anyActive(runs: readonly RunRead[]): boolean {
  return runs.some((run) => isActiveStatus(run.status));
}

/** Whether the stream has said that every one of `runIds` has ended. */
export function allEnded(runIds: readonly number[], live: LiveRuns): boolean {
  return runIds.every((id) => {
    const event = live.get(id);
    return event !== undefined && !isActiveStatus(event.run.status);
  });
}

/** "120 / 500 it" for a run that has made progress or is running; "" otherwise. */
export function progressText(run: RunRead): string {
  if (run.progress.step === 0 && run.status !== "running") return "";
  const total = run.progress.total;
  return `${run.progress.step.toLocaleString("en-US")} / ${
    total == null ? "?" : total.toLocaleString("en-US")
  } it`;
}

/** The progress bar's fraction: the server's, else 1 for a run that succeeded. */
export function progressFraction(run: RunRead): number {
  return run.progress.fraction ?? (run.status === "succeeded" ? 1 : 0);
}
