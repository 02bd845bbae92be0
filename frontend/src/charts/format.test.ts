import { describe, expect, it } from "vitest";

import { area, iterations, percent, plusMinus, points, signedPercent } from "./format";

describe("metric formatting", () => {
  it("prints fractions as percentages, missing as a dash (never 0)", () => {
    expect(percent(0.8734)).toBe("87.3%");
    expect(percent(0.8734, 2)).toBe("87.34%");
    expect(percent(0)).toBe("0.0%");
    expect(percent(null)).toBe("—");
  });

  it("signs differences with a true minus", () => {
    expect(signedPercent(-0.12345)).toBe("−12.35%");
    expect(signedPercent(0.031)).toBe("+3.10%");
    expect(signedPercent(-0.00001)).toBe("0.00%");
    expect(signedPercent(undefined)).toBe("—");
  });

  it("prints points, ± and counts", () => {
    expect(points(0.475)).toBe("47.5 pp");
    expect(plusMinus(0.0123)).toBe("± 1.2");
    expect(plusMinus(null)).toBe("");
    expect(iterations(1234)).toBe("1,234 it");
    expect(area(259.9)).toBe("25,990 pp·it");
  });
});
