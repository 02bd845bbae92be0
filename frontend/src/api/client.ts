// The one typed client of the API. Shapes come from schema.d.ts, which `npm run gen:api`
// generates from the backend's OpenAPI document; nothing here hand-writes a response shape.
import createClient from "openapi-fetch";

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type RunRead = Schemas["RunRead"];
export type RunSpec = Schemas["RunSpec"];
export type RunSummary = Schemas["RunSummary"];

export const api = createClient<paths>({ baseUrl: "" });

/** An API answer that was not 2xx, with the server's JSON body (a 422's `detail` list, say). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`API answered ${status}: ${describe(body)}`);
  }
}

function describe(body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    return typeof detail === "string" ? detail : JSON.stringify(detail);
  }
  return JSON.stringify(body);
}

/**
 * What a refused request says, for a form: the server's `detail` sentence, or a 422's problems
 * as "field: message" lines; anything else (a network failure) by its message.
 */
export function apiErrorText(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  const body = error.body;
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return (detail as Schemas["ValidationError"][])
        .map((d) => {
          const field = d.loc.filter((part) => part !== "body").join(".");
          const message = d.msg.replace(/^Value error, /, "");
          return field ? `${field}: ${message}` : message;
        })
        .join("\n");
    }
  }
  return error.message;
}

/** Unwraps an openapi-fetch result: the data, or an ApiError carrying the status and body. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response.status, result.error);
  }
  return result.data as T;
}
