// The part of JSON Schema that pydantic emits for RunSpec, and how to walk it: $ref pointers
// ("#/$defs/X" from GET /api/v1/spec, "#/components/schemas/X" in the OpenAPI document),
// anyOf with null (optional values) and discriminated unions (oneOf + discriminator).

/** The part of JSON Schema that RunSpec uses. */
export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
}

/** Where `$ref` pointers are resolved: the RunSpec schema itself, or the OpenAPI document. */
export interface SchemaContext {
  root: unknown;
}

/** Error messages keyed by dotted path ("" for the spec as a whole). */
export type FieldErrors = Record<string, string>;

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Follows a local JSON pointer ("#/$defs/ERSpec") from the context's root. */
export function resolvePointer(ctx: SchemaContext, ref: string): JsonSchema {
  if (!ref.startsWith("#")) throw new Error(`only local $ref pointers are supported: ${ref}`);
  let node: unknown = ctx.root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) || !(key in node)) throw new Error(`unresolved $ref ${ref}`);
    node = node[key];
  }
  if (!isObject(node)) throw new Error(`$ref ${ref} is not a schema`);
  return node as JsonSchema;
}

/** The schema with its `$ref` chain followed; keywords beside a $ref (a description) win. */
export function resolve(ctx: SchemaContext, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref !== undefined; hops += 1) {
    if (hops > 32) throw new Error(`$ref cycle at ${current.$ref}`);
    const { $ref, ...siblings } = current;
    current = { ...resolvePointer(ctx, $ref), ...siblings };
  }
  return current;
}

export function isNullSchema(schema: JsonSchema): boolean {
  return schema.type === "null";
}

/** anyOf [X, null] -> X and nullable; any other schema is returned as it is (resolved). */
export function unwrapNullable(
  ctx: SchemaContext,
  schema: JsonSchema,
): { inner: JsonSchema; nullable: boolean } {
  const resolved = resolve(ctx, schema);
  const branches = resolved.anyOf;
  if (branches && branches.some(isNullSchema)) {
    const others = branches.filter((b) => !isNullSchema(b));
    if (others.length === 1) return { inner: resolve(ctx, others[0]!), nullable: true };
  }
  return { inner: resolved, nullable: false };
}

/** The variants of a discriminated union by tag, or null when the schema is not one. */
export function unionVariants(
  ctx: SchemaContext,
  schema: JsonSchema,
): { propertyName: string; variants: Map<string, JsonSchema> } | null {
  if (!schema.oneOf || !schema.discriminator) return null;
  const { propertyName, mapping } = schema.discriminator;
  const variants = new Map<string, JsonSchema>();
  if (mapping) {
    // pydantic sorts the mapping by tag; list variants in the declared (oneOf) order instead,
    // so the first one, the default, is the one the schema's author put first.
    const order = schema.oneOf.map((branch) => branch.$ref);
    const rank = (ref: string) => (order.includes(ref) ? order.indexOf(ref) : order.length);
    const tags = Object.entries(mapping).sort(([, a], [, b]) => rank(a) - rank(b));
    for (const [tag, ref] of tags) variants.set(tag, resolvePointer(ctx, ref));
    return { propertyName, variants };
  }
  // Without a mapping each branch names its own tags (const, or an enum of several).
  for (const branch of schema.oneOf) {
    const variant = resolve(ctx, branch);
    const tagSchema = variant.properties?.[propertyName];
    const tags = tagSchema?.const !== undefined ? [tagSchema.const] : (tagSchema?.enum ?? []);
    for (const tag of tags) variants.set(String(tag), variant);
  }
  return { propertyName, variants };
}

export function primaryType(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
}

export function isObjectSchema(schema: JsonSchema): boolean {
  return primaryType(schema) === "object" || schema.properties !== undefined;
}

/** "a.b" + "c" -> "a.b.c"; the root path is "". */
export function joinPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}
