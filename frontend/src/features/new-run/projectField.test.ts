import { describe, expect, it } from "vitest";

import { draftForSpec, withProjectChoice } from "./projectField";
import { type JsonSchema, allFields, describeForm, specFromDraft } from "./schemaForm";

// The top of RunSpec as pydantic publishes it: `project` is an optional, nullable string.
const schema: JsonSchema = {
  type: "object",
  properties: {
    project: {
      anyOf: [{ type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }, { type: "null" }],
      default: null,
    },
    name: { anyOf: [{ type: "string" }, { type: "null" }], default: null },
  },
};

function form(projects: string[], initial: string | null) {
  const groups = withProjectChoice(describeForm({ root: schema }, schema), projects, initial);
  return allFields(groups);
}

describe("the project field", () => {
  it("is a select of the editable projects that starts at the initial one", () => {
    const fields = form(["default", "lab-a"], "default");
    const project = fields.find((f) => f.path === "project")!;
    expect(project).toMatchObject({ kind: "enum", options: ["default", "lab-a"], nullable: false });
    // A preset names no project: the spec goes to the initial one.
    const { spec, errors } = specFromDraft(fields, draftForSpec({ project: null, name: "x" }, null));
    expect(errors).toEqual({});
    expect(spec).toEqual({ project: "default", name: "x" });
  });

  it("keeps the chosen project across presets, but not over a spec that names one", () => {
    const fields = form(["default", "lab-a"], "default");
    expect(specFromDraft(fields, draftForSpec({ project: null }, "lab-a")).spec.project).toBe("lab-a");
    expect(specFromDraft(fields, draftForSpec({ project: "default" }, "lab-a")).spec.project).toBe(
      "default",
    );
  });

  it("refuses a project that is not a choice instead of sending it", () => {
    const fields = form(["lab-a"], "lab-a");
    const { errors } = specFromDraft(fields, draftForSpec({ project: "default" }, null));
    expect(errors.project).toBe("Choose one of lab-a");
  });
});
