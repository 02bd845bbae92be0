import { describe, expect, it } from "vitest";

import { heatCell, heatRgb, luminance } from "./heat";

describe("heat colour scale", () => {
  it("maps 0 and 1 to the ends of viridis", () => {
    expect(heatRgb(0)).toEqual([68, 1, 84]);
    expect(heatRgb(1)).toEqual([253, 231, 37]);
    expect(heatRgb(0.5)).toEqual([33, 145, 140]);
  });

  it("interpolates between stops", () => {
    // Halfway between the 0.75 and 1 stops.
    expect(heatRgb(0.875)).toEqual([174, 216, 68]);
  });

  it("clamps out-of-range and non-finite values", () => {
    expect(heatRgb(-0.2)).toEqual(heatRgb(0));
    expect(heatRgb(1.7)).toEqual(heatRgb(1));
    expect(heatRgb(Number.NaN)).toEqual(heatRgb(0));
  });

  it("is brighter for higher values, so the order reads at a glance", () => {
    const l = [0, 0.25, 0.5, 0.75, 1].map((v) => luminance(heatRgb(v)));
    expect([...l].sort((a, b) => a - b)).toEqual(l);
  });

  it("writes white on dark cells and black on bright ones", () => {
    expect(heatCell(0).color).toBe("#fff");
    expect(heatCell(1).color).toBe("#000");
    expect(heatCell(1).background).toBe("rgb(253, 231, 37)");
  });
});
