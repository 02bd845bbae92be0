// The server's RunSpec schema and presets (GET /api/v1/spec), read once per page load: the
// New-run form is built from it and the runs list takes its benchmark and strategy names from it.
import { useQuery } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "../../api/client";
import type { JsonSchema, SchemaContext } from "./schemaForm";

export type SpecDescription = Schemas["SpecDescription"];
export type Preset = Schemas["PresetRead"];

export const SPEC_QUERY_KEY = ["spec"] as const;

export function useSpecDescription() {
  return useQuery({
    queryKey: SPEC_QUERY_KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/spec")),
    // The schema changes only with a server upgrade.
    staleTime: Infinity,
  });
}

/**
 * The served schema as a JSON Schema and the context its "#/$defs/..." refs resolve in. The API
 * types it as an open object (it is a document, not a response shape), so it is read as JSON
 * Schema here, at the one boundary.
 */
export function runSpecSchema(description: SpecDescription): {
  ctx: SchemaContext;
  schema: JsonSchema;
} {
  const schema = description.schema as JsonSchema;
  return { ctx: { root: schema }, schema };
}
