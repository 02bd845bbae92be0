import { describe, expect, it } from "vitest";

import openapiText from "../../../openapi.json?raw";
import { datasetLabel } from "../datasets/datasetModel";
import { DATASET_PATH, DIGEST_PATH, withDatasetChoice } from "./datasetField";
import {
  type Draft,
  type JsonSchema,
  allFields,
  describeForm,
  draftFromSpec,
  fieldValue,
  specFromDraft,
} from "./schemaForm";

const openapi = JSON.parse(openapiText) as { components: { schemas: Record<string, JsonSchema> } };
const ctx = { root: openapi };
const runSpec = openapi.components.schemas.RunSpec!;

const DATASETS = [
  { id: 12, name: "blobs", classes: [0, 1, 2, 3] },
  { id: 5, name: "digits", classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
];

function fieldsFor(draft: Draft, datasets: typeof DATASETS | undefined) {
  const variantOf = (p: string) => (typeof draft[p] === "string" ? (draft[p] as string) : undefined);
  const groups = describeForm(ctx, runSpec, variantOf);
  const benchmark = String(draft["benchmark.name"] ?? "");
  return allFields(withDatasetChoice(groups, benchmark, "lab-a", datasets));
}

const customDraft = draftFromSpec({
  benchmark: { name: "custom", dataset: 5, split: { kind: "classes", tasks: [[0, 1], [2, 3]] } },
  model: { name: "mlp" },
  strategy: { name: "finetune" },
});

describe("the custom benchmark's dataset field", () => {
  it("is a select of the project's datasets, labelled name · classes, newest first", () => {
    const dataset = fieldsFor(customDraft, DATASETS).find((f) => f.path === DATASET_PATH)!;
    expect(dataset).toMatchObject({ kind: "enum", options: [12, 5], default: 12, required: true });
    expect(dataset.optionLabels).toEqual({
      "12": "blobs · classes 0–3",
      "5": "digits · classes 0–9",
    });
    expect(datasetLabel(DATASETS[1]!)).toBe("digits · classes 0–9");
    expect(dataset.description).toMatch(/uploaded to lab-a/);
  });

  it("submits the chosen id as a number, and no digest (the API fills it in)", () => {
    const fields = fieldsFor(customDraft, DATASETS);
    expect(fields.some((f) => f.path === DIGEST_PATH)).toBe(false);
    const { spec, errors } = specFromDraft(fields, { ...customDraft, "benchmark.digest": "ab".repeat(32) });
    expect(errors).toEqual({});
    expect(spec.benchmark).toEqual({
      name: "custom",
      dataset: 5,
      split: { kind: "classes", tasks: [[0, 1], [2, 3]] },
      scenario: "class_incremental",
    });
  });

  it("starts on the newest dataset when the draft names none", () => {
    const { "benchmark.dataset": _none, ...draft } = customDraft;
    const dataset = fieldsFor(draft, DATASETS).find((f) => f.path === DATASET_PATH)!;
    expect(fieldValue(dataset, draft)).toBe("12");
  });

  it("refuses an id that is not one of the project's datasets", () => {
    const draft = { ...customDraft, "benchmark.dataset": "99" };
    expect(specFromDraft(fieldsFor(draft, DATASETS), draft).errors[DATASET_PATH]).toBe(
      "Choose one of blobs · classes 0–3, digits · classes 0–9",
    );
  });

  it("says how to get a dataset when the project has none", () => {
    const dataset = fieldsFor(customDraft, []).find((f) => f.path === DATASET_PATH)!;
    expect(dataset.options).toEqual([]);
    expect(dataset.description).toMatch(/no uploaded datasets yet.*gapwatch datasets upload FILE/);
  });

  it("stays an id to type while the datasets are not known, and leaves other benchmarks alone", () => {
    const loading = fieldsFor(customDraft, undefined).find((f) => f.path === DATASET_PATH)!;
    expect(loading.kind).toBe("integer");
    const digits = draftFromSpec({ benchmark: { name: "split_digits" } });
    const variantOf = (p: string) => (typeof digits[p] === "string" ? (digits[p] as string) : undefined);
    const groups = describeForm(ctx, runSpec, variantOf);
    expect(withDatasetChoice(groups, "split_digits", "lab-a", DATASETS)).toEqual(groups);
  });
});
