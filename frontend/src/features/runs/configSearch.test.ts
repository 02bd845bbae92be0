import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import {
  configFilterProblem,
  configFiltersOf,
  configParams,
  formatConfigSearch,
  parseConfigSearch,
} from "./configSearch";

function filters(text: string) {
  const parsed = parseConfigSearch(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.filters;
}

function problem(text: string): string {
  const parsed = parseConfigSearch(text);
  if (parsed.ok) throw new Error(`"${text}" parsed`);
  return parsed.error;
}

describe("parseConfigSearch", () => {
  it("reads key=value entries apart by spaces or commas into config.<key> parameters", () => {
    const parsed = filters("lr=0.01, optimizer.name=adam  norm=true,");
    expect(parsed).toEqual([
      { key: "lr", value: "0.01" },
      { key: "optimizer.name", value: "adam" },
      { key: "norm", value: "true" },
    ]);
    expect(configParams(parsed)).toEqual([
      ["config.lr", "0.01"],
      ["config.optimizer.name", "adam"],
      ["config.norm", "true"],
    ]);
  });

  it("is no filter for an empty text", () => {
    expect(filters("")).toEqual([]);
    expect(filters("  , ")).toEqual([]);
  });

  it("keeps quoted text, lists and objects whole, and an = in the value", () => {
    expect(filters('name="two words, one value" layers=[64, 64] opt={"a": 1} eq=a=b')).toEqual([
      { key: "name", value: '"two words, one value"' },
      { key: "layers", value: "[64, 64]" },
      { key: "opt", value: '{"a": 1}' },
      { key: "eq", value: "a=b" },
    ]);
    expect(filters('q="say \\"hi\\"" x=1')).toEqual([
      { key: "q", value: '"say \\"hi\\""' },
      { key: "x", value: "1" },
    ]);
  });

  it("names the entry that is not key=value", () => {
    expect(problem("lr=0.01 adam")).toBe("“adam”: write key=value, e.g. lr=0.01");
    expect(problem("=0.01")).toBe("“=0.01”: the key is missing");
    expect(problem("lr=")).toMatch(/^“lr=”: the value is missing/);
    expect(problem("opt..name=adam")).toMatch(/^“opt..name=adam”: keys are letters, digits/);
    expect(problem("lr€=1")).toMatch(/keys are letters/);
    expect(problem("a.b.c.d.e.f.g.h.i=1")).toMatch(/at most 8 levels/);
    expect(problem('name="open')).toBe('a quoted value has no closing "');
  });
});

describe("formatConfigSearch", () => {
  it("writes filters back as the text that reads as them", () => {
    const parsed = filters('lr=0.01,optimizer.name=adam name="a b"');
    const text = formatConfigSearch(parsed);
    expect(text).toBe('lr=0.01 optimizer.name=adam name="a b"');
    expect(filters(text)).toEqual(parsed);
  });

  it("quotes a value from a hand-written URL that holds a separator", () => {
    const fromUrl = configFiltersOf(new URLSearchParams("config.note=two%20words"));
    expect(fromUrl).toEqual([{ key: "note", value: "two words" }]);
    expect(formatConfigSearch(fromUrl)).toBe('note="two words"');
  });
});

describe("configFilterProblem", () => {
  it("reads the server's 422 on a config parameter", () => {
    const refused = new ApiError(422, {
      detail: [
        {
          type: "value_error",
          loc: ["query", "config.x"],
          msg: "a config filter's value has at most 200 characters and no NUL",
          input: "…",
        },
      ],
    });
    expect(configFilterProblem(refused)).toBe(
      "config.x: a config filter's value has at most 200 characters and no NUL",
    );
  });

  it("is null for any other error", () => {
    const other = new ApiError(422, { detail: [{ type: "x", loc: ["query", "limit"], msg: "too big" }] });
    expect(configFilterProblem(other)).toBeNull();
    expect(configFilterProblem(new ApiError(500, "boom"))).toBeNull();
    expect(configFilterProblem(new Error("offline"))).toBeNull();
    expect(configFilterProblem(null)).toBeNull();
  });
});
