// The boundary-aligned view as a chart: a_j(s_k + t) − before (points) against t, one line per
// band the API gives (a run's, or each configuration of a sweep), with its 95% band. Shared by
// the run page and the sweep page.
import type uPlot from "uplot";

import type { Schemas } from "../api/client";
import { seriesVar } from "./color";
import type { ChartBand } from "./TimeSeriesChart";

export type AlignedBand = Schemas["AlignedBandRead"];

export interface AlignedLine {
  readonly label: string;
  readonly band: AlignedBand;
  /** A CSS colour variable; default: its place among the lines, drawn or not. */
  readonly colorVar?: string;
}

export interface AlignedChart {
  /** Offsets from the boundary, then one mean column per drawn line (points). */
  readonly data: uPlot.AlignedData;
  readonly series: readonly { label: string; colorVar: string }[];
  readonly bands: readonly ChartBand[];
  /** Lines without a single aligned value (no eligible row yet): named, not drawn. */
  readonly empty: readonly string[];
  /** The y extent of the lines and their bands with a little room, 0 included; null if empty. */
  readonly yRange: readonly [number, number] | null;
}

function points(value: number | null | undefined): number | null {
  return value === null || value === undefined || !Number.isFinite(value) ? null : value * 100;
}

/** The lines on the union of their offsets, in points. */
export function alignedChart(lines: readonly AlignedLine[]): AlignedChart {
  const offsets = [...new Set(lines.flatMap((l) => l.band.offsets))].sort((a, b) => a - b);
  const at = new Map(offsets.map((offset, i) => [offset, i]));
  const columns: (number | null)[][] = [];
  const series: { label: string; colorVar: string }[] = [];
  const bands: ChartBand[] = [];
  const empty: string[] = [];
  lines.forEach(({ label, band, colorVar: given }, i) => {
    const mean: (number | null)[] = offsets.map(() => null);
    const lower: (number | null)[] = offsets.map(() => null);
    const upper: (number | null)[] = offsets.map(() => null);
    band.offsets.forEach((offset, k) => {
      const index = at.get(offset)!;
      mean[index] = points(band.mean[k]);
      lower[index] = points(band.lower[k]);
      upper[index] = points(band.upper[k]);
    });
    if (mean.every((v) => v === null)) {
      empty.push(label);
      return;
    }
    const colorVar = given ?? seriesVar(i);
    columns.push(mean);
    series.push({ label, colorVar });
    bands.push({ lower, upper, colorVar });
  });
  const yRange = extent([...columns, ...bands.flatMap((band) => [band.lower, band.upper])]);
  return { data: [offsets, ...columns], series, bands, empty, yRange };
}

/** A change of accuracy lies within ±100 points; a wide band (two seeds: t = 12.7) past that
 * says nothing and would squash the lines. */
const CHANGE_LIMIT = 100;

/** [min, max] of every value (0 included) within ±CHANGE_LIMIT, padded by 5% of the span;
 * null when none. */
function extent(
  columns: readonly (readonly (number | null | undefined)[])[],
): [number, number] | null {
  let [low, high] = [0, 0];
  let any = false;
  for (const column of columns) {
    for (const v of column) {
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      any = true;
      low = Math.max(-CHANGE_LIMIT, Math.min(low, v));
      high = Math.min(CHANGE_LIMIT, Math.max(high, v));
    }
  }
  if (!any) return null;
  const pad = Math.max(1, (high - low) * 0.05);
  return [low - pad, high + pad];
}
