import { describe, expect, it } from "vitest";

import {
  bucketWidth,
  formatRange,
  MAX_POINTS,
  parseRange,
  pointsForWidth,
  rangeFromSelection,
  seriesQuery,
} from "./budget";

describe("pointsForWidth", () => {
  it("asks for two points per pixel, width rounded up to 128 px", () => {
    expect(pointsForWidth(1200)).toBe(1280 * 2);
    expect(pointsForWidth(1280)).toBe(1280 * 2);
    expect(pointsForWidth(1281)).toBe(1408 * 2);
  });

  it("stays within the API's bounds", () => {
    expect(pointsForWidth(0)).toBe(4);
    expect(pointsForWidth(Number.NaN)).toBe(4);
    expect(pointsForWidth(10_000_000)).toBe(MAX_POINTS);
  });
});

describe("rangeFromSelection", () => {
  it("covers whole steps with an exclusive end", () => {
    expect(rangeFromSelection(299.4, 600.2)).toEqual({ start: 299, end: 602 });
  });

  it("accepts a right-to-left drag and clamps at 0", () => {
    expect(rangeFromSelection(50, -3)).toEqual({ start: 0, end: 51 });
  });

  it("refuses a selection narrower than two steps", () => {
    expect(rangeFromSelection(10.2, 10.4)).toEqual({ start: 10, end: 12 });
    expect(rangeFromSelection(10, 10)).toBeNull();
    expect(rangeFromSelection(Number.NaN, 10)).toBeNull();
  });
});

describe("seriesQuery", () => {
  it("sends the same points budget with or without a range", () => {
    expect(seriesQuery(null, 2560)).toEqual({ points: 2560 });
    expect(seriesQuery({ start: 300, end: 600 }, 2560)).toEqual({
      start: 300,
      end: 600,
      points: 2560,
    });
  });
});

describe("zoom in the URL", () => {
  it("round-trips and refuses junk", () => {
    expect(parseRange(formatRange({ start: 300, end: 612 }))).toEqual({ start: 300, end: 612 });
    expect(parseRange("abc")).toBeNull();
    expect(parseRange("5-6")).toBeNull();
    expect(parseRange(null)).toBeNull();
  });
});

describe("bucketWidth", () => {
  it("is zero for a raw series and range / buckets for a downsampled one", () => {
    expect(bucketWidth(100, 400, 0, 99)).toBe(0);
    expect(bucketWidth(100_000, 400, 0, 99_999)).toBe(1000);
  });
});
