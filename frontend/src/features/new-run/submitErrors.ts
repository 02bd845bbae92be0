// A failed submission, told where it belongs: a 422's errors next to the fields they name, the
// rest (cross-field rules, a broker outage, a network error) at the top of the form.
import { ApiError, problemMessage, validationErrors } from "../../api/client";
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
    const message = problemMessage(detail);
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
