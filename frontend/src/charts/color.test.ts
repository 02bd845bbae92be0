// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import { seriesVar, withAlpha } from "./color";

describe("withAlpha", () => {
  it("turns hex colours into rgba", () => {
    expect(withAlpha("#2563eb", 0.3)).toBe("rgba(37, 99, 235, 0.3)");
    expect(withAlpha("#fff", 0.5)).toBe("rgba(255, 255, 255, 0.5)");
  });

  it("multiplies an existing alpha", () => {
    expect(withAlpha("rgba(96, 165, 250, 0.5)", 0.5)).toBe("rgba(96, 165, 250, 0.25)");
    expect(withAlpha("rgb(1, 2, 3)", 0.2)).toBe("rgba(1, 2, 3, 0.2)");
  });

  it("leaves what it cannot parse alone", () => {
    expect(withAlpha("red", 0.5)).toBe("red");
  });
});

describe("seriesVar", () => {
  it("cycles through the ten series slots", () => {
    expect(seriesVar(0)).toBe("--series-0");
    expect(seriesVar(12)).toBe("--series-2");
  });
});
