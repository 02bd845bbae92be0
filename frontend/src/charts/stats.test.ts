import { describe, expect, it } from "vitest";

import { interpolate, meanStd, spreadOf } from "./stats";

describe("interpolate", () => {
  it("fills a run's missing steps on the line between its own points", () => {
    expect(interpolate([0, 1, 2, 4], [10, null, null, 40])).toEqual([10, 17.5, 25, 40]);
  });

  it("does not extrapolate before the first or after the last point", () => {
    expect(interpolate([0, 1, 2, 3], [null, 1, 3, null])).toEqual([null, 1, 3, null]);
  });

  it("leaves a hole wider than maxGap empty", () => {
    expect(interpolate([0, 1, 100, 101], [1, null, null, 2], 10)).toEqual([1, null, null, 2]);
  });
});

describe("meanStd", () => {
  it("averages the runs present at each step, with sample std", () => {
    const result = meanStd(
      [
        [1, 2, null],
        [3, 4, 5],
        [5, null, undefined],
      ],
      3,
    );
    expect(result.mean).toEqual([3, 3, 5]);
    expect(result.std[0]).toBeCloseTo(2); // values 1,3,5: sample std 2
    expect(result.std[1]).toBeCloseTo(Math.SQRT2); // values 2,4
    expect(result.std[2]).toBeNull(); // one run: no spread
    expect(result.count).toEqual([3, 2, 1]);
  });

  it("is null where no run has a value", () => {
    expect(meanStd([[null], [undefined]], 1)).toEqual({ mean: [null], std: [null], count: [0] });
  });

  it("keeps a dip that only one run's M4 minimum caught once runs are interpolated", () => {
    // Run A has its minimum at step 2; run B has points at steps 0 and 4 only.
    const steps = [0, 2, 4];
    const a = interpolate(steps, [0.9, 0.1, 0.9]);
    const b = interpolate(steps, [0.8, null, 0.8]);
    const { mean, count } = meanStd([a, b], 3);
    expect(count).toEqual([2, 2, 2]);
    expect(mean[1]).toBeCloseTo(0.45); // (0.1 + 0.8) / 2, not 0.1 alone
  });
});

describe("spreadOf", () => {
  it("summarises numbers, ignoring nulls", () => {
    const s = spreadOf([0.5, null, 0.7]);
    expect(s.mean).toBeCloseTo(0.6);
    expect(s.std).toBeCloseTo(Math.sqrt(0.02));
    expect(s.n).toBe(2);
    expect(spreadOf([0.4])).toEqual({ mean: 0.4, std: null, n: 1 });
  });
});
