import { describe, expect, it } from "vitest";

import { alignSeries, breakThreshold, findHoles, medianSpacing } from "./align";

describe("alignSeries", () => {
  it("puts every series on the union of steps, undefined where a series has no point", () => {
    const data = alignSeries([
      { steps: [0, 1, 2, 3], values: [0.5, 0.6, 0.7, 0.8] },
      { steps: [1, 3], values: [1, 2] },
    ]);
    expect(data[0]).toEqual([0, 1, 2, 3]);
    expect(data[1]).toEqual([0.5, 0.6, 0.7, 0.8]);
    expect(data[2]).toEqual([undefined, 1, undefined, 2]);
  });

  it("scales values (fractions to percent)", () => {
    const data = alignSeries([{ steps: [0, 1], values: [0.25, 1] }], { scale: 100 });
    expect(data[1]).toEqual([25, 100]);
  });

  it("breaks the line with null across a hole: a task evaluated at step 0 and again from s_k", () => {
    const data = alignSeries([
      { steps: [0, 1, 2, 3, 4, 5, 6], values: [1, 1, 1, 1, 1, 1, 1] },
      { steps: [0, 4, 5, 6], values: [0.1, 0.9, 0.8, 0.9] },
    ]);
    expect(data[0]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Steps 1-3 lie inside the hole (0, 4): null, so uPlot draws no segment from 0 to 4.
    expect(data[2]).toEqual([0.1, null, null, null, 0.9, 0.8, 0.9]);
  });

  it("adds a slot for the null when no other series has a step inside the hole", () => {
    const data = alignSeries([{ steps: [0, 1, 2, 50, 51, 52], values: [1, 2, 3, 4, 5, 6] }]);
    expect(data[0]).toEqual([0, 1, 2, 3, 50, 51, 52]);
    expect(data[1]).toEqual([1, 2, 3, null, 4, 5, 6]);
  });

  it("does not break a downsampled series whose points are up to two buckets apart", () => {
    const steps = [0, 90, 110, 199, 200, 290, 310, 399];
    const data = alignSeries([{ steps, values: steps.map(() => 1) }], { bucketWidths: [100] });
    expect(data[1]).not.toContain(null);
  });

  it("keeps a non-finite or null value as a break", () => {
    const data = alignSeries([{ steps: [0, 1, 2], values: [1, null, 3] }]);
    expect(data[1]).toEqual([1, null, 3]);
  });

  it("drops non-positive values for a log scale instead of breaking the line", () => {
    const data = alignSeries([{ steps: [0, 1, 2], values: [1, 0, 2] }], { positiveOnly: true });
    expect(data[1]).toEqual([1, undefined, 2]);
  });

  it("gives a missing series a column of undefined", () => {
    const data = alignSeries([{ steps: [3, 4], values: [1, 2] }, undefined]);
    expect(data[2]).toEqual([undefined, undefined]);
  });
});

describe("holes", () => {
  it("medianSpacing is robust to one long jump", () => {
    expect(medianSpacing([0, 5, 10, 15, 300, 305])).toBe(5);
    expect(medianSpacing([7])).toBe(1);
  });

  it("breakThreshold is twice the larger of bucket width and spacing", () => {
    expect(breakThreshold([0, 1, 2, 3])).toBe(2);
    expect(breakThreshold([0, 1, 2, 3], 40)).toBe(80);
  });

  it("findHoles names each gap's edges", () => {
    expect(findHoles([0, 1, 2, 10, 11, 30], 4)).toEqual([
      [2, 10],
      [11, 30],
    ]);
  });
});
