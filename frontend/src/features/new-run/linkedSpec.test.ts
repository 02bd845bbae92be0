import { describe, expect, it } from "vitest";

import { LINKED_SPEC_PARAM, linkedSpecFrom, newRunHref, withLinkedSpec } from "./linkedSpec";

describe("a spec carried by the New-run link", () => {
  it("round-trips through the href's query", () => {
    const spec = { project: "lab-a", benchmark: { name: "custom", dataset: 3 } };
    const href = newRunHref(spec);
    expect(href.startsWith("/runs/new?spec=")).toBe(true);
    const search = new URL(href, "http://x").searchParams;
    expect(linkedSpecFrom(search)).toEqual({ spec });
  });

  it("is absent without the parameter, and refused when it is not a JSON object", () => {
    expect(linkedSpecFrom(new URLSearchParams())).toEqual({});
    expect(linkedSpecFrom(new URLSearchParams({ [LINKED_SPEC_PARAM]: "{nope" })).problem).toMatch(
      /not JSON/,
    );
    expect(linkedSpecFrom(new URLSearchParams({ [LINKED_SPEC_PARAM]: "[1]" })).problem).toMatch(
      /not a JSON object/,
    );
  });

  it("replaces the preset's top-level keys it names and keeps the others", () => {
    const preset = {
      benchmark: { name: "split_digits", n_tasks: 5 },
      model: { name: "mlp" },
      seed: 0,
    };
    expect(withLinkedSpec(preset, { benchmark: { name: "custom", dataset: 3 } })).toEqual({
      benchmark: { name: "custom", dataset: 3 },
      model: { name: "mlp" },
      seed: 0,
    });
    expect(withLinkedSpec(preset, undefined)).toEqual(preset);
    expect(withLinkedSpec(undefined, { seed: 4 })).toEqual({ seed: 4 });
  });
});
