import { describe, expect, it } from "vitest";

import type { Schemas } from "../../api/client";
import { costCell, costQuantitiesOf, diagOverlays } from "./compareCost";

const base = { formula: "" };
const costs = new Map<number, Schemas["RunCostTotals"]>([
  [1, { ...base, run_id: 1, totals: { train_flops: 10e9, wall_seconds: 5 }, baseline: { run_ids: [1], totals: {}, ratios: { train_flops: 1, wall_seconds: 1 } } }],
  [2, { ...base, run_id: 2, totals: { train_flops: 3.1e9, wall_seconds: 2.5, replay_bytes: 2048 }, baseline: { run_ids: [1], totals: {}, ratios: { train_flops: 0.31, wall_seconds: 0.5, replay_bytes: null } } }],
  [3, { ...base, run_id: 3, totals: { train_flops: 5.1e9 }, baseline: null }],
  [4, { ...base, run_id: 4, totals: {}, baseline: null }],
]);

describe("costCell", () => {
  it("shows a run's total and its ratio to retraining", () => {
    const cell = costCell("train_flops", [2], costs);
    expect([cell.value, cell.text, cell.ratioText, cell.n]).toEqual([3.1e9, "3.1 GFLOP", "0.31× retraining", 1]);
    expect(costCell("replay_bytes", [2], costs).ratioText).toBeNull();
    expect(costCell("train_flops", [4], costs)).toMatchObject({ value: null, text: "—", n: 0 });
  });

  it("averages a group over the runs that have the number", () => {
    // (3.1 + 5.1) / 2 = 4.1 GFLOP; only run 2 has a ratio.
    const cell = costCell("train_flops", [2, 3, 4], costs);
    expect(cell.value).toBeCloseTo(4.1e9);
    expect(cell.text).toBe("4.1 GFLOP");
    expect([cell.ratio, cell.n]).toEqual([0.31, 2]);
  });

  it("lists the compare quantities some run has, in order", () => {
    expect(costQuantitiesOf([...costs.values()]).map((q) => q.id)).toEqual([
      "train_flops",
      "wall_seconds",
      "replay_bytes",
    ]);
    expect(costQuantitiesOf([costs.get(4)!])).toEqual([]);
  });
});

describe("diagOverlays", () => {
  it("makes one chart per diagnostic key across the runs", () => {
    const overlays = diagOverlays([
      "diag/dormant",
      "diag/dormant/hidden_0",
      "diag/plasticity",
      "eval/acc/task_0",
      "diag/dormant",
    ]);
    expect(overlays.map((o) => [o.key, o.title, o.scale])).toEqual([
      ["diag/dormant", "Dormant units · all hidden", 100],
      ["diag/dormant/hidden_0", "Dormant units · hidden 0", 100],
      ["diag/plasticity", "Plasticity", 100],
    ]);
  });
});
