// A failed submission, told where it belongs: a 422's errors next to the fields they name, the
// rest (cross-field rules, a broker outage, a network error) at the top of the form.
import { ApiError, apiErrorText, problemMessage, type Schemas, validationErrors } from "../../api/client";
import {
  type Draft,
  type FieldDescriptor,
  type FieldErrors,
  errorPathFromLoc,
  specPathFromLoc,
} from "./schemaForm";

export interface SubmitProblems {
  fieldErrors: FieldErrors;
  formErrors: string[];
}

/** How `placeValidationErrors` files a 422's problems. */
export interface PlacementOptions {
  /** Where a problem of no field is said to be, put before its message ("benchmark: ..."); the
   * loc without its leading "body" by default, and nothing when that is empty. */
  whereOf?: (loc: readonly (string | number)[]) => string;
  /** A field with several problems: keep the first message, or all of them on separate lines. */
  repeated?: "first" | "joined";
}

function locWithoutBody(loc: readonly (string | number)[]): string {
  return loc
    .filter((part) => part !== "body")
    .map(String)
    .join(".");
}

/**
 * A 422's problems next to the fields `fieldOf` names for their loc; a problem of no field (null)
 * goes at the top as "where: message".
 */
export function placeValidationErrors(
  details: readonly Schemas["ValidationError"][],
  fieldOf: (loc: readonly (string | number)[]) => string | null,
  { whereOf = locWithoutBody, repeated = "first" }: PlacementOptions = {},
): SubmitProblems {
  const problems: SubmitProblems = { fieldErrors: {}, formErrors: [] };
  for (const detail of details) {
    const field = fieldOf(detail.loc);
    const message = problemMessage(detail);
    if (field !== null) {
      const before = problems.fieldErrors[field];
      if (before === undefined) problems.fieldErrors[field] = message;
      else if (repeated === "joined") problems.fieldErrors[field] = `${before}\n${message}`;
    } else {
      const where = whereOf(detail.loc);
      problems.formErrors.push(where ? `${where}: ${message}` : message);
    }
  }
  return problems;
}

export function problemsFrom(
  error: unknown,
  fields: readonly FieldDescriptor[],
  draft: Draft,
): SubmitProblems {
  const details =
    error instanceof ApiError && error.status === 422 ? validationErrors(error.body) : null;
  if (!details) return { fieldErrors: {}, formErrors: [apiErrorText(error)] };
  return placeValidationErrors(details, (loc) => errorPathFromLoc(loc, fields, draft), {
    // "benchmark: ...", or "spec: ..." for a rule about the body as a whole.
    whereOf: (loc) => specPathFromLoc(loc, fields, draft) || "spec",
  });
}
