import { describe, expect, it } from "vitest";

import {
  configSearchHref,
  configSeed,
  configSummary,
  flattenConfig,
  jsonText,
  searchValueText,
} from "./config";

const config = {
  lr: 0.01,
  memory: 2000,
  optimizer: { name: "sgd", momentum: 0.9, extra: {} },
  layers: [64, 64],
  norm: true,
  note: "two words",
  tag: "0.5",
  seed: 3,
};

describe("flattenConfig", () => {
  it("joins nested keys with dots, keeps lists and empty objects as values", () => {
    expect(flattenConfig(config)).toEqual([
      ["lr", 0.01],
      ["memory", 2000],
      ["optimizer.name", "sgd"],
      ["optimizer.momentum", 0.9],
      ["optimizer.extra", {}],
      ["layers", [64, 64]],
      ["norm", true],
      ["note", "two words"],
      ["tag", "0.5"],
      ["seed", 3],
    ]);
    expect(flattenConfig({})).toEqual([]);
    expect(flattenConfig(null)).toEqual([]);
  });
});

describe("values", () => {
  it("writes JSON for the table, bare words where the search reads them back as text", () => {
    expect(jsonText("sgd")).toBe('"sgd"');
    expect(jsonText([64, 64])).toBe("[64,64]");
    expect(searchValueText("sgd")).toBe("sgd");
    expect(searchValueText(0.01)).toBe("0.01");
    expect(searchValueText(null)).toBe("null");
    // Text that would read back as another JSON value, or that holds a separator, is quoted.
    expect(searchValueText("0.5")).toBe('"0.5"');
    expect(searchValueText("true")).toBe('"true"');
    expect(searchValueText("two words")).toBe('"two words"');
  });
});

describe("configSummary", () => {
  it("shows the first entries and counts the rest", () => {
    const summary = configSummary(config);
    expect(summary.text).toBe("lr=0.01 · memory=2000 · optimizer.name=sgd");
    expect(summary.more).toBe(7);
    expect(summary.full.split("\n")).toContain('note="two words"');
    expect(configSummary({}).text).toBe("");
  });

  it("shortens long values", () => {
    const text = configSummary({ path: "x".repeat(100) }).text;
    expect(text.length).toBeLessThan(40);
    expect(text.endsWith("…")).toBe(true);
  });
});

describe("configSeed and configSearchHref", () => {
  it("reads a top-level integer seed", () => {
    expect(configSeed(config)).toBe(3);
    expect(configSeed({ seed: "3" })).toBeNull();
    expect(configSeed({})).toBeNull();
  });

  it("links scalar entries to the runs list's config search", () => {
    expect(configSearchHref("optimizer.name", "sgd")).toBe("/runs?config.optimizer.name=sgd");
    expect(configSearchHref("lr", 0.01)).toBe("/runs?config.lr=0.01");
    expect(configSearchHref("layers", [64, 64])).toBeNull();
    expect(configSearchHref("bad key", 1)).toBeNull();
  });
});
