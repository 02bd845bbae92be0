import { describe, expect, it } from "vitest";

import { MISSING, formatCount, formatDuration, formatPercent, formatWhen, secondsBetween } from "./format";

describe("formatPercent", () => {
  it("shows a fraction as a percentage", () => {
    expect(formatPercent(0.8734)).toBe("87.3%");
    expect(formatPercent(0.8734, 2)).toBe("87.34%");
    expect(formatPercent(1)).toBe("100.0%");
  });
  it("keeps a real zero and marks a missing value", () => {
    expect(formatPercent(0)).toBe("0.0%");
    expect(formatPercent(null)).toBe(MISSING);
    expect(formatPercent(undefined)).toBe(MISSING);
    expect(formatPercent(Number.NaN)).toBe(MISSING);
  });
});

describe("formatDuration", () => {
  it("chooses the unit by size", () => {
    expect(formatDuration(42.9)).toBe("42s");
    expect(formatDuration(185)).toBe("3m 05s");
    expect(formatDuration(3720)).toBe("1h 02m");
    expect(formatDuration(2 * 86_400 + 3 * 3600 + 59)).toBe("2d 3h");
  });
  it("marks missing and negative durations", () => {
    expect(formatDuration(null)).toBe(MISSING);
    expect(formatDuration(-1)).toBe(MISSING);
  });
});

describe("secondsBetween", () => {
  const now = Date.parse("2025-01-01T00:10:00Z");
  it("measures a finished span and a running one up to now", () => {
    expect(secondsBetween("2025-01-01T00:00:00Z", "2025-01-01T00:01:30Z", now)).toBe(90);
    expect(secondsBetween("2025-01-01T00:00:00Z", null, now)).toBe(600);
  });
  it("is null without a start", () => {
    expect(secondsBetween(null, "2025-01-01T00:01:30Z", now)).toBeNull();
  });
});

describe("formatWhen", () => {
  const now = Date.parse("2025-06-15T12:00:00Z");
  it("is relative within a day", () => {
    expect(formatWhen("2025-06-15T11:59:50Z", now)).toBe("just now");
    expect(formatWhen("2025-06-15T11:55:00Z", now)).toBe("5 min ago");
    expect(formatWhen("2025-06-15T09:00:00Z", now)).toBe("3 h ago");
  });
  it("is a compact date after a day, with the year only when it differs", () => {
    expect(formatWhen("2025-06-10T12:00:00Z", now)).not.toMatch(/2025/);
    expect(formatWhen("2024-06-10T12:00:00Z", now)).toMatch(/2024/);
  });
});

describe("formatCount", () => {
  it("groups thousands", () => {
    expect(formatCount(12000)).toBe("12,000");
    expect(formatCount(null)).toBe(MISSING);
  });
});
