// What a live run page asks for, and how an answer joins what it holds: the series and the events
// grow at their end while a run trains, so after the first read the page fetches only points
// after the last step it holds of each key, and events from the last step it holds.
//
// Each key has its own last step: the worker reports training losses in batches that lag the
// evaluations, and a task that has not started yet has only its step-0 point. One `start` for
// every key would refetch the dormant keys' history, or skip the lagging keys' newest points, so
// keys are grouped by their own next step (a handful of groups: one request each).
import type { Schemas } from "../../api/client";
import type { StepRange } from "../../charts/budget";

type MetricsRead = Schemas["MetricsRead"];
type SeriesRead = Schemas["SeriesRead"];
type EventsRead = Schemas["EventsRead"];
type EventRead = Schemas["EventRead"];

/** The series a run page holds: every answer for its keys joined, and whether it is final. */
export interface HeldSeries extends MetricsRead {
  /** Read after the run had ended: nothing more will come. */
  readonly final: boolean;
}

/** The events a run page holds. */
export interface HeldEvents extends EventsRead {
  readonly final: boolean;
}

/** One request for the points after `start` of some keys (in [start, end) when zoomed). */
export interface TailRead {
  readonly keys: readonly string[];
  readonly start: number;
  readonly end?: number;
}

/** What to fetch next: everything, only what grew (one read per group of keys), or nothing. */
export type SeriesPlan =
  | { readonly kind: "full" }
  | { readonly kind: "tail"; readonly reads: readonly TailRead[] }
  | { readonly kind: "none" };

/**
 * Once a key holds this many times the points budget (a long run followed for long), one full
 * read at the page's resolution replaces the pieces, so memory and drawing stay bounded.
 */
export const COMPACT_FACTOR = 2;

/** Requests per refresh at most: further groups join the nearest one (a few points twice). */
export const MAX_TAIL_READS = 6;

/** The last step held of `key`, or null when it has no point. */
export function lastStepOf(read: MetricsRead | undefined, key: string): number | null {
  const series = read?.series.find((s) => s.key === key);
  return series?.steps.at(-1) ?? null;
}

/** The last step held of any key (the run's progress as its stored points tell it), or null. */
export function lastStoredStep(read: MetricsRead | undefined): number | null {
  let last: number | null = null;
  for (const series of read?.series ?? []) {
    const step = series.steps.at(-1);
    if (step !== undefined && (last === null || step > last)) last = step;
  }
  return last;
}

/**
 * The next read of `keys` for a page holding `held`.
 *
 * Full when nothing is held, when the run has ended since the held answer was read (one last
 * read at the page's resolution, which also catches anything a tail could not), or when the held
 * points outgrew COMPACT_FACTOR × `points`; otherwise the points after each key's last held step.
 */
export function planSeriesRead(
  held: HeldSeries | undefined,
  keys: readonly string[],
  options: { readonly range: StepRange | null; readonly points: number; readonly ended: boolean },
): SeriesPlan {
  if (!held || (options.ended && !held.final) || lastStoredStep(held) === null) {
    return { kind: "full" };
  }
  if (held.series.some((s) => s.steps.length > COMPACT_FACTOR * options.points)) {
    return { kind: "full" };
  }
  const { range } = options;
  const byStart = new Map<number, string[]>();
  for (const key of keys) {
    const last = lastStepOf(held, key);
    const start = Math.max(range?.start ?? 0, last === null ? 0 : last + 1);
    if (range && start >= range.end) continue; // the zoom's window is complete for this key
    byStart.set(start, [...(byStart.get(start) ?? []), key]);
  }
  const groups = [...byStart.entries()]
    .map(([start, group]) => ({ start, keys: group }))
    .sort((a, b) => a.start - b.start);
  while (groups.length > MAX_TAIL_READS) {
    // Join the two groups whose starts are closest; the joined one starts at the earlier.
    let best = 1;
    for (let i = 2; i < groups.length; i++) {
      if (groups[i]!.start - groups[i - 1]!.start < groups[best]!.start - groups[best - 1]!.start) {
        best = i;
      }
    }
    const [later] = groups.splice(best, 1);
    groups[best - 1] = { start: groups[best - 1]!.start, keys: [...groups[best - 1]!.keys, ...later!.keys] };
  }
  if (groups.length === 0) return { kind: "none" };
  return {
    kind: "tail",
    reads: groups.map((g) => (range ? { ...g, end: range.end } : g)),
  };
}

/**
 * `held` with the points of `answers` after each key's last held step appended (a step is
 * stored once, so a point at or before it is one the page has). Counts add up; the result is
 * downsampled if any part was.
 */
export function mergeSeries(
  held: MetricsRead,
  answers: readonly MetricsRead[],
  final: boolean,
): HeldSeries {
  const byKey = new Map<string, SeriesRead>(held.series.map((s) => [s.key, s]));
  const inRange: Record<string, number> = { ...held.points_in_range };
  let downsampled = held.downsampled;
  for (const answer of answers) {
    downsampled ||= answer.downsampled;
    for (const tail of answer.series) {
      const old = byKey.get(tail.key);
      const last = old?.steps.at(-1) ?? Number.NEGATIVE_INFINITY;
      let from = 0;
      while (from < tail.steps.length && tail.steps[from]! <= last) from++;
      const stored = answer.points_in_range?.[tail.key] ?? tail.steps.length;
      inRange[tail.key] =
        (inRange[tail.key] ?? old?.steps.length ?? 0) + Math.max(0, stored - from);
      if (from === tail.steps.length) continue;
      byKey.set(tail.key, {
        key: tail.key,
        steps: [...(old?.steps ?? []), ...tail.steps.slice(from)],
        values: [...(old?.values ?? []), ...tail.values.slice(from)],
      });
    }
  }
  return {
    run_id: held.run_id,
    series: [...byKey.values()],
    downsampled,
    points_in_range: inRange,
    next_start: held.next_start ?? {},
    final,
  };
}

/** The first step to ask events from (the last one held: several events may share a step), or
 * null for a full read. */
export function eventsStart(held: HeldEvents | undefined, ended: boolean): number | null {
  if (!held || (ended && !held.final)) return null;
  return held.events.at(-1)?.step ?? null;
}

/** `held` and the events of `fresh` it lacks (an event is one per kind and step), by step. */
export function mergeEvents(held: EventsRead, fresh: EventsRead, final: boolean): HeldEvents {
  const seen = new Set(held.events.map(eventId));
  const added = fresh.events.filter((e) => !seen.has(eventId(e)));
  const events = [...held.events, ...added];
  // A stable sort: events of one step keep the server's order.
  events.sort((a, b) => a.step - b.step);
  return { run_id: held.run_id, events, final };
}

function eventId(event: EventRead): string {
  return `${event.kind}@${event.step}`;
}

/** How many tasks have ended (task_end events), for refreshing the summary when one does. */
export function tasksEnded(events: readonly EventRead[]): number {
  return events.filter((e) => e.kind === "task_end").length;
}
