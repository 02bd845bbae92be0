// The New-run form is built from the RunSpec JSON Schema that the server publishes (pydantic's
// output), so a new benchmark, model, strategy or option appears in the UI without a UI change.
// This module is pure: schema -> field descriptors, form draft <-> spec, and 422 locations ->
// fields; `validateSpec` (specValidation.ts) mirrors the server's checks.
//
// Only the subset of JSON Schema that pydantic emits for RunSpec is understood: $ref (JSON
// pointers, "#/$defs/X" or "#/components/schemas/X"), objects, discriminated unions (oneOf +
// discriminator, also nested: a custom benchmark's `split`), anyOf with null (optional values),
// enum/const, booleans, numbers and integers with (exclusive) bounds, strings with length and
// pattern, arrays of scalars, and arrays of arrays of scalars (a custom split's class lists).

import {
  type FieldErrors,
  type JsonObject,
  type JsonSchema,
  type SchemaContext,
  isObject,
  isObjectSchema,
  joinPath,
  primaryType,
  resolve,
  unionVariants,
  unwrapNullable,
} from "./jsonSchema";

export type { FieldErrors, JsonSchema, SchemaContext } from "./jsonSchema";
export { resolve, resolvePointer, unionVariants, unwrapNullable } from "./jsonSchema";
export { validateSpec } from "./specValidation";

export type ScalarKind = "string" | "integer" | "number";

export type FieldKind =
  /** The discriminator of a union: picking a value picks the variant whose fields follow. */
  | "variant"
  | "enum"
  | "boolean"
  | ScalarKind
  /** An array of scalars, typed as comma-separated text. */
  | "list"
  /** An array of arrays of scalars, typed as "0, 1; 2, 3": `;` between the inner lists. */
  | "lists";

/** The schema keywords that bound a value: what the form shows next to a field and checks. */
const BOUND_KEYS = [
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
] as const;

export type Bounds = Pick<JsonSchema, (typeof BOUND_KEYS)[number]>;

export interface FieldDescriptor {
  /** Dotted path into the spec, e.g. "strategy.buffer_size"; also the input's `name`. */
  path: string;
  /** Top-level section: "benchmark", "model", ..., or "run" for top-level scalars. */
  group: string;
  label: string;
  kind: FieldKind;
  /** For list fields: the kind of each item (of each inner list's item for `lists`). */
  itemKind?: ScalarKind;
  /** Choices of enum and variant fields, as the schema gives them (strings or numbers). */
  options?: readonly (string | number)[];
  /** What a select shows for an option, by the option's text; the option itself otherwise. */
  optionLabels?: Readonly<Record<string, string>>;
  /** anyOf [..., null]: an empty input means null. */
  nullable: boolean;
  required: boolean;
  /** The schema's default; undefined when the schema states none. */
  default?: unknown;
  bounds: Bounds;
  /** Bounds of each item of a list field (of each inner list's item for `lists`). */
  itemBounds?: Bounds;
  /** For `lists` fields: the bounds of each inner list (minItems, maxItems). */
  innerBounds?: Bounds;
  description?: string;
}

export interface FieldGroup {
  id: string;
  title: string;
  /** The group's (or the selected variant's) description, shown as help under the title. */
  description?: string;
  fields: FieldDescriptor[];
}

/** Text typed into inputs, keyed by dotted path; checkboxes hold booleans. */
export type Draft = Record<string, string | boolean>;

const RUN_GROUP = "run";

function boundsOf(schema: JsonSchema): Bounds {
  const bounds: Bounds = {};
  for (const key of BOUND_KEYS) {
    if (schema[key] !== undefined) (bounds as Record<string, unknown>)[key] = schema[key];
  }
  return bounds;
}

// --- Describing the form --------------------------------------------------------------------

const ACRONYMS: Record<string, string> = { lr: "LR", ewc: "EWC", si: "SI", der: "DER", n: "N" };

/** "iterations_per_task" -> "Iterations per task"; "ewc_lambda" -> "EWC lambda". */
export function humanise(key: string): string {
  const words = key.split("_").map((w) => ACRONYMS[w] ?? w);
  const first = words[0] ?? "";
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return words.join(" ");
}

/** Which variant each union currently shows: the draft's tag, else the first one. */
export type VariantOf = (discriminatorPath: string) => string | undefined;

function scalarKind(schema: JsonSchema): ScalarKind | "boolean" | null {
  const type = primaryType(schema);
  if (type === "string" || type === "integer" || type === "number" || type === "boolean") {
    return type;
  }
  return null;
}

function leafField(
  key: string,
  path: string,
  group: string,
  outer: JsonSchema,
  inner: JsonSchema,
  nullable: boolean,
  required: boolean,
): FieldDescriptor {
  const base = {
    path,
    group,
    label: humanise(key),
    nullable,
    required,
    default: outer.default !== undefined ? outer.default : inner.default,
    bounds: boundsOf(inner),
    description: outer.description ?? inner.description,
  };
  if (inner.enum !== undefined || inner.const !== undefined) {
    const options = (inner.enum ?? [inner.const]).filter(
      (o): o is string | number => typeof o === "string" || typeof o === "number",
    );
    return { ...base, kind: "enum", options };
  }
  if (primaryType(inner) === "array") {
    const items = inner.items ?? {};
    if (primaryType(items) === "array") {
      const leaves = items.items ?? {};
      const leafKind = scalarKind(leaves);
      return {
        ...base,
        kind: "lists",
        itemKind: leafKind === "integer" || leafKind === "number" ? leafKind : "string",
        itemBounds: boundsOf(leaves),
        innerBounds: boundsOf(items),
      };
    }
    const itemKind = scalarKind(items);
    return {
      ...base,
      kind: "list",
      itemKind: itemKind === "integer" || itemKind === "number" ? itemKind : "string",
      itemBounds: boundsOf(items),
    };
  }
  const kind = scalarKind(inner);
  return { ...base, kind: kind ?? "string" };
}

interface Walk {
  ctx: SchemaContext;
  variantOf: VariantOf;
  groups: FieldGroup[];
}

function walkObject(walk: Walk, schema: JsonSchema, parent: string, group: FieldGroup): void {
  const required = new Set(schema.required ?? []);
  for (const [key, propSchema] of Object.entries(schema.properties ?? {})) {
    walkProperty(walk, key, propSchema, joinPath(parent, key), required.has(key), group);
  }
}

function walkProperty(
  walk: Walk,
  key: string,
  propSchema: JsonSchema,
  path: string,
  required: boolean,
  group: FieldGroup,
): void {
  const { ctx } = walk;
  const outer = resolve(ctx, propSchema);
  const { inner, nullable } = unwrapNullable(ctx, propSchema);
  const union = unionVariants(ctx, inner);
  if (union) {
    const tags = [...union.variants.keys()];
    const tagPath = joinPath(path, union.propertyName);
    const chosen = walk.variantOf(tagPath);
    const tag = chosen !== undefined && union.variants.has(chosen) ? chosen : tags[0]!;
    const variant = resolve(ctx, union.variants.get(tag)!);
    // A section's own union (benchmark.name) describes the section; a union inside a variant
    // (a custom benchmark's split.kind) is one field of it, labelled and described as such.
    const nested = path !== group.id;
    if (!nested) group.description = variant.description ?? group.description;
    group.fields.push({
      path: tagPath,
      group: group.id,
      label: humanise(nested ? key : union.propertyName),
      kind: "variant",
      options: tags,
      nullable: false,
      required: true,
      bounds: {},
      description: nested ? (variant.description ?? outer.description) : outer.description,
    });
    const variantRequired = new Set(variant.required ?? []);
    for (const [childKey, childSchema] of Object.entries(variant.properties ?? {})) {
      if (childKey === union.propertyName) continue;
      const childPath = joinPath(path, childKey);
      walkProperty(walk, childKey, childSchema, childPath, variantRequired.has(childKey), group);
    }
    return;
  }
  if (isObjectSchema(inner)) {
    const first = group.fields.length;
    walkObject(walk, inner, path, group);
    if (path !== group.id) {
      // An object inside a section (a benchmark's `normalize`) names its fields after itself
      // ("Normalize mean"), and its description goes to its first field.
      const added = group.fields.slice(first);
      for (const child of added) {
        child.label = humanise(`${key}_${child.path.slice(path.length + 1).replace(/\./g, "_")}`);
      }
      const description = outer.description ?? inner.description;
      if (added[0] && !added[0].description && description) added[0].description = description;
    }
    return;
  }
  group.fields.push(leafField(key, path, group.id, outer, inner, nullable, required));
}

/**
 * The form for a spec schema: one group per top-level object or union (Benchmark, Model,
 * Strategy, Optimizer, Training, Evaluation, in schema order), then "Run" for the top-level
 * scalars (name, group, tags, seed, ...). Unions show the variant `variantOf` names.
 */
export function describeForm(
  ctx: SchemaContext,
  schema: JsonSchema,
  variantOf: VariantOf = () => undefined,
): FieldGroup[] {
  const walk: Walk = { ctx, variantOf, groups: [] };
  const root = resolve(ctx, schema);
  const required = new Set(root.required ?? []);
  const run: FieldGroup = { id: RUN_GROUP, title: "Run", fields: [] };
  for (const [key, propSchema] of Object.entries(root.properties ?? {})) {
    const { inner } = unwrapNullable(ctx, propSchema);
    if (unionVariants(ctx, inner) || isObjectSchema(inner)) {
      const group: FieldGroup = {
        id: key,
        title: humanise(key),
        description: inner.oneOf ? undefined : inner.description,
        fields: [],
      };
      walkProperty(walk, key, propSchema, key, required.has(key), group);
      walk.groups.push(group);
    } else {
      walkProperty(walk, key, propSchema, key, required.has(key), run);
    }
  }
  if (run.fields.length > 0) walk.groups.push(run);
  return walk.groups;
}

/** Every field of a form, in display order. */
export function allFields(groups: readonly FieldGroup[]): FieldDescriptor[] {
  return groups.flatMap((g) => g.fields);
}

/** The selected tag of each union, keyed by the union's path ("strategy" -> "er"). */
export function selectedVariants(
  fields: readonly FieldDescriptor[],
  draft: Draft,
): Map<string, string> {
  const selected = new Map<string, string>();
  for (const field of fields) {
    if (field.kind !== "variant") continue;
    const parent = field.path.slice(0, Math.max(0, field.path.lastIndexOf(".")));
    selected.set(parent, String(fieldValue(field, draft)));
  }
  return selected;
}

// --- Draft <-> spec ------------------------------------------------------------------------

/** A list as its input shows it: "a, b"; a list of lists as "0, 1; 2, 3". */
export function listText(value: readonly unknown[]): string {
  if (value.length > 0 && value.every(Array.isArray)) {
    return value.map((inner) => (inner as unknown[]).map(String).join(", ")).join("; ");
  }
  return value.map(String).join(", ");
}

/** What an input shows for a default value: lists as "a, b", null as empty. */
function defaultText(field: FieldDescriptor): string | boolean {
  const value = field.default;
  if (field.kind === "boolean") return value === true;
  if (value === undefined || value === null) {
    return field.kind === "variant" ? String(field.options?.[0] ?? "") : "";
  }
  if (Array.isArray(value)) return listText(value);
  return String(value);
}

/** The draft's value of a field, else the text of its default. */
export function fieldValue(field: FieldDescriptor, draft: Draft): string | boolean {
  const value = draft[field.path];
  return value !== undefined ? value : defaultText(field);
}

/**
 * The draft after one input changed. Picking another variant of a union drops every value
 * under that union but its tag, so the new variant starts from its own defaults: options of
 * the same name differ between variants (rotated_mnist's scenario defaults to
 * domain_incremental, split_cifar100 takes 10 or 20 tasks), and carrying the old variant's
 * values over would submit a spec nobody chose, or one the server refuses.
 */
export function changeDraft(
  fields: readonly FieldDescriptor[],
  draft: Draft,
  path: string,
  value: string | boolean,
): Draft {
  const next: Draft = { ...draft, [path]: value };
  const field = fields.find((f) => f.path === path);
  if (field?.kind !== "variant" || fieldValue(field, draft) === value) return next;
  const union = path.slice(0, Math.max(0, path.lastIndexOf(".")));
  const prefix = union === "" ? "" : `${union}.`;
  for (const key of Object.keys(next)) {
    if (key !== path && key.startsWith(prefix)) delete next[key];
  }
  return next;
}

/**
 * A draft from a complete spec (a preset, or raw JSON the user pasted): objects are flattened
 * into dotted paths, lists joined with ", " (lists of lists also with "; "), null becomes
 * empty text.
 */
export function draftFromSpec(spec: unknown): Draft {
  const draft: Draft = {};
  const visit = (value: unknown, path: string) => {
    if (isObject(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, joinPath(path, key));
    } else if (typeof value === "boolean") {
      draft[path] = value;
    } else if (value === null || value === undefined) {
      draft[path] = "";
    } else if (Array.isArray(value)) {
      draft[path] = listText(value);
    } else {
      draft[path] = String(value);
    }
  };
  visit(spec, "");
  return draft;
}

function setPath(target: JsonObject, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (!isObject(next)) node[key] = {};
    node = node[key] as JsonObject;
  }
  node[keys[keys.length - 1]!] = value;
}

const NOT_A_NUMBER = "Enter a number";

function parseScalar(text: string, kind: ScalarKind): number | string | typeof INVALID {
  if (kind === "string") return text;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : INVALID;
}

const INVALID = Symbol("invalid");
const OMIT = Symbol("omit");

/** "1, 2, 3" -> [1, 2, 3] for numeric items; INVALID when an item is not a number. */
function parseList(text: string, kind: ScalarKind): unknown[] | typeof INVALID {
  const items = text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  const parsed = items.map((t) => parseScalar(t, kind));
  return parsed.includes(INVALID) ? INVALID : parsed;
}

function parseField(field: FieldDescriptor, raw: string | boolean): unknown {
  if (field.kind === "boolean") return raw === true;
  const text = String(raw);
  if (text.trim() === "") {
    // Nullable: the user cleared it, so null (e.g. checkpoint_every: never). Otherwise leave the
    // key out and let the server apply its default (lists with a default_factory, say).
    return field.nullable ? null : OMIT;
  }
  switch (field.kind) {
    case "variant":
    case "enum":
      return field.options?.find((o) => String(o) === text) ?? INVALID;
    case "list":
      return parseList(text, field.itemKind ?? "string");
    case "lists": {
      // "0, 1; 2, 3" -> [[0, 1], [2, 3]]; an empty inner list ("0, 1;; 2") stays, for the
      // bounds check to name it, but a trailing ";" is only punctuation.
      const parts = text.split(";").map((t) => t.trim());
      if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
      const parsed = parts.map((part) => parseList(part, field.itemKind ?? "string"));
      return parsed.includes(INVALID) ? INVALID : parsed;
    }
    default:
      return parseScalar(field.kind === "string" ? text : text.trim(), field.kind);
  }
}

/** What an enum's stray value is told: the choices, by their labels where they have some. */
function choiceError(field: FieldDescriptor): string {
  const options = field.options ?? [];
  if (options.length === 0) return "There is nothing to choose from";
  const shown = options.map((o) => field.optionLabels?.[String(o)] ?? String(o));
  return `Choose one of ${shown.join(", ")}`;
}

/**
 * The spec a draft describes, for the fields now shown (so a variant's leftover options from
 * another variant are dropped), and the inputs that could not be read (text in a number field).
 */
export function specFromDraft(
  fields: readonly FieldDescriptor[],
  draft: Draft,
): { spec: JsonObject; errors: FieldErrors } {
  const spec: JsonObject = {};
  const errors: FieldErrors = {};
  for (const field of fields) {
    const value = parseField(field, fieldValue(field, draft));
    if (value === OMIT) continue;
    if (value === INVALID) {
      errors[field.path] =
        field.kind === "enum" || field.kind === "variant"
          ? choiceError(field)
          : field.kind === "list"
            ? "Enter numbers separated by commas"
            : field.kind === "lists"
              ? "Enter numbers separated by commas, one list from the next by a semicolon"
              : NOT_A_NUMBER;
      continue;
    }
    setPath(spec, field.path, value);
  }
  return { spec, errors };
}

// --- Server errors ----------------------------------------------------------------------------

/**
 * A 422 `loc` as a dotted spec path: the leading "body" goes, and so does the variant tag
 * pydantic inserts after a union (["body","strategy","er","buffer_size"] -> "strategy.buffer_size").
 * Only the selected variant's tag is dropped, so a field that happens to share a tag's name stays.
 */
export function specPathFromLoc(
  loc: readonly (string | number)[],
  fields: readonly FieldDescriptor[],
  draft: Draft,
): string {
  const unions = selectedVariants(fields, draft);
  const segments = loc[0] === "body" ? loc.slice(1) : [...loc];
  const kept: string[] = [];
  for (const segment of segments) {
    const parent = kept.join(".");
    if (unions.has(parent) && String(segment) === unions.get(parent)) continue;
    kept.push(String(segment));
  }
  return kept.join(".");
}

/**
 * The form field a 422 `loc` belongs to, or null (then the error is shown for the whole form).
 * A list item's index falls back to the list ("tags.3" -> "tags").
 */
export function errorPathFromLoc(
  loc: readonly (string | number)[],
  fields: readonly FieldDescriptor[],
  draft: Draft,
): string | null {
  const known = new Set(fields.map((f) => f.path));
  const kept = specPathFromLoc(loc, fields, draft).split(".");
  while (kept.length > 0 && !known.has(kept.join(".")) && /^\d+$/.test(kept[kept.length - 1]!)) {
    kept.pop();
  }
  const path = kept.join(".");
  return known.has(path) ? path : null;
}

/** The variant tags of a top-level union property ("strategy" -> ["finetune", "joint", ...]). */
export function unionTags(ctx: SchemaContext, schema: JsonSchema, property: string): string[] {
  const propSchema = resolve(ctx, schema).properties?.[property];
  if (!propSchema) return [];
  const union = unionVariants(ctx, unwrapNullable(ctx, propSchema).inner);
  return union ? [...union.variants.keys()] : [];
}

function formatBound(n: number): string {
  return Math.abs(n) >= 10_000 ? n.toLocaleString("en-US") : String(n);
}

/** The bounds of a field in a few characters, shown beside its help: "1 … 65,536", "> 0, ≤ 10". */
export function boundsHint(field: FieldDescriptor): string | null {
  const numeric = field.kind === "integer" || field.kind === "number";
  const isList = field.kind === "list" || field.kind === "lists";
  const numericList = isList && field.itemKind !== "string";
  const b = isList ? (field.itemBounds ?? {}) : field.bounds;
  if (numeric || numericList) {
    if (b.minimum !== undefined && b.maximum !== undefined) {
      return `${formatBound(b.minimum)} … ${formatBound(b.maximum)}`;
    }
    const parts = [
      b.exclusiveMinimum !== undefined ? `> ${formatBound(b.exclusiveMinimum)}` : null,
      b.minimum !== undefined ? `≥ ${formatBound(b.minimum)}` : null,
      b.exclusiveMaximum !== undefined ? `< ${formatBound(b.exclusiveMaximum)}` : null,
      b.maximum !== undefined ? `≤ ${formatBound(b.maximum)}` : null,
    ].filter((p) => p !== null);
    return parts.length > 0 ? parts.join(", ") : null;
  }
  if (field.kind === "string" || isList) {
    return b.maxLength !== undefined ? `≤ ${b.maxLength} characters` : null;
  }
  return null;
}
