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
    /** The answer's headers (a 429's Retry-After, say). */
    readonly headers: Headers = new Headers(),
  ) {
    super(`API answered ${status}: ${describe(body)}`);
  }
}

function describe(body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    return detailSentence(body) ?? JSON.stringify((body as { detail: unknown }).detail);
  }
  return JSON.stringify(body);
}

/** The server's `detail` sentence of an error body, or null when it has none (a 422's list, say). */
export function detailSentence(body: unknown): string | null {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
  }
  return null;
}

/** A 422 body's list of problems, or null for any other body. */
export function validationErrors(body: unknown): Schemas["ValidationError"][] | null {
  if (typeof body !== "object" || body === null || !("detail" in body)) return null;
  const detail = (body as Schemas["HTTPValidationError"]).detail;
  return Array.isArray(detail) ? detail : null;
}

/** A problem's message without the "Value error, " that pydantic puts before a validator's own
 * message: noise in a form. */
export function problemMessage(problem: Schemas["ValidationError"]): string {
  return problem.msg.replace(/^Value error, /, "");
}

/**
 * What a refused request says, for a form: the server's `detail` sentence, or a 422's problems
 * as "field: message" lines; anything else (a network failure, a sentence of the form's own) by
 * its message.
 */
export function apiErrorText(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  const body = error.body;
  const sentence = detailSentence(body);
  if (sentence !== null) return sentence;
  const problems = validationErrors(body);
  if (problems) {
    return problems
      .map((problem) => {
        const field = problem.loc.filter((part) => part !== "body").join(".");
        const message = problemMessage(problem);
        return field ? `${field}: ${message}` : message;
      })
      .join("\n");
  }
  return error.message;
}

/** Unwraps an openapi-fetch result: the data, or an ApiError carrying the status and body. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response.status, result.error, result.response.headers);
  }
  return result.data as T;
}
