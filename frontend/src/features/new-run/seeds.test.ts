import { describe, expect, it } from "vitest";

import { MAX_SEEDS, automaticGroup, destinationAfterSubmit, parseSeeds, specsForSeeds } from "./seeds";

describe("parseSeeds", () => {
  it("reads single seeds, lists and ranges", () => {
    expect(parseSeeds("0")).toEqual({ seeds: [0] });
    expect(parseSeeds("0,1,2")).toEqual({ seeds: [0, 1, 2] });
    expect(parseSeeds("0-4")).toEqual({ seeds: [0, 1, 2, 3, 4] });
    expect(parseSeeds(" 5, 0-2 , 1 ")).toEqual({ seeds: [5, 0, 1, 2] });
    expect(parseSeeds("")).toEqual({ seeds: [] });
  });
  it("refuses garbage, backwards ranges, out-of-bounds and too many seeds", () => {
    expect(parseSeeds("a").error).toMatch(/not a seed/);
    expect(parseSeeds("-1").error).toMatch(/not a seed/);
    expect(parseSeeds("4-2").error).toMatch(/backwards/);
    expect(parseSeeds("3", 0, 2).error).toMatch(/\[0, 2\]/);
    expect(parseSeeds(`0-${MAX_SEEDS}`).error).toMatch(/at most/);
    expect(parseSeeds(`0-${MAX_SEEDS - 1}`).seeds).toHaveLength(MAX_SEEDS);
  });
});

describe("automaticGroup", () => {
  it("names benchmark, strategy and local time", () => {
    expect(automaticGroup("split_digits", "er", new Date(2025, 2, 4, 9, 5, 7))).toBe(
      "split_digits-er-20250304-090507",
    );
  });
});

describe("specsForSeeds", () => {
  const spec = { seed: 0, group: null as string | null, strategy: { name: "er" } };
  const auto = () => "auto-group";
  it("posts the spec once without seeds and sets the seed of a single one", () => {
    expect(specsForSeeds(spec, [], auto)).toEqual([spec]);
    expect(specsForSeeds(spec, [7], auto)).toEqual([{ ...spec, seed: 7 }]);
  });
  it("posts one spec per seed in one shared group", () => {
    expect(specsForSeeds(spec, [0, 1, 2], auto).map((s) => [s.seed, s.group])).toEqual([
      [0, "auto-group"],
      [1, "auto-group"],
      [2, "auto-group"],
    ]);
    expect(specsForSeeds({ ...spec, group: "mine" }, [0, 1], auto).map((s) => s.group)).toEqual(["mine", "mine"]);
  });
});

describe("destinationAfterSubmit", () => {
  it("opens the run, or the comparison of several", () => {
    expect(destinationAfterSubmit([12])).toBe("/runs/12");
    expect(destinationAfterSubmit([12, 13, 14])).toBe("/compare?runs=12,13,14");
  });
});
