// How many points to ask the server for, and which step range a zoom asks for.
//
// The server reduces each key to at most `points` with M4 (first, last, min and max of each of
// points/4 buckets), so two points per pixel column keeps every dip visible while a 100,000-
// iteration run still arrives as a few thousand points per key.

/** The API's bounds on `points` (metrics-read and runs-compare). */
export const MIN_POINTS = 4;
export const MAX_POINTS = 100_000;
export const POINTS_PER_PIXEL = 2;
/**
 * Widths are rounded up to this many pixels before sizing the request, so that resizing the
 * window by a few pixels does not refetch every series.
 */
export const WIDTH_QUANTUM = 128;

/** The `points` budget for a chart `widthPx` CSS pixels wide. */
export function pointsForWidth(widthPx: number): number {
  if (!(widthPx > 0)) return MIN_POINTS;
  const width = Math.ceil(widthPx / WIDTH_QUANTUM) * WIDTH_QUANTUM;
  return Math.min(MAX_POINTS, Math.max(MIN_POINTS, width * POINTS_PER_PIXEL));
}

/** A half-open step range [start, end), as the API's `start` and `end` mean it. */
export interface StepRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The step range a drag selection between x values `from` and `to` covers: whole steps, the
 * right edge included (so `end` is one past it), or null for a selection under two steps wide.
 */
export function rangeFromSelection(from: number, to: number): StepRange | null {
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  const start = Math.max(0, Math.floor(Math.min(from, to)));
  const end = Math.ceil(Math.max(from, to)) + 1;
  return end - start >= 2 ? { start, end } : null;
}

/** The metrics-read query for the whole run (no range) or a zoomed range, at `points`. */
export function seriesQuery(
  range: StepRange | null,
  points: number,
): { start?: number; end?: number; points: number } {
  return range ? { start: range.start, end: range.end, points } : { points };
}

/** A zoom range kept in the URL as "start-end"; anything else is no zoom. */
export function parseRange(text: string | null): StepRange | null {
  const match = /^(\d+)-(\d+)$/.exec(text ?? "");
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return end - start >= 2 ? { start, end } : null;
}

export function formatRange(range: StepRange): string {
  return `${range.start}-${range.end}`;
}

/** Width in steps of one M4 bucket when `total` points in [first, last] were cut to `points`. */
export function bucketWidth(total: number, points: number, first: number, last: number): number {
  return total <= points ? 0 : m4BucketWidth(points, first, last);
}

/** Width in steps of one of the points/4 M4 buckets spanning [first, last]. */
export function m4BucketWidth(points: number, first: number, last: number): number {
  if (points < MIN_POINTS) return 0;
  return (last - first + 1) / Math.floor(points / 4);
}
