// Stability-gap troughs as chart markers: where each dip bottoms out and what to write beside it.
// The trough of earlier task j at boundary k sits at step s_k + trough_at, at the trough accuracy,
// in task j's chart (METRICS.md, "The stability gap, per boundary").
import type { Schemas } from "../api/client";

type RunGaps = Schemas["RunGaps"];

export interface TroughMarker {
  /** j: the earlier task whose accuracy dips (the chart it belongs to). */
  readonly task: number;
  /** k: the task whose start s_k opened the gap. */
  readonly boundary: number;
  /** s_k + trough_at: the iteration of the trough. */
  readonly step: number;
  /** The trough accuracy in percent (the y of the dot). */
  readonly accuracy: number;
  /** before − trough as the API gives it (a fraction). */
  readonly depth: number;
  /** Iterations from s_k to recovery, or null if it never came back. */
  readonly recoveredAt: number | null;
  /** False while task k is still trained: the gap may still deepen or recover. */
  readonly complete: boolean;
  /** The two lines printed beside the dot: depth, then recovery. */
  readonly lines: readonly [string, string];
  /** The full story, for the hover title. */
  readonly detail: string;
}

/** Percentage points with one decimal and a true minus sign: "−12.3 pp". */
export function formatDepth(depth: number): string {
  return `−${(depth * 100).toFixed(1)} pp`;
}

export function recoveryText(recoveredAt: number | null, complete: boolean): string {
  if (recoveredAt !== null) return `recovered in ${recoveredAt.toLocaleString("en-US")} it`;
  return complete ? "not recovered" : "not recovered yet";
}

/**
 * One marker per evaluated, eligible (boundary k, earlier task j) pair with a dip. A zero depth
 * (the task was already at its floor) is no dip, and a task at chance is not eligible
 * (METRICS.md): neither gets a marker.
 */
export function troughMarkers(gaps: RunGaps | undefined): TroughMarker[] {
  if (!gaps) return [];
  const markers: TroughMarker[] = [];
  for (const boundary of gaps.boundaries) {
    for (const row of boundary.rows) {
      const { trough, trough_at: troughAt, depth, before } = row;
      if (!row.evaluated || trough == null || troughAt == null || depth == null) continue;
      // No dip, or a task already at chance (nothing to lose, left out of every mean).
      if (!(depth > 0) || !row.eligible) continue;
      const recoveredAt = row.recovered_at ?? null;
      const lines: [string, string] = [
        formatDepth(depth),
        recoveryText(recoveredAt, boundary.complete),
      ];
      const beforeText = before == null ? "" : ` from ${(before * 100).toFixed(1)}%`;
      markers.push({
        task: row.task,
        boundary: boundary.task,
        step: boundary.start + troughAt,
        accuracy: trough * 100,
        depth,
        recoveredAt,
        complete: boundary.complete,
        lines,
        detail:
          `Task ${row.task} at the start of task ${boundary.task}: ` +
          `${(trough * 100).toFixed(1)}%${beforeText} at iteration ` +
          `${(boundary.start + troughAt).toLocaleString("en-US")} ` +
          `(${troughAt.toLocaleString("en-US")} it after s_${boundary.task}); ` +
          `${lines[0]}, ${lines[1]}`,
      });
    }
  }
  return markers;
}

/** An axis-aligned box in CSS pixels, relative to the plot area. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A dot at (x, y) that wants a label of size w × h next to it. */
export interface LabelRequest {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

const GAP = 6;
const DOT_RADIUS = 5;

/**
 * Where to put each label so that none overlaps another, a dot, or the plot's edge.
 *
 * Labels are placed in `order` (deepest gap first, so the biggest dips keep their words); each
 * tries below the dot first (a trough has free space under it), then the sides, then above.
 * A label near the plot's edge slides sideways to stay inside; one that fits nowhere is null:
 * its dot stays, with the text in its hover title.
 */
export function placeLabels(
  requests: readonly LabelRequest[],
  plot: { readonly width: number; readonly height: number },
  order: readonly number[] = requests.map((_, i) => i),
): (Box | null)[] {
  const dots: Box[] = requests.map((r) => ({
    x: r.x - DOT_RADIUS,
    y: r.y - DOT_RADIUS,
    w: 2 * DOT_RADIUS,
    h: 2 * DOT_RADIUS,
  }));
  const placed: Box[] = [];
  const result: (Box | null)[] = requests.map(() => null);
  for (const i of order) {
    const r = requests[i];
    if (!r) continue;
    const below = r.y + GAP + 2;
    const above = r.y - GAP - 2 - r.h;
    const candidates: Box[] = [
      { x: r.x - r.w / 2, y: below, w: r.w, h: r.h },
      { x: r.x + GAP, y: r.y + GAP - 2, w: r.w, h: r.h }, // below right
      { x: r.x - GAP - r.w, y: r.y + GAP - 2, w: r.w, h: r.h }, // below left
      { x: r.x + GAP + 2, y: r.y - r.h / 2, w: r.w, h: r.h }, // right
      { x: r.x - GAP - 2 - r.w, y: r.y - r.h / 2, w: r.w, h: r.h }, // left
      { x: r.x - r.w / 2, y: below + r.h + 2, w: r.w, h: r.h }, // one label further down
      { x: r.x + GAP, y: r.y - GAP - r.h + 2, w: r.w, h: r.h }, // above right
      { x: r.x - GAP - r.w, y: r.y - GAP - r.h + 2, w: r.w, h: r.h }, // above left
      { x: r.x - r.w / 2, y: above, w: r.w, h: r.h },
      { x: r.x - r.w / 2, y: above - r.h - 2, w: r.w, h: r.h }, // one label further up
    ].map((box) => clampX(box, plot.width));
    const fit = candidates.find(
      (box) =>
        inside(box, plot) &&
        !placed.some((other) => overlaps(box, other)) &&
        !dots.some((dot) => overlaps(box, dot)),
    );
    if (fit) {
      placed.push(fit);
      result[i] = fit;
    }
  }
  return result;
}

/** Slides a box sideways into the plot (a label near an edge stays beside its dot). */
function clampX(box: Box, width: number): Box {
  if (box.w > width) return box;
  return { ...box, x: Math.min(Math.max(box.x, 0), width - box.w) };
}

function inside(box: Box, plot: { width: number; height: number }): boolean {
  return box.x >= 0 && box.y >= 0 && box.x + box.w <= plot.width && box.y + box.h <= plot.height;
}

export function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Indices of `markers`, deepest gap first. */
export function deepestFirst(markers: readonly { depth: number }[]): number[] {
  return markers.map((_, i) => i).sort((a, b) => markers[b]!.depth - markers[a]!.depth || a - b);
}
