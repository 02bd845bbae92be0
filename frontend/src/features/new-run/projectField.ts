// The spec's `project` is free text in the schema; the form offers it as a choice among the
// projects where the user may submit (editor or owner), starting from 'default' where they may.
import {
  type Draft,
  type FieldGroup,
  draftFromSpec,
} from "./schemaForm";

export const PROJECT_PATH = "project";

/** The form's groups with the project field as a select of `projects`, `initial` preselected. */
export function withProjectChoice(
  groups: readonly FieldGroup[],
  projects: readonly string[],
  initial: string | null,
): FieldGroup[] {
  return groups.map((group) => ({
    ...group,
    fields: group.fields.map((field) =>
      field.path === PROJECT_PATH
        ? {
            ...field,
            kind: "enum" as const,
            options: projects,
            nullable: false,
            required: true,
            default: initial ?? undefined,
            description: "Where the run belongs: a project where you are an editor or owner.",
          }
        : field,
    ),
  }));
}

/**
 * The draft of a preset or pasted spec. The presets name no project (null): then the project
 * chosen so far stays, so that picking a preset does not move the run to another project; a
 * spec that names one keeps it.
 */
export function draftForSpec(spec: unknown, chosenProject: string | null): Draft {
  const draft = draftFromSpec(spec);
  const named = draft[PROJECT_PATH];
  if (named === undefined || named === "") {
    if (chosenProject) draft[PROJECT_PATH] = chosenProject;
    else delete draft[PROJECT_PATH];
  }
  return draft;
}
