import { describe, expect, it } from "vitest";

import openapiText from "../../../openapi.json?raw";
import {
  discardRawText,
  editDraft,
  editorText,
  editRawText,
  initialSpecState,
  parseRawSpec,
  type SpecState,
  unappliedEdits,
} from "./rawSpec";
import {
  type Draft,
  type JsonSchema,
  type SchemaContext,
  allFields,
  changeDraft,
  describeForm,
  draftFromSpec,
  specFromDraft,
} from "./schemaForm";

// The real RunSpec schema, as the form is built from it.
const openapi = JSON.parse(openapiText) as { components: { schemas: Record<string, JsonSchema> } };
const ctx: SchemaContext = { root: openapi };
const runSpec = openapi.components.schemas.RunSpec!;

const FINETUNE = {
  benchmark: { name: "split_digits", n_tasks: 5 },
  model: { name: "mlp", hidden_sizes: [400, 400] },
  strategy: { name: "finetune" },
  optimizer: { name: "sgd", lr: 0.01 },
  training: { iterations_per_task: 300, batch_size: 32 },
  seed: 0,
};

function fieldsOf(draft: Draft) {
  return allFields(
    describeForm(ctx, runSpec, (path) => {
      const value = draft[path];
      return typeof value === "string" ? value : undefined;
    }),
  );
}

/** The spec the form submits for this state: what the Submit button would send. */
function submitted(state: SpecState): Record<string, unknown> {
  return specFromDraft(fieldsOf(state.draft), state.draft).spec;
}

const start = () => initialSpecState(draftFromSpec(FINETUNE));

describe("the form and its JSON editor are one state", () => {
  it("applies text to the form as soon as it is a valid spec: Submit sends the edited spec", () => {
    const edited = { ...FINETUNE, optimizer: { name: "sgd", lr: 0.5 }, strategy: { name: "er", buffer_size: 50 } };
    const state = editRawText(start(), JSON.stringify(edited, null, 2), ctx, runSpec, null);
    expect(state.rawProblem).toBeNull();
    expect(unappliedEdits(state)).toBeNull();
    const spec = submitted(state);
    expect(spec.optimizer).toMatchObject({ lr: 0.5 });
    expect(spec.strategy).toMatchObject({ name: "er", buffer_size: 50 });
    // The editor keeps the user's own text (their layout) while it is the form's state.
    expect(editorText(state, spec)).toBe(JSON.stringify(edited, null, 2));
  });

  it("refuses to submit while the editor holds text that is not JSON, and keeps the last valid spec", () => {
    const applied = editRawText(start(), JSON.stringify({ ...FINETUNE, seed: 7 }), ctx, runSpec, null);
    const broken = editRawText(applied, '{"seed": 8,', ctx, runSpec, null);
    expect(broken.rawProblem).toMatch(/^Not JSON/);
    expect(submitted(broken).seed).toBe(7); // never the half-typed 8, never the old 0 silently
    const blocker = unappliedEdits(broken);
    expect(blocker).toMatch(/not applied to the form/);
    expect(blocker).toContain("Not JSON");
  });

  it("refuses text that is JSON but not a valid spec, naming the field", () => {
    const bad = { ...FINETUNE, training: { iterations_per_task: 0 }, surprise: 1 };
    const state = editRawText(start(), JSON.stringify(bad), ctx, runSpec, null);
    expect(unappliedEdits(state)).toMatch(/training\.iterations_per_task/);
    expect(state.rawProblem).toMatch(/surprise/);
    expect(submitted(state).training).toMatchObject({ iterations_per_task: 300 });
    expect(parseRawSpec("[1, 2]", ctx, runSpec).problem).toBe("The spec must be a JSON object");
  });

  it("shows the form's spec again once a field is edited, or the edits are discarded", () => {
    const broken = editRawText(start(), "{", ctx, runSpec, null);
    const fields = fieldsOf(broken.draft);
    const edited = editDraft(changeDraft(fields, broken.draft, "optimizer.lr", "0.2"));
    expect(unappliedEdits(edited)).toBeNull();
    const spec = submitted(edited);
    expect(spec.optimizer).toMatchObject({ lr: 0.2 });
    expect(JSON.parse(editorText(edited, spec))).toEqual(spec);

    const discarded = discardRawText(broken);
    expect(unappliedEdits(discarded)).toBeNull();
    expect(discarded.draft).toBe(broken.draft);
  });

  it("keeps the chosen project when the pasted spec names none", () => {
    const state = editRawText(start(), JSON.stringify(FINETUNE), ctx, runSpec, "vision");
    expect(state.draft.project).toBe("vision");
    const named = editRawText(start(), JSON.stringify({ ...FINETUNE, project: "nlp" }), ctx, runSpec, "vision");
    expect(named.draft.project).toBe("nlp");
  });
});
