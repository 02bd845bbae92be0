// Turns the API's columnar series (each key with its own steps) into uPlot's aligned table: one
// shared, sorted x column and one y column per series.
//
// uPlot draws `undefined` as "no sample here, join the neighbours" and `null` as "break the
// line". Series of one run do not share steps (train/loss at every iteration, evaluations every
// `every`, and M4 keeps each key's own minimum and maximum), so a step another series owns is
// `undefined`. A real hole — a task not evaluated between its step-0 point and its own start, or
// a stretch of empty M4 buckets — becomes `null`, so the line does not pretend to cross it.
import type uPlot from "uplot";

/** One key's points, as metrics-read and runs-compare return them. */
export interface StepSeries {
  readonly steps: readonly number[];
  readonly values: readonly (number | null)[];
}

export type YColumn = (number | null | undefined)[];

export interface AlignOptions {
  /** Each value is multiplied by this (100 turns accuracy fractions into percent). */
  readonly scale?: number;
  /** Drop values that are not > 0 (a log scale cannot place them). */
  readonly positiveOnly?: boolean;
  /**
   * Width of one M4 bucket in steps when the series was downsampled (0 or absent when raw): a
   * step gap wider than two buckets, or than twice the series' usual spacing, is a real hole.
   */
  readonly bucketWidths?: readonly number[];
}

/** The typical step between consecutive points: the median spacing (1 for fewer than 2 points). */
export function medianSpacing(steps: readonly number[]): number {
  if (steps.length < 2) return 1;
  const gaps: number[] = [];
  for (let i = 1; i < steps.length; i++) gaps.push(steps[i]! - steps[i - 1]!);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/** A step gap longer than this is a hole in the series, not just a sparse stretch. */
export function breakThreshold(steps: readonly number[], bucketWidth = 0): number {
  return 2 * Math.max(bucketWidth, medianSpacing(steps));
}

/**
 * Aligns several series on the union of their steps.
 *
 * Returns `[x, ...ys]` for uPlot: a missing series (undefined in `series`) is a column of
 * `undefined`; inside a hole of a series (see `breakThreshold`) its column is `null`, and a
 * synthetic step just after the hole's left edge makes sure there is a slot to hold that `null`.
 */
export function alignSeries(
  series: readonly (StepSeries | undefined)[],
  options: AlignOptions = {},
): uPlot.AlignedData {
  const scale = options.scale ?? 1;
  const holes = series.map((s, i) =>
    s ? findHoles(s.steps, breakThreshold(s.steps, options.bucketWidths?.[i] ?? 0)) : [],
  );

  const stepSet = new Set<number>();
  series.forEach((s) => s?.steps.forEach((step) => stepSet.add(step)));
  holes.forEach((list) => list.forEach(([left]) => stepSet.add(left + 1)));
  const xs = [...stepSet].sort((a, b) => a - b);
  const index = new Map(xs.map((step, i) => [step, i]));

  const columns: YColumn[] = series.map((s, i) => {
    const column: YColumn = new Array(xs.length).fill(undefined);
    if (!s) return column;
    for (const [left, right] of holes[i]!) {
      // Every slot strictly inside the hole breaks the line.
      for (let at = index.get(left)! + 1; at < xs.length && xs[at]! < right; at++) {
        column[at] = null;
      }
    }
    s.steps.forEach((step, k) => {
      const raw = s.values[k];
      if (raw === null || raw === undefined || !Number.isFinite(raw)) {
        column[index.get(step)!] = null;
        return;
      }
      const value = raw * scale;
      column[index.get(step)!] = options.positiveOnly && !(value > 0) ? undefined : value;
    });
    return column;
  });
  return [xs, ...columns];
}

/** The [left, right] step pairs of consecutive points further apart than `threshold`. */
export function findHoles(steps: readonly number[], threshold: number): [number, number][] {
  const holes: [number, number][] = [];
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! - steps[i - 1]! > threshold) holes.push([steps[i - 1]!, steps[i]!]);
  }
  return holes;
}
