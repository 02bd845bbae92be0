// The New-run form and its JSON editor are ONE state: the draft. Text typed in the editor is
// applied to the draft as soon as it is a valid spec; until then the editor holds text the form
// does not show, and a submission is refused with the reason (never the form's older spec sent
// silently). Editing a field replaces the editor's text with the spec the form now describes.
import { draftForSpec } from "./projectField";
import { type Draft, type JsonSchema, type SchemaContext, validateSpec } from "./schemaForm";

export type RawSpecCheck =
  | { readonly spec: Record<string, unknown>; readonly problem?: undefined }
  | { readonly spec?: undefined; readonly problem: string };

/**
 * The spec a text holds, if it is a JSON object that passes the schema (so that no key the form
 * has no field for is silently dropped); else what is wrong with it.
 */
export function parseRawSpec(text: string, ctx: SchemaContext, schema: JsonSchema): RawSpecCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { problem: `Not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { problem: "The spec must be a JSON object" };
  }
  const errors = Object.entries(validateSpec(ctx, schema, parsed));
  if (errors.length > 0) {
    return { problem: errors.map(([path, message]) => `${path || "spec"}: ${message}`).join("\n") };
  }
  return { spec: parsed as Record<string, unknown> };
}

export interface SpecState {
  /** What the form shows and submits. */
  readonly draft: Draft;
  /**
   * The editor's own text while the user types in it; null when the editor shows the draft's
   * spec (closed, or a field was edited since).
   */
  readonly rawText: string | null;
  /** Why `rawText` is not applied to the draft (null: it is). */
  readonly rawProblem: string | null;
}

export function initialSpecState(draft: Draft): SpecState {
  return { draft, rawText: null, rawProblem: null };
}

/** Text typed in the JSON editor: applied to the draft at once when it is a valid spec. */
export function editRawText(
  state: SpecState,
  text: string,
  ctx: SchemaContext,
  schema: JsonSchema,
  chosenProject: string | null,
): SpecState {
  const check = parseRawSpec(text, ctx, schema);
  if (check.spec === undefined) return { ...state, rawText: text, rawProblem: check.problem };
  return { draft: draftForSpec(check.spec, chosenProject), rawText: text, rawProblem: null };
}

/** A field edited, or a preset chosen: the draft changes and the editor follows it. */
export function editDraft(draft: Draft): SpecState {
  return { draft, rawText: null, rawProblem: null };
}

/** The text the JSON editor shows: the user's own, else the spec the form describes. */
export function editorText(state: SpecState, spec: Record<string, unknown>): string {
  return state.rawText ?? JSON.stringify(spec, null, 2);
}

/** Why the form may not be submitted as it stands: the editor holds edits that are not applied. */
export function unappliedEdits(state: SpecState): string | null {
  if (state.rawText === null || state.rawProblem === null) return null;
  return (
    "The JSON spec has edits that are not applied to the form (not submitted): fix them, or " +
    `choose "Discard JSON edits".\n${state.rawProblem}`
  );
}

/** Drops the editor's unapplied text: it shows the form's spec again. */
export function discardRawText(state: SpecState): SpecState {
  return { ...state, rawText: null, rawProblem: null };
}
