import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import openapiText from "../../../openapi.json?raw";
import { type JsonSchema, allFields, describeForm, draftFromSpec } from "./schemaForm";
import { problemsFrom } from "./submitErrors";

const openapi = JSON.parse(openapiText) as { components: { schemas: Record<string, JsonSchema> } };
const ctx = { root: openapi };
const draft = draftFromSpec({
  benchmark: { name: "rotated_mnist", scenario: "class_incremental" },
  model: { name: "mlp" },
  strategy: { name: "er", buffer_size: 0 },
  training: { iterations_per_task: 10 },
});
const fields = allFields(
  describeForm(ctx, openapi.components.schemas.RunSpec!, (p) => (typeof draft[p] === "string" ? (draft[p] as string) : undefined)),
);

describe("problemsFrom", () => {
  it("puts a 422's errors next to their fields and the rest at the top", () => {
    const error = new ApiError(422, {
      detail: [
        { loc: ["body", "strategy", "er", "buffer_size"], msg: "Input should be greater than or equal to 1", type: "x" },
        { loc: ["body", "benchmark", "rotated_mnist"], msg: "Value error, scenario 'class_incremental' does not apply", type: "value_error" },
        { loc: ["body"], msg: "Value error, model cnn needs image inputs", type: "value_error" },
      ],
    });
    expect(problemsFrom(error, fields, draft)).toEqual({
      fieldErrors: { "strategy.buffer_size": "Input should be greater than or equal to 1" },
      formErrors: [
        "benchmark: scenario 'class_incremental' does not apply",
        "spec: model cnn needs image inputs",
      ],
    });
  });

  it("keeps the first message when a field has several", () => {
    const error = new ApiError(422, {
      detail: [
        { loc: ["body", "tags", 0], msg: "first", type: "x" },
        { loc: ["body", "tags", 1], msg: "second", type: "x" },
      ],
    });
    expect(problemsFrom(error, fields, draft).fieldErrors).toEqual({ tags: "first" });
  });

  it("shows any other failure at the top", () => {
    const unavailable = new ApiError(503, { detail: "broker unreachable; the run is stored and queued" });
    expect(problemsFrom(unavailable, fields, draft)).toEqual({
      fieldErrors: {},
      formErrors: ["broker unreachable; the run is stored and queued"],
    });
    expect(problemsFrom(new TypeError("Failed to fetch"), fields, draft).formErrors).toEqual(["Failed to fetch"]);
  });
});
