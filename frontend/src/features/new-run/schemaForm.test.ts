import { describe, expect, it } from "vitest";

import openapiText from "../../../openapi.json?raw";
import {
  type Draft,
  type FieldDescriptor,
  type JsonSchema,
  type SchemaContext,
  allFields,
  boundsHint,
  changeDraft,
  describeForm,
  draftFromSpec,
  errorPathFromLoc,
  fieldValue,
  resolve,
  specFromDraft,
  unionTags,
  validateSpec,
} from "./schemaForm";

// The real RunSpec schema as the backend publishes it in the OpenAPI document (refs point at
// #/components/schemas/...); /api/v1/spec serves the same schema with #/$defs/... refs.
const openapi = JSON.parse(openapiText) as { components: { schemas: Record<string, JsonSchema> } };
const ctx: SchemaContext = { root: openapi };
const runSpec = openapi.components.schemas.RunSpec!;

function formFor(draft: Draft) {
  const groups = describeForm(ctx, runSpec, (path) => {
    const value = draft[path];
    return typeof value === "string" ? value : undefined;
  });
  return { groups, fields: allFields(groups) };
}

function field(fields: FieldDescriptor[], path: string): FieldDescriptor {
  const found = fields.find((f) => f.path === path);
  if (!found) throw new Error(`no field ${path} in ${fields.map((f) => f.path).join(", ")}`);
  return found;
}

const ER_DIGITS = {
  benchmark: { name: "split_digits", scenario: "class_incremental", n_tasks: 5, test_fraction: 0.3 },
  model: { name: "mlp", hidden_sizes: [400, 400] },
  strategy: {
    name: "er",
    buffer_size: 200,
    replay_batch_size: null,
    head_init: "default",
    freeze_old_heads: false,
    soft_targets: 0,
    lora_rank: null,
    buffer_policy: "reservoir",
    replay_weight: null,
  },
  optimizer: { name: "sgd", lr: 0.01, momentum: 0, weight_decay: 0, beta_utility: 0.999, sigma: 0.001 },
  training: { iterations_per_task: 300, epochs_per_task: null, online: false, batch_size: 32 },
  evaluation: {
    every: 1,
    subset_size: 1000,
    include_unseen: false,
    gap_window: 200,
    diagnostics: false,
    dormant_threshold: 0.01,
    probe_size: 128,
  },
  project: null,
  name: null,
  group: null,
  tags: ["demo", "er"],
  seed: 3,
  device: "auto",
  queue: null,
  checkpoint_every: 1000,
};

describe("describeForm on the real RunSpec schema", () => {
  it("groups fields by section in schema order, with top-level scalars last under Run", () => {
    const { groups } = formFor({});
    expect(groups.map((g) => g.id)).toEqual([
      "benchmark",
      "model",
      "strategy",
      "optimizer",
      "training",
      "evaluation",
      "run",
    ]);
    const run = groups.find((g) => g.id === "run")!;
    expect(run.fields.map((f) => f.path)).toEqual([
      "project",
      "name",
      "group",
      "tags",
      "seed",
      "device",
      "queue",
      "checkpoint_every",
    ]);
  });

  it("renders a union as a select of its variant tags followed by the chosen variant's fields", () => {
    const { fields } = formFor({ "strategy.name": "er" });
    const name = field(fields, "strategy.name");
    expect(name.kind).toBe("variant");
    expect(name.options).toEqual(
      expect.arrayContaining(["finetune", "joint", "er", "er_ace", "agem", "ewc", "si", "lwf", "der", "derpp"]),
    );
    const strategyPaths = fields.filter((f) => f.group === "strategy").map((f) => f.path);
    expect(strategyPaths).toEqual([
      "strategy.name",
      "strategy.buffer_size",
      "strategy.replay_batch_size",
      "strategy.head_init",
      "strategy.freeze_old_heads",
      "strategy.soft_targets",
      "strategy.lora_rank",
      "strategy.buffer_policy",
      "strategy.replay_weight",
    ]);
  });

  it("switches the variant's fields with the tag", () => {
    const { fields, groups } = formFor({ "strategy.name": "ewc" });
    const paths = fields.filter((f) => f.group === "strategy").map((f) => f.path);
    expect(paths).toContain("strategy.ewc_lambda");
    expect(paths).not.toContain("strategy.buffer_size");
    expect(field(fields, "strategy.online").kind).toBe("boolean");
    expect(groups.find((g) => g.id === "strategy")!.description).toMatch(/Elastic weight consolidation/);
  });

  it("reads bounds, defaults, nullability, enums and descriptions", () => {
    const { fields } = formFor({ "strategy.name": "er" });
    const buffer = field(fields, "strategy.buffer_size");
    expect(buffer).toMatchObject({ kind: "integer", default: 200, nullable: false });
    expect(buffer.bounds).toEqual({ minimum: 1, maximum: 1_000_000 });
    expect(buffer.description).toMatch(/Samples kept in memory/);

    const replayBatch = field(fields, "strategy.replay_batch_size");
    expect(replayBatch).toMatchObject({ kind: "integer", nullable: true });
    expect(replayBatch.bounds.maximum).toBe(65536);

    const lr = field(fields, "optimizer.lr");
    expect(lr).toMatchObject({ kind: "number", default: 0.01 });
    expect(lr.bounds).toEqual({ exclusiveMinimum: 0, maximum: 10 });
    expect(field(fields, "optimizer.momentum").bounds).toEqual({ minimum: 0, exclusiveMaximum: 1 });

    expect(field(fields, "optimizer.name")).toMatchObject({ kind: "enum", options: ["sgd", "adam", "upgd"] });
    expect(field(fields, "benchmark.scenario").options).toEqual([
      "class_incremental",
      "task_incremental",
      "domain_incremental",
    ]);
    expect(field(fields, "checkpoint_every")).toMatchObject({ nullable: true, default: 1000 });
    expect(field(fields, "queue").bounds.pattern).toBe("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");
    expect(field(fields, "name").bounds.maxLength).toBe(200);
  });

  it("turns arrays of scalars into list fields with item bounds", () => {
    const { fields } = formFor({});
    const tags = field(fields, "tags");
    expect(tags).toMatchObject({ kind: "list", itemKind: "string" });
    expect(tags.bounds.maxItems).toBe(32);
    expect(tags.itemBounds).toEqual({ minLength: 1, maxLength: 64 });
    const hidden = field(fields, "model.hidden_sizes");
    expect(hidden).toMatchObject({ kind: "list", itemKind: "integer" });
    expect(hidden.bounds).toEqual({ minItems: 1, maxItems: 16 });
  });

  it("keeps numeric enums as numbers (split_cifar100 n_tasks 10 or 20)", () => {
    const { fields } = formFor({ "benchmark.name": "split_cifar100" });
    expect(field(fields, "benchmark.n_tasks")).toMatchObject({ kind: "enum", options: [10, 20] });
  });

  it("starts each union on its first declared variant, not the alphabetically first tag", () => {
    const { fields } = formFor({});
    const draft: Draft = {};
    expect(["benchmark.name", "model.name", "strategy.name"].map((p) => fieldValue(field(fields, p), draft))).toEqual([
      "split_digits",
      "mlp",
      "finetune",
    ]);
    expect(unionTags(ctx, runSpec, "strategy").slice(0, 3)).toEqual(["finetune", "joint", "er"]);
    expect(unionTags(ctx, runSpec, "optimizer")).toEqual([]);
  });

  it("resolves $defs refs the way /api/v1/spec serves the schema", () => {
    const defsSchema: JsonSchema = {
      $defs: { Inner: { type: "object", properties: { k: { type: "integer", minimum: 2, default: 3 } } } },
      type: "object",
      properties: { inner: { $ref: "#/$defs/Inner" } },
    };
    const groups = describeForm({ root: defsSchema }, defsSchema);
    expect(allFields(groups)).toEqual([
      expect.objectContaining({ path: "inner.k", kind: "integer", default: 3, bounds: { minimum: 2 } }),
    ]);
  });

  it("follows a $ref with a description beside it, the description winning", () => {
    const root = { defs: { A: { type: "integer", description: "from ref" } } };
    expect(resolve({ root }, { $ref: "#/defs/A", description: "beside" })).toEqual({
      type: "integer",
      description: "beside",
    });
  });
});

describe("draft <-> spec", () => {
  it("round-trips a complete spec through a draft", () => {
    const draft = draftFromSpec(ER_DIGITS);
    expect(draft["strategy.buffer_size"]).toBe("200");
    expect(draft["model.hidden_sizes"]).toBe("400, 400");
    expect(draft["evaluation.include_unseen"]).toBe(false);
    expect(draft["queue"]).toBe("");
    const { fields } = formFor(draft);
    const { spec, errors } = specFromDraft(fields, draft);
    expect(errors).toEqual({});
    expect(spec).toEqual(ER_DIGITS);
  });

  it("fills untouched fields with schema defaults and leaves out defaults the schema does not state", () => {
    const draft: Draft = { "benchmark.name": "split_digits", "model.name": "mlp", "strategy.name": "finetune" };
    const { fields } = formFor(draft);
    expect(fieldValue(field(fields, "training.batch_size"), draft)).toBe("32");
    const { spec } = specFromDraft(fields, draft);
    expect(spec.training).toEqual({
      iterations_per_task: null,
      epochs_per_task: null,
      online: false,
      batch_size: 32,
    });
    expect(spec.strategy).toEqual({ name: "finetune" });
    // hidden_sizes has a default_factory the schema does not show: omitted, the server fills it.
    expect(spec.model).toEqual({ name: "mlp" });
    expect(spec.seed).toBe(0);
    expect(spec.checkpoint_every).toBe(1000);
  });

  it("drops the previous variant's options when the variant changes", () => {
    const draft = { ...draftFromSpec(ER_DIGITS), "strategy.name": "ewc" };
    const { fields } = formFor(draft);
    const { spec } = specFromDraft(fields, draft);
    expect(spec.strategy).toEqual({
      name: "ewc",
      ewc_lambda: 100,
      online: false,
      gamma: 1,
      fisher_samples: 1024,
    });
  });

  it("switching a union's variant drops the old variant's values, so the new one's defaults apply", () => {
    const digits = draftFromSpec(ER_DIGITS);
    const rotated = changeDraft(formFor(digits).fields, digits, "benchmark.name", "rotated_mnist");
    const { spec } = specFromDraft(formFor(rotated).fields, rotated);
    // split_digits' class_incremental / 5 tasks must not carry over: rotated_mnist defaults.
    expect(spec.benchmark).toEqual({
      name: "rotated_mnist",
      scenario: "domain_incremental",
      n_tasks: 5,
      angles: null,
    });
    const permuted = changeDraft(formFor(rotated).fields, rotated, "benchmark.name", "permuted_mnist");
    expect(specFromDraft(formFor(permuted).fields, permuted).spec.benchmark).toEqual({
      name: "permuted_mnist",
      scenario: "domain_incremental",
      n_tasks: 10,
    });
    // split_cifar100 only takes 10 or 20 tasks: the draft's 5 must not stay behind.
    const cifar = changeDraft(formFor(digits).fields, digits, "benchmark.name", "split_cifar100");
    const parsed = specFromDraft(formFor(cifar).fields, cifar);
    expect(parsed.errors).toEqual({});
    expect(parsed.spec.benchmark).toEqual({
      name: "split_cifar100",
      scenario: "class_incremental",
      n_tasks: 10,
    });
    // Other sections, and the values of an unchanged tag, are left alone.
    expect(parsed.spec.strategy).toEqual(ER_DIGITS.strategy);
    expect(cifar["benchmark.name"]).toBe("split_cifar100");
    const same = changeDraft(formFor(digits).fields, digits, "benchmark.name", "split_digits");
    expect(same).toEqual(digits);
    const edited = changeDraft(formFor(digits).fields, digits, "benchmark.n_tasks", "3");
    expect(edited).toEqual({ ...digits, "benchmark.n_tasks": "3" });
  });

  it("a cleared nullable field is null; unreadable numbers are reported by path", () => {
    const draft = { ...draftFromSpec(ER_DIGITS), checkpoint_every: "", "training.batch_size": "3two" };
    const { fields } = formFor(draft);
    const { spec, errors } = specFromDraft(fields, draft);
    expect(spec.checkpoint_every).toBeNull();
    expect(errors).toEqual({ "training.batch_size": "Enter a number" });
  });

  it("maps a numeric enum's text back to the number", () => {
    const draft = { ...draftFromSpec(ER_DIGITS), "benchmark.name": "split_cifar100", "benchmark.n_tasks": "20" };
    const { fields } = formFor(draft);
    expect(specFromDraft(fields, draft).spec.benchmark).toEqual({
      name: "split_cifar100",
      scenario: "class_incremental",
      n_tasks: 20,
    });
  });
});

describe("validateSpec mirrors the server's bounds", () => {
  const validate = (spec: unknown) => validateSpec(ctx, runSpec, spec);
  const withPatch = (path: string, value: unknown) => {
    const spec = structuredClone(ER_DIGITS) as Record<string, unknown>;
    const keys = path.split(".");
    let node = spec;
    for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[keys[keys.length - 1]!] = value;
    return spec;
  };

  it("accepts a valid spec", () => {
    expect(validate(ER_DIGITS)).toEqual({});
  });

  it("checks inclusive and exclusive bounds", () => {
    expect(validate(withPatch("training.batch_size", 0))).toEqual({
      "training.batch_size": "Input should be greater than or equal to 1",
    });
    expect(validate(withPatch("training.batch_size", 65_537))).toEqual({
      "training.batch_size": "Input should be less than or equal to 65536",
    });
    expect(validate(withPatch("optimizer.lr", 0))).toEqual({ "optimizer.lr": "Input should be greater than 0" });
    expect(validate(withPatch("optimizer.momentum", 1))).toEqual({ "optimizer.momentum": "Input should be less than 1" });
    expect(validate(withPatch("optimizer.momentum", 0.9))).toEqual({});
  });

  it("checks integers, nullable bounds and the variant's own fields", () => {
    expect(validate(withPatch("seed", 1.5))).toEqual({ seed: "Input should be a valid integer" });
    expect(validate(withPatch("strategy.replay_batch_size", 0))).toEqual({
      "strategy.replay_batch_size": "Input should be greater than or equal to 1",
    });
    expect(validate(withPatch("strategy.replay_weight", 1.5))).toEqual({
      "strategy.replay_weight": "Input should be less than or equal to 1",
    });
    expect(validate(withPatch("strategy.replay_weight", null))).toEqual({});
  });

  it("checks enums, union tags, patterns, lengths and list bounds", () => {
    expect(validate(withPatch("benchmark.scenario", "online"))).toEqual({
      "benchmark.scenario": "Input should be 'class_incremental' or 'task_incremental' or 'domain_incremental'",
    });
    expect(validate(withPatch("strategy.name", "no_such"))["strategy.name"]).toMatch(
      /Input tag 'no_such'/,
    );
    expect(validate(withPatch("queue", "-gpu"))).toEqual({
      queue: "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'",
    });
    expect(validate(withPatch("queue", "gpu-a100"))).toEqual({});
    expect(validate(withPatch("name", "x".repeat(201)))).toEqual({ name: "String should have at most 200 characters" });
    expect(validate(withPatch("model.hidden_sizes", []))).toEqual({
      "model.hidden_sizes": "List should have at least 1 item",
    });
    expect(validate(withPatch("model.hidden_sizes", [400, 0]))).toEqual({
      "model.hidden_sizes": "Item 2: Input should be greater than or equal to 1",
    });
    expect(validate(withPatch("tags", ["ok", ""]))).toEqual({
      tags: "Item 2: String should have at least 1 character",
    });
  });

  it("reports missing required fields and unknown keys, as the strict server does", () => {
    const { strategy: _dropped, ...noStrategy } = ER_DIGITS;
    expect(validate(noStrategy)).toEqual({ strategy: "Field required" });
    expect(validate(withPatch("strategy.memory_size", 10))).toEqual({
      "strategy.memory_size": "Extra inputs are not permitted",
    });
  });
});

describe("errorPathFromLoc", () => {
  const draft = draftFromSpec(ER_DIGITS);
  const { fields } = formFor(draft);

  it("strips body and the union tag pydantic inserts", () => {
    expect(errorPathFromLoc(["body", "strategy", "er", "buffer_size"], fields, draft)).toBe("strategy.buffer_size");
    expect(errorPathFromLoc(["body", "training", "batch_size"], fields, draft)).toBe("training.batch_size");
    expect(errorPathFromLoc(["body", "seed"], fields, draft)).toBe("seed");
  });

  it("maps a list item to its list and leaves unknown places to the form-level error", () => {
    expect(errorPathFromLoc(["body", "model", "mlp", "hidden_sizes", 1], fields, draft)).toBe("model.hidden_sizes");
    expect(errorPathFromLoc(["body", "tags", 0], fields, draft)).toBe("tags");
    expect(errorPathFromLoc(["body", "benchmark", "split_digits"], fields, draft)).toBeNull();
    expect(errorPathFromLoc(["body"], fields, draft)).toBeNull();
    expect(errorPathFromLoc(["body", "strategy", "er", "memory_size"], fields, draft)).toBeNull();
  });

  it("strips only the selected tag, so a tag-like field name survives", () => {
    const ewcDraft = { ...draft, "strategy.name": "ewc" };
    const ewc = formFor(ewcDraft).fields;
    expect(errorPathFromLoc(["body", "strategy", "ewc", "gamma"], ewc, ewcDraft)).toBe("strategy.gamma");
    expect(errorPathFromLoc(["body", "strategy", "er", "gamma"], ewc, ewcDraft)).toBeNull();
  });
});

describe("the same schema with #/$defs refs, as GET /api/v1/spec serves it", () => {
  // pydantic's model_json_schema() output: the component schemas under $defs, refs rewritten.
  const text = JSON.stringify(openapi.components.schemas).replaceAll("#/components/schemas/", "#/$defs/");
  const defs = JSON.parse(text) as Record<string, JsonSchema>;
  const { RunSpec: served, ...others } = defs;
  const standalone: JsonSchema = { ...served, $defs: others };
  const own: SchemaContext = { root: standalone };

  it("builds the same fields and validates the same way", () => {
    const draft = draftFromSpec(ER_DIGITS);
    const variantOf = (p: string) => (typeof draft[p] === "string" ? (draft[p] as string) : undefined);
    const fromDefs = allFields(describeForm(own, standalone, variantOf));
    expect(fromDefs).toEqual(formFor(draft).fields);
    expect(validateSpec(own, standalone, ER_DIGITS)).toEqual({});
    expect(validateSpec(own, standalone, { ...ER_DIGITS, strategy: { name: "er", buffer_size: 0 } })).toEqual({
      "strategy.buffer_size": "Input should be greater than or equal to 1",
    });
  });
});

describe("boundsHint", () => {
  const { fields } = formFor({ "strategy.name": "er" });
  it("writes inclusive ranges, exclusive bounds and lengths compactly", () => {
    expect(boundsHint(field(fields, "training.batch_size"))).toBe("1 … 65,536");
    expect(boundsHint(field(fields, "optimizer.lr"))).toBe("> 0, ≤ 10");
    expect(boundsHint(field(fields, "optimizer.momentum"))).toBe("≥ 0, < 1");
    expect(boundsHint(field(fields, "model.hidden_sizes"))).toBe("1 … 16,384");
    expect(boundsHint(field(fields, "name"))).toBe("≤ 200 characters");
    expect(boundsHint(field(fields, "evaluation.include_unseen"))).toBeNull();
  });
});

describe("a custom benchmark: its nested split union and its lists of classes", () => {
  const CUSTOM = {
    ...ER_DIGITS,
    benchmark: {
      name: "custom",
      dataset: 7,
      split: { kind: "classes", tasks: [[0, 1], [2, 3, 4]] },
      scenario: "class_incremental",
      normalize: null,
    },
  };

  it("shows the split as a select of its kinds, then the chosen kind's fields", () => {
    const draft = draftFromSpec(CUSTOM);
    expect(draft["benchmark.split.tasks"]).toBe("0, 1; 2, 3, 4");
    const { fields, groups } = formFor(draft);
    const paths = fields.filter((f) => f.group === "benchmark").map((f) => f.path);
    expect(paths).toEqual([
      "benchmark.name",
      "benchmark.dataset",
      "benchmark.digest",
      "benchmark.split.kind",
      "benchmark.split.tasks",
      "benchmark.scenario",
      "benchmark.normalize.mean",
      "benchmark.normalize.std",
    ]);
    expect(field(fields, "benchmark.split.kind")).toMatchObject({
      kind: "variant",
      label: "Split",
      options: ["classes", "permutations", "rotations"],
    });
    expect(field(fields, "benchmark.split.kind").description).toMatch(/One task per list/);
    expect(field(fields, "benchmark.split.tasks")).toMatchObject({
      kind: "lists",
      itemKind: "integer",
      itemBounds: { minimum: 0, maximum: 100_000 },
      innerBounds: { minItems: 1 },
      bounds: { minItems: 2, maxItems: 1000 },
    });
    expect(boundsHint(field(fields, "benchmark.split.tasks"))).toBe("0 … 100,000");
    // An object's fields are named after it, and the first one carries its description.
    expect(field(fields, "benchmark.normalize.mean")).toMatchObject({ label: "Normalize mean" });
    expect(field(fields, "benchmark.normalize.mean").description).toMatch(/Per-channel/);
    expect(field(fields, "benchmark.normalize.std").label).toBe("Normalize std");
    // The section keeps the benchmark's own description, not the split kind's.
    expect(groups.find((g) => g.id === "benchmark")!.description).toMatch(/Tasks cut from a dataset/);
  });

  it("round-trips the spec, lists of classes included", () => {
    const draft = draftFromSpec(CUSTOM);
    const { spec, errors } = specFromDraft(formFor(draft).fields, draft);
    expect(errors).toEqual({});
    // An unset normalize (both lists empty) is left out: the server's default, null.
    const { normalize: _unset, ...benchmark } = CUSTOM.benchmark;
    expect(spec).toEqual({ ...CUSTOM, benchmark: { ...benchmark, digest: null } });
    expect(validateSpec(ctx, runSpec, spec)).toEqual({});
  });

  it("reads typed class lists loosely and reports what is not a number", () => {
    const base = draftFromSpec(CUSTOM);
    const read = (text: string) => {
      const draft = { ...base, "benchmark.split.tasks": text };
      return specFromDraft(formFor(draft).fields, draft);
    };
    expect((read("0,1;2,3;").spec.benchmark as { split: unknown }).split).toEqual({
      kind: "classes",
      tasks: [[0, 1], [2, 3]],
    });
    expect(read("0, 1; two").errors).toEqual({
      "benchmark.split.tasks": "Enter numbers separated by commas, one list from the next by a semicolon",
    });
    const emptyTask = read("0, 1;; 2").spec;
    expect(validateSpec(ctx, runSpec, emptyTask)).toEqual({
      "benchmark.split.tasks": "Item 2: List should have at least 1 item",
    });
    expect(validateSpec(ctx, runSpec, read("0, 1").spec)).toEqual({
      "benchmark.split.tasks": "List should have at least 2 items",
    });
  });

  it("switches the split kind, the new kind starting from its own defaults", () => {
    const draft = draftFromSpec(CUSTOM);
    const permuted = changeDraft(formFor(draft).fields, draft, "benchmark.split.kind", "permutations");
    expect(permuted["benchmark.split.tasks"]).toBeUndefined();
    expect(permuted["benchmark.dataset"]).toBe("7");
    const asPermutations = specFromDraft(formFor(permuted).fields, permuted);
    expect((asPermutations.spec.benchmark as { split: unknown }).split).toEqual({
      kind: "permutations",
      n_tasks: 10,
    });
    const rotated = changeDraft(formFor(permuted).fields, permuted, "benchmark.split.kind", "rotations");
    const angles = { ...rotated, "benchmark.split.angles": "0, 90, 180" };
    const { spec, errors } = specFromDraft(formFor(angles).fields, angles);
    expect(errors).toEqual({});
    expect((spec.benchmark as { split: unknown }).split).toEqual({ kind: "rotations", angles: [0, 90, 180] });
    // Required and not typed yet: the client says so before the server would.
    const untyped = specFromDraft(formFor(rotated).fields, rotated).spec;
    expect(validateSpec(ctx, runSpec, untyped)).toEqual({ "benchmark.split.angles": "Field required" });
  });

  it("maps the server's errors inside the split onto its fields", () => {
    const draft = draftFromSpec(CUSTOM);
    const { fields } = formFor(draft);
    expect(
      errorPathFromLoc(["body", "benchmark", "custom", "split", "classes", "tasks", 1, 0], fields, draft),
    ).toBe("benchmark.split.tasks");
    expect(errorPathFromLoc(["body", "benchmark", "dataset"], fields, draft)).toBe("benchmark.dataset");
  });
});
