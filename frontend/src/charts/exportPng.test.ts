import { describe, expect, it } from "vitest";

import { composeLayout, exportFilename } from "./exportPng";

describe("composeLayout", () => {
  it("keeps the page layout, shifted to the padded image origin", () => {
    const layout = composeLayout(
      [
        { x: 100, y: 300, w: 500, h: 250 },
        { x: 620, y: 300, w: 500, h: 250 },
        { x: 100, y: 570, w: 1020, h: 200 },
      ],
      16,
    );
    expect(layout.width).toBe(1020 + 32);
    expect(layout.height).toBe(470 + 32);
    expect(layout.placed).toEqual([
      { x: 16, y: 16, w: 500, h: 250 },
      { x: 536, y: 16, w: 500, h: 250 },
      { x: 16, y: 286, w: 1020, h: 200 },
    ]);
  });

  it("is just the padding when there is nothing to draw", () => {
    expect(composeLayout([], 10)).toEqual({ width: 20, height: 20, placed: [] });
  });

  it("puts the charts under a header band for the title", () => {
    const layout = composeLayout([{ x: 100, y: 300, w: 500, h: 250 }], 16, 40);
    expect(layout.height).toBe(250 + 32 + 40);
    expect(layout.placed).toEqual([{ x: 16, y: 56, w: 500, h: 250 }]);
    expect(composeLayout([], 10, 40).height).toBe(60);
  });
});

describe("exportFilename", () => {
  it("names the file after the run, with safe characters only", () => {
    expect(exportFilename(12, "split-digits ER (seed 3)")).toBe(
      "gapwatch-run-12-split-digits-er-seed-3.png",
    );
    expect(exportFilename(12, null, "-300-601")).toBe("gapwatch-run-12-300-601.png");
    expect(exportFilename(12, "../../etc")).toBe("gapwatch-run-12-etc.png");
  });
});
