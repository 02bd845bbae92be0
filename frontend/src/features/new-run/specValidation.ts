// Client-side validation of a spec against the served schema: the same types, enums, union
// tags, bounds, lengths, patterns and unknown-key checks as the server's pydantic model, with
// pydantic's wording, so most mistakes are caught before a round trip.
import {
  type FieldErrors,
  type JsonSchema,
  type SchemaContext,
  isNullSchema,
  isObject,
  joinPath,
  primaryType,
  resolve,
  unionVariants,
} from "./jsonSchema";

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  return typeof value;
}

function literal(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : String(value);
}

function boundsError(value: number, schema: JsonSchema): string | null {
  if (schema.minimum !== undefined && value < schema.minimum) {
    return `Input should be greater than or equal to ${schema.minimum}`;
  }
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
    return `Input should be greater than ${schema.exclusiveMinimum}`;
  }
  if (schema.maximum !== undefined && value > schema.maximum) {
    return `Input should be less than or equal to ${schema.maximum}`;
  }
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
    return `Input should be less than ${schema.exclusiveMaximum}`;
  }
  return null;
}

function stringError(value: string, schema: JsonSchema): string | null {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    const unit = schema.minLength === 1 ? "character" : "characters";
    return `String should have at least ${schema.minLength} ${unit}`;
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    return `String should have at most ${schema.maxLength} characters`;
  }
  if (schema.pattern !== undefined) {
    let pattern: RegExp | null = null;
    try {
      pattern = new RegExp(schema.pattern, "u");
    } catch {
      pattern = null; // a pattern JavaScript cannot compile is left to the server
    }
    if (pattern && !pattern.test(value)) return `String should match pattern '${schema.pattern}'`;
  }
  return null;
}

/** Records into `errors` the first complaint about `value` at each path (as pydantic would). */
function check(
  ctx: SchemaContext,
  schema: JsonSchema,
  value: unknown,
  path: string,
  errors: FieldErrors,
): void {
  const report = (at: string, message: string) => {
    if (!(at in errors)) errors[at] = message;
  };
  const s = resolve(ctx, schema);

  if (s.anyOf) {
    if (value === null && s.anyOf.some(isNullSchema)) return;
    const branches = s.anyOf.filter((b) => !isNullSchema(b));
    // The value must satisfy one branch; report the first branch's complaint when none does.
    const attempts = branches.map((branch) => {
      const found: FieldErrors = {};
      check(ctx, branch, value, path, found);
      return found;
    });
    if (attempts.some((found) => Object.keys(found).length === 0)) return;
    for (const [at, message] of Object.entries(attempts[0] ?? {})) report(at, message);
    if (branches.length === 0) report(path, "Input should be null");
    return;
  }

  const union = unionVariants(ctx, s);
  if (union) {
    if (!isObject(value)) return report(path, "Input should be an object");
    const tagPath = joinPath(path, union.propertyName);
    const tag = value[union.propertyName];
    if (tag === undefined) return report(tagPath, "Field required");
    const variant = union.variants.get(String(tag));
    if (!variant) {
      const expected = [...union.variants.keys()].map(literal).join(", ");
      return report(tagPath, `Input tag ${literal(tag)} is not one of ${expected}`);
    }
    return check(ctx, variant, value, path, errors);
  }

  if (s.const !== undefined && value !== s.const) {
    return report(path, `Input should be ${literal(s.const)}`);
  }
  if (s.enum !== undefined && !s.enum.includes(value)) {
    return report(path, `Input should be ${s.enum.map(literal).join(" or ")}`);
  }

  const type = primaryType(s);
  if (type === "object" || s.properties) {
    if (!isObject(value)) return report(path, "Input should be an object");
    const properties = s.properties ?? {};
    for (const key of s.required ?? []) {
      if (!(key in value)) report(joinPath(path, key), "Field required");
    }
    for (const [key, child] of Object.entries(value)) {
      const childSchema = properties[key];
      if (childSchema) check(ctx, childSchema, child, joinPath(path, key), errors);
      else if (s.additionalProperties === false) {
        report(joinPath(path, key), "Extra inputs are not permitted");
      }
    }
    return;
  }
  if (type === "array") {
    if (!Array.isArray(value)) return report(path, "Input should be a valid list");
    if (s.minItems !== undefined && value.length < s.minItems) {
      const unit = s.minItems === 1 ? "item" : "items";
      return report(path, `List should have at least ${s.minItems} ${unit}`);
    }
    if (s.maxItems !== undefined && value.length > s.maxItems) {
      return report(path, `List should have at most ${s.maxItems} items`);
    }
    // Item errors belong to the list's one input; say which item.
    value.forEach((item, index) => {
      const found: FieldErrors = {};
      if (s.items) check(ctx, s.items, item, path, found);
      const message = found[path];
      if (message !== undefined) report(path, `Item ${index + 1}: ${message}`);
    });
    return;
  }
  if (type === "boolean") {
    if (typeof value !== "boolean") report(path, "Input should be a valid boolean");
    return;
  }
  if (type === "integer" || type === "number") {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return report(path, `Input should be a valid ${type === "integer" ? "integer" : "number"}`);
    }
    if (type === "integer" && !Number.isInteger(value)) {
      return report(path, "Input should be a valid integer");
    }
    const problem = boundsError(value, s);
    if (problem) report(path, problem);
    return;
  }
  if (type === "string") {
    if (typeof value !== "string") return report(path, "Input should be a valid string");
    const problem = stringError(value, s);
    if (problem) report(path, problem);
    return;
  }
  if (type === "null" && value !== null) {
    report(path, `Input should be null, not ${describeType(value)}`);
  }
}

/**
 * The spec's errors by dotted path, mirroring the server's schema checks (types, enums, union
 * tags, bounds, lengths, patterns, unknown keys). Cross-field rules that live in the server's
 * validators (a scenario a benchmark does not allow, iterations and epochs both given) are left
 * to its 422, which `errorPathFromLoc` maps back onto the form.
 */
export function validateSpec(ctx: SchemaContext, schema: JsonSchema, spec: unknown): FieldErrors {
  const errors: FieldErrors = {};
  check(ctx, schema, spec, "", errors);
  return errors;
}
