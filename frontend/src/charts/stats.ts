// Mean ± std across runs on a shared step axis, for the compare page's bands.
//
// Runs of a group do not share every step once M4 keeps each run's own minimum and maximum, so
// a plain per-step average would jump to one run's extreme wherever only that run has a point.
// Each run is first linearly interpolated onto the shared steps — the line a chart draws for it —
// and the mean and std are taken over the runs that cover each step.

export type Column = readonly (number | null | undefined)[];

/**
 * Fills a run's missing values between two of its own points by linear interpolation, except
 * across a hole wider than `maxGap` steps (there the run is not measured) and outside its range.
 */
export function interpolate(
  steps: readonly number[],
  values: Column,
  maxGap = Number.POSITIVE_INFINITY,
): (number | null)[] {
  const out: (number | null)[] = values.map((v) => (v == null || !Number.isFinite(v) ? null : v));
  let previous = -1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === null) continue;
    if (previous >= 0 && i - previous > 1 && steps[i]! - steps[previous]! <= maxGap) {
      const [x0, x1, y0, y1] = [steps[previous]!, steps[i]!, out[previous]!, out[i]!];
      for (let k = previous + 1; k < i; k++) {
        out[k] = y0 + ((y1 - y0) * (steps[k]! - x0)) / (x1 - x0);
      }
    }
    previous = i;
  }
  return out;
}

export interface MeanStd {
  readonly mean: (number | null)[];
  /** Sample std (n − 1); null where fewer than two runs cover the step. */
  readonly std: (number | null)[];
  readonly count: number[];
}

/** Per-step mean, sample std and count over `runs` (each a column aligned with the steps). */
export function meanStd(runs: readonly Column[], length: number): MeanStd {
  const mean: (number | null)[] = [];
  const std: (number | null)[] = [];
  const count: number[] = [];
  for (let i = 0; i < length; i++) {
    const xs = runs
      .map((run) => run[i])
      .filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
    const n = xs.length;
    const m = n ? xs.reduce((a, b) => a + b, 0) / n : null;
    count.push(n);
    mean.push(m);
    std.push(
      n > 1 && m !== null ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1)) : null,
    );
  }
  return { mean, std, count };
}

/** Mean ± std of plain numbers (summary metrics across a group's runs), null-safe. */
export function spreadOf(values: readonly (number | null | undefined)[]): {
  mean: number | null;
  std: number | null;
  n: number;
} {
  const { mean, std, count } = meanStd(
    values.map((v) => [v]),
    1,
  );
  return { mean: mean[0] ?? null, std: std[0] ?? null, n: count[0] ?? 0 };
}
