import { describe, expect, it } from "vitest";

import { bandEdges, bandSegments } from "./bands";

describe("bands", () => {
  it("edges are mean ± std, missing where the std is", () => {
    expect(bandEdges([50, 60, 70], [5, null, 1])).toEqual({
      lower: [45, null, 69],
      upper: [55, null, 71],
    });
  });

  it("segments skip missing steps and lone points", () => {
    const lower = [1, 1, null, 1, null, 1, 1, 1];
    const upper = [2, 2, 2, 2, 2, 2, 2, undefined];
    expect(bandSegments(lower, upper)).toEqual([
      [0, 1],
      [5, 6],
    ]);
  });
});
