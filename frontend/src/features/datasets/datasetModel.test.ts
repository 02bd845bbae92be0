import { describe, expect, it } from "vitest";

import openapiText from "../../../openapi.json?raw";
import { ApiError } from "../../api/client";
import { MISSING, formatBytes } from "../../components/format";
import type { DatasetRead } from "../../api/datasets";
import { DATASET_PATH, withDatasetChoice } from "../new-run/datasetField";
import { linkedSpecFrom, withLinkedSpec } from "../new-run/linkedSpec";
import { draftForSpec } from "../new-run/projectField";
import {
  type JsonSchema,
  allFields,
  describeForm,
  fieldValue,
  specFromDraft,
  validateSpec,
} from "../new-run/schemaForm";
import {
  checkUpload,
  classTasks,
  classesText,
  customBenchmarkFor,
  featureShapeText,
  newRunWithDataset,
  shapesTitle,
  shortDigest,
  uploadProblems,
} from "./datasetModel";

const DIGEST = "3f".repeat(32);
const DATASET: DatasetRead = {
  id: 4,
  project: "lab-a",
  name: "blobs",
  digest: DIGEST,
  format: "npz",
  size_bytes: 40_960,
  shapes: { x_train: [120, 8, 8], y_train: [120], x_test: [30, 8, 8], y_test: [30] },
  dtype: "float32",
  classes: [0, 1, 2, 3, 4],
  n_train: 120,
  n_test: 30,
  created_at: "2025-01-02T03:04:05Z",
  created_by: "ada",
};

describe("how a dataset reads", () => {
  it("shortens the digest and writes classes as ranges", () => {
    expect(shortDigest(DIGEST)).toBe("3f3f3f3f3f3f…");
    expect(classesText([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toBe("0–9");
    expect(classesText([7, 0, 1, 2, 5, 9, 8])).toBe("0–2, 5, 7–9");
    expect(classesText([])).toBe("none");
    const scattered = Array.from({ length: 12 }, (_, i) => i * 3);
    expect(classesText(scattered)).toBe("0, 3, 6, 9, 12, 15, 18, 21, … (12 classes)");
  });

  it("writes a sample's shape, every array's shape and the size", () => {
    expect(featureShapeText(DATASET.shapes)).toBe("8 × 8");
    expect(featureShapeText({ ...DATASET.shapes, x_train: [10] })).toBe("scalar");
    expect(shapesTitle(DATASET.shapes)).toBe(
      "x_train [120, 8, 8]\ny_train [120]\nx_test [30, 8, 8]\ny_test [30]",
    );
    expect(formatBytes(812)).toBe("812 B");
    expect(formatBytes(40_960)).toBe("40.0 KiB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(formatBytes(null)).toBe(MISSING);
    expect(formatBytes(-1)).toBe(MISSING);
  });
});

describe("the custom benchmark a new run starts from", () => {
  it("splits the classes in pairs, an odd one joining the last task", () => {
    expect(classTasks([3, 2, 1, 0])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(classTasks([0, 1, 2, 3, 4])).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    expect(classTasks([4, 9, 9])).toEqual([[4], [9]]);
    expect(classTasks([1])).toBeNull();
  });

  it("falls back to permuted copies (domain-incremental) for a dataset of one class", () => {
    expect(customBenchmarkFor({ id: 2, classes: [0] })).toEqual({
      name: "custom",
      dataset: 2,
      split: { kind: "permutations", n_tasks: 5 },
      scenario: "domain_incremental",
    });
  });

  it("links to a New-run form whose spec the real schema accepts, with the dataset chosen", () => {
    const linked = linkedSpecFrom(new URL(newRunWithDataset(DATASET), "http://x").searchParams);
    expect(linked.spec).toEqual({
      project: "lab-a",
      benchmark: {
        name: "custom",
        dataset: 4,
        split: { kind: "classes", tasks: [[0, 1], [2, 3, 4]] },
        scenario: "class_incremental",
      },
    });
    // The form as the New-run page builds it: the preset, the link's keys over it, the
    // project's datasets as the dataset field's choices.
    const openapi = JSON.parse(openapiText) as { components: { schemas: Record<string, JsonSchema> } };
    const ctx = { root: openapi };
    const runSpec = openapi.components.schemas.RunSpec!;
    const preset = {
      benchmark: { name: "split_digits", n_tasks: 5 },
      model: { name: "mlp", hidden_sizes: [64] },
      strategy: { name: "finetune" },
      training: { iterations_per_task: 50 },
    };
    const draft = draftForSpec(withLinkedSpec(preset, linked.spec), null);
    const variantOf = (p: string) => (typeof draft[p] === "string" ? (draft[p] as string) : undefined);
    const fields = allFields(
      withDatasetChoice(describeForm(ctx, runSpec, variantOf), "custom", "lab-a", [DATASET]),
    );
    expect(fieldValue(fields.find((f) => f.path === DATASET_PATH)!, draft)).toBe("4");
    const { spec, errors } = specFromDraft(fields, draft);
    expect(errors).toEqual({});
    expect(validateSpec(ctx, runSpec, spec)).toEqual({});
    expect(spec.benchmark).toEqual(linked.spec!.benchmark);
    expect(spec.model).toEqual(preset.model);
  });
});

describe("an upload's refusals, by field", () => {
  const refused = (status: number, body: unknown) => uploadProblems(new ApiError(status, body));

  it("checks the file and the name before sending", () => {
    expect(checkUpload(null, "")).toEqual({
      fieldErrors: { file: "Choose a .npz or .pt file" },
      formErrors: [],
    });
    expect(checkUpload({ name: "data.csv", size: 10 }, "")?.fieldErrors.file).toMatch(/Only \.npz .* or \.pt/);
    expect(checkUpload({ name: "data.NPZ", size: 0 }, "")?.fieldErrors.file).toBe("The file is empty");
    expect(checkUpload({ name: "data.pt", size: 10 }, "Bad Name")?.fieldErrors.name).toMatch(/Lower-case/);
    expect(checkUpload({ name: "data.npz", size: 10 }, "")).toBeNull();
    expect(checkUpload({ name: "data.npz", size: 10 }, "digits.v2")).toBeNull();
  });

  it("puts a too-large file (413) under the file, in the server's words where it gave some", () => {
    expect(refused(413, { detail: "The file is over the 1 GiB limit" })).toEqual({
      fieldErrors: { file: "The file is over the 1 GiB limit" },
      formErrors: [],
    });
    expect(refused(413, "<html>Request Entity Too Large</html>").fieldErrors.file).toBe(
      "The file is larger than the server accepts (HTTP 413)",
    );
  });

  it("puts a taken name (409) under the name", () => {
    expect(refused(409, { detail: "project lab-a already has a dataset named blobs" })).toEqual({
      fieldErrors: { name: "project lab-a already has a dataset named blobs" },
      formErrors: [],
    });
  });

  it("puts a 422 under the field its loc names, the rest above the form", () => {
    const body = {
      detail: [
        { loc: ["body", "file"], msg: "Value error, y_train has 90 labels for 100 samples", type: "value_error" },
        { loc: ["body", "file"], msg: "x_test is missing", type: "value_error" },
        { loc: ["body", "name"], msg: "String should match pattern", type: "string_pattern_mismatch" },
        { loc: ["body", "project"], msg: "unknown project", type: "value_error" },
      ],
    };
    expect(refused(422, body)).toEqual({
      fieldErrors: {
        file: "y_train has 90 labels for 100 samples\nx_test is missing",
        name: "String should match pattern",
      },
      formErrors: ["project: unknown project"],
    });
  });

  it("says anything else above the form", () => {
    expect(refused(403, { detail: "editor role needed in lab-a" })).toEqual({
      fieldErrors: {},
      formErrors: ["editor role needed in lab-a"],
    });
    expect(uploadProblems(new TypeError("Failed to fetch"))).toEqual({
      fieldErrors: {},
      formErrors: ["Failed to fetch"],
    });
  });
});
