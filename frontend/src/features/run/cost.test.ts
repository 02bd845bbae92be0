import { describe, expect, it } from "vitest";

import { baselineNote, costRows, formatCost, formatFlops, formatSeconds, ratioLabel } from "./cost";

describe("cost formatting", () => {
  it("prints FLOPs with decimal prefixes", () => {
    expect(formatFlops(950)).toBe("950 FLOP");
    expect(formatFlops(1.2e9)).toBe("1.2 GFLOP");
    expect(formatFlops(3.1e9)).toBe("3.1 GFLOP");
    expect(formatFlops(2.5e13)).toBe("25.0 TFLOP");
    expect(formatFlops(null)).toBe("—");
  });

  it("prints seconds, bytes and counts in their units", () => {
    expect(formatSeconds(0.42)).toBe("0.42 s");
    expect(formatSeconds(12.34)).toBe("12.3 s");
    expect(formatSeconds(185)).toBe("3m 05s");
    expect(formatSeconds(3720)).toBe("1h 02m");
    expect(formatCost("replay_bytes", 1536)).toBe("1.5 KiB");
    expect(formatCost("updates", 12000)).toBe("12,000");
    expect(formatCost("train_flops", 1.2e9)).toBe("1.2 GFLOP");
  });

  it("labels the ratio to retraining", () => {
    expect(ratioLabel(0.31)).toBe("0.31× retraining");
    expect(ratioLabel(3.1 / 6)).toBe("0.52× retraining");
    expect(ratioLabel(12.345)).toBe("12.3× retraining");
    expect(ratioLabel(null)).toBeNull();
  });
});

describe("costRows", () => {
  const cost = {
    run_id: 4,
    totals: { wall_seconds: 2.5, train_flops: 3.1e9, replay_bytes: 1536, extra_thing: 7 },
    baseline: { run_ids: [1], totals: {}, ratios: { train_flops: 0.31, wall_seconds: 0.5, replay_bytes: null } },
    formula: "",
  };

  it("orders the totals as the engine defines them and adds each ratio", () => {
    const rows = costRows(cost);
    expect(rows.map((r) => r.id)).toEqual(["train_flops", "replay_bytes", "wall_seconds", "extra_thing"]);
    expect(rows.map((r) => r.text)).toEqual(["3.1 GFLOP", "1.5 KiB", "2.5 s", "7"]);
    expect(rows.map((r) => r.ratio)).toEqual(["0.31× retraining", null, "0.50× retraining", null]);
    expect(baselineNote(cost)).toBe("vs joint run 1");
  });

  it("has no ratios without a baseline", () => {
    const rows = costRows({ ...cost, baseline: null });
    expect(rows.every((r) => r.ratio === null)).toBe(true);
    expect(baselineNote({ ...cost, baseline: null })).toBeNull();
    expect(baselineNote({ ...cost, baseline: { ...cost.baseline, run_ids: [1, 3] } })).toBe(
      "vs the mean of joint runs 1, 3",
    );
  });
});
