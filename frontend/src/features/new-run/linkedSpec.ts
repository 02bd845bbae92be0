// A New-run form opened from a link with a spec in its query (`/runs/new?spec={...}`): the
// Datasets page's "use in a new run" sends a custom benchmark over one dataset that way. The
// link's spec is partial: each top-level key it names replaces the starting preset's, so the
// model, strategy and training of the preset stay.
import { isObject, type JsonObject } from "./jsonSchema";

/** The query parameter holding the linked spec, as JSON. */
export const LINKED_SPEC_PARAM = "spec";

export type LinkedSpec =
  | { readonly spec: JsonObject; readonly problem?: undefined }
  | { readonly spec?: undefined; readonly problem: string }
  | { readonly spec?: undefined; readonly problem?: undefined };

/** The spec a link carries: none, a JSON object, or why its text is not one. */
export function linkedSpecFrom(search: URLSearchParams): LinkedSpec {
  const text = search.get(LINKED_SPEC_PARAM);
  if (text === null || text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { problem: `The link's spec is not JSON (${(error as Error).message}); it was left out.` };
  }
  if (!isObject(parsed)) return { problem: "The link's spec is not a JSON object; it was left out." };
  return { spec: parsed };
}

/** The preset's spec with the link's top-level keys in place of its own. */
export function withLinkedSpec(presetSpec: unknown, linked: JsonObject | undefined): JsonObject {
  const base = isObject(presetSpec) ? presetSpec : {};
  return linked ? { ...base, ...linked } : { ...base };
}

/** The href of the New-run form starting from `spec` (partial: see `withLinkedSpec`). */
export function newRunHref(spec: JsonObject): string {
  return `/runs/new?${new URLSearchParams({ [LINKED_SPEC_PARAM]: JSON.stringify(spec) })}`;
}
