// A mean ± std band as filled polygons: one per run of steps where both edges are known, so a
// step no run covers leaves a gap instead of a spike to zero.
import type { Column } from "./stats";

/** Index ranges [from, to] (inclusive, at least two points) where lower and upper are both set. */
export function bandSegments(lower: Column, upper: Column): [number, number][] {
  const segments: [number, number][] = [];
  let from = -1;
  const n = Math.min(lower.length, upper.length);
  for (let i = 0; i <= n; i++) {
    const ok = i < n && lower[i] != null && upper[i] != null;
    if (ok && from < 0) from = i;
    if (!ok && from >= 0) {
      if (i - 1 > from) segments.push([from, i - 1]);
      from = -1;
    }
  }
  return segments;
}

/** The band's edges: mean − std and mean + std, null where either is missing. */
export function bandEdges(
  mean: Column,
  std: Column,
): { lower: (number | null)[]; upper: (number | null)[] } {
  const lower: (number | null)[] = [];
  const upper: (number | null)[] = [];
  mean.forEach((m, i) => {
    const s = std[i];
    const ok = m != null && s != null;
    lower.push(ok ? m - s : null);
    upper.push(ok ? m + s : null);
  });
  return { lower, upper };
}
