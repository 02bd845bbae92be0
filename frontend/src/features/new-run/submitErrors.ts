// A failed submission, told where it belongs: a 422's errors next to the fields they name, the
// rest (cross-field rules, a broker outage, a network error) at the top of the form.
import { ApiError, type Schemas } from "../../api/client";
import {
  type Draft,
  type FieldDescriptor,
  type FieldErrors,
  errorPathFromLoc,
  specPathFromLoc,
} from "./schemaForm";

type ValidationError = Schemas["ValidationError"];

export interface SubmitProblems {
  fieldErrors: FieldErrors;
  formErrors: string[];
}

function validationErrors(body: unknown): ValidationError[] | null {
  if (typeof body !== "object" || body === null || !("detail" in body)) return null;
  const detail = (body as Schemas["HTTPValidationError"]).detail;
  return Array.isArray(detail) ? detail : null;
}

export function problemsFrom(
  error: unknown,
  fields: readonly FieldDescriptor[],
  draft: Draft,
): SubmitProblems {
  const problems: SubmitProblems = { fieldErrors: {}, formErrors: [] };
  const details =
    error instanceof ApiError && error.status === 422 ? validationErrors(error.body) : null;
  if (!details) {
    problems.formErrors.push(error instanceof Error ? error.message : String(error));
    return problems;
  }
  for (const detail of details) {
    const path = errorPathFromLoc(detail.loc, fields, draft);
    // pydantic prefixes a validator's own message with "Value error, ": noise in a form.
    const message = detail.msg.replace(/^Value error, /, "");
    if (path !== null) {
      problems.fieldErrors[path] ??= message;
    } else {
      // "benchmark: ...", or "spec: ..." for a rule about the body as a whole.
      const where = specPathFromLoc(detail.loc, fields, draft) || "spec";
      problems.formErrors.push(`${where}: ${message}`);
    }
  }
  return problems;
}
