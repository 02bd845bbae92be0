import { describe, expect, it } from "vitest";

import type { Schemas } from "../api/client";
import { deepestFirst, overlaps, placeLabels, recoveryText, troughMarkers } from "./troughs";

type RunGaps = Schemas["RunGaps"];
type GapRow = Schemas["GapRowRead"];

function row(task: number, fields: Partial<GapRow>): GapRow {
  return {
    task,
    evaluated: true,
    eligible: true,
    before: 0.9,
    trough: 0.5,
    trough_at: 10,
    depth: 0.4,
    gap: 0.4,
    forgetting: 0,
    recovered_at: 40,
    area: 12,
    evaluations: 100,
    ...fields,
  };
}

const gaps: RunGaps = {
  run_id: 1,
  definition: "stability_gap",
  formula: "…",
  gap_window: 200,
  recovery_tolerance: 0.01,
  eligibility_margin: 0.05,
  boundaries: [
    {
      task: 1,
      start: 300,
      end: 600,
      window: 200,
      complete: true,
      evaluated_until: 600,
      eligible: 1,
      mean_gap: 0.4,
      mean_forgetting: 0,
      mean_depth: 0.4,
      max_depth: 0.4,
      rows: [row(0, { trough: 0.52, trough_at: 58, depth: 0.475, recovered_at: null })],
    },
    {
      task: 2,
      start: 600,
      end: null,
      window: 200,
      complete: false,
      evaluated_until: 650,
      eligible: 2,
      mean_gap: 0.2,
      mean_forgetting: 0,
      mean_depth: 0.2,
      max_depth: 0.3,
      rows: [
        row(0, { depth: 0, trough: 0, before: 0 }),
        row(1, { trough: 0.61, trough_at: 12, depth: 0.3, recovered_at: 1234 }),
        row(2, { evaluated: false, trough: null, trough_at: null, depth: null }),
      ],
    },
  ],
};

describe("troughMarkers", () => {
  it("puts each dip at s_k + trough_at, at the trough accuracy in percent", () => {
    const markers = troughMarkers(gaps);
    expect(markers.map((m) => [m.task, m.boundary, m.step, m.accuracy])).toEqual([
      [0, 1, 358, 52],
      [1, 2, 612, 61],
    ]);
  });

  it("labels depth in percentage points and the recovery time", () => {
    const [first, second] = troughMarkers(gaps);
    expect(first!.lines).toEqual(["−47.5 pp", "not recovered"]);
    expect(second!.lines).toEqual(["−30.0 pp", "recovered in 1,234 it"]);
    expect(first!.detail).toContain("52.0% from 90.0% at iteration 358");
  });

  it("skips a zero depth and an unevaluated row", () => {
    const markers = troughMarkers(gaps);
    expect(markers.some((m) => m.boundary === 2 && m.task === 0)).toBe(false);
    expect(markers.some((m) => m.task === 2)).toBe(false);
    expect(troughMarkers(undefined)).toEqual([]);
  });

  it("skips a task at chance: it is not eligible", () => {
    const atChance: RunGaps = {
      ...gaps,
      boundaries: [{ ...gaps.boundaries[0]!, rows: [row(0, { eligible: false, chance: 0.25 })] }],
    };
    expect(troughMarkers(atChance)).toEqual([]);
    const eligible = { ...atChance, boundaries: [{ ...atChance.boundaries[0]!, rows: [row(0, {})] }] };
    expect(troughMarkers(eligible)).toHaveLength(1);
  });

  it("says 'not recovered yet' while the boundary's task is still trained", () => {
    expect(recoveryText(null, false)).toBe("not recovered yet");
    expect(recoveryText(null, true)).toBe("not recovered");
  });
});

describe("placeLabels", () => {
  const plot = { width: 400, height: 200 };

  it("puts a label centred below its dot when there is room", () => {
    const [box] = placeLabels([{ x: 100, y: 50, w: 60, h: 20 }], plot);
    expect(box).toEqual({ x: 70, y: 58, w: 60, h: 20 });
  });

  it("slides a label inside the plot near its right edge, without covering its dot", () => {
    const [box] = placeLabels([{ x: 395, y: 50, w: 60, h: 20 }], plot);
    expect(box).toEqual({ x: 340, y: 58, w: 60, h: 20 });
  });

  it("moves a label above when the dot is at the bottom of the plot", () => {
    const [box] = placeLabels([{ x: 100, y: 195, w: 60, h: 20 }], plot);
    expect(box).not.toBeNull();
    expect(box!.y + box!.h).toBeLessThanOrEqual(195);
  });

  it("never overlaps two labels, and drops the one that fits nowhere", () => {
    const crowd = [
      { x: 100, y: 100, w: 120, h: 30 },
      { x: 102, y: 100, w: 120, h: 30 },
      { x: 104, y: 100, w: 120, h: 30 },
      { x: 106, y: 100, w: 120, h: 30 },
      { x: 108, y: 100, w: 120, h: 30 },
      { x: 110, y: 100, w: 120, h: 30 },
      { x: 112, y: 100, w: 120, h: 30 },
      { x: 114, y: 100, w: 120, h: 30 },
      { x: 116, y: 100, w: 120, h: 30 },
    ];
    const boxes = placeLabels(crowd, plot);
    const shown = boxes.filter((b) => b !== null);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(crowd.length);
    for (let a = 0; a < shown.length; a++) {
      for (let b = a + 1; b < shown.length; b++) expect(overlaps(shown[a]!, shown[b]!)).toBe(false);
    }
  });

  it("serves the given order first: the deepest gap keeps its label", () => {
    // One free spot (centred below): whoever comes first in `order` takes it.
    const twins = [
      { x: 100, y: 10, w: 180, h: 100 },
      { x: 100, y: 10, w: 180, h: 100 },
    ];
    const small = { width: 200, height: 120 };
    expect(placeLabels(twins, small, [1, 0]).map((b) => b !== null)).toEqual([false, true]);
    expect(placeLabels(twins, small).map((b) => b !== null)).toEqual([true, false]);
    expect(deepestFirst([{ depth: 0.1 }, { depth: 0.5 }, { depth: 0.3 }])).toEqual([1, 2, 0]);
  });
});
