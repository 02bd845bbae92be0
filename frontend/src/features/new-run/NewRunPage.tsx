import "./new-run.css";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";

import { api, unwrap, type RunSpec } from "../../api/client";
import { defaultProject, editableProjects } from "../../auth/roles";
import { useMe } from "../../auth/session";
import { useDatasets } from "../datasets/queries";
import { RUNS_QUERY_KEY } from "../runs/runsQuery";
import { BENCHMARK_NAME_PATH, CUSTOM_BENCHMARK, withDatasetChoice } from "./datasetField";
import { linkedSpecFrom, withLinkedSpec } from "./linkedSpec";
import { draftForSpec, PROJECT_PATH, withProjectChoice } from "./projectField";
import {
  discardRawText,
  editDraft,
  editorText,
  editRawText,
  initialSpecState,
  type SpecState,
  unappliedEdits,
} from "./rawSpec";
import { RawSpecEditor } from "./RawSpecEditor";
import { SchemaField } from "./SchemaField";
import {
  type FieldErrors,
  allFields,
  changeDraft,
  describeForm,
  fieldValue,
  specFromDraft,
  validateSpec,
} from "./schemaForm";
import { automaticGroup, destinationAfterSubmit, parseSeeds, specsForSeeds } from "./seeds";
import { type SpecDescription, runSpecSchema, useSpecDescription } from "./specQuery";
import { problemsFrom } from "./submitErrors";
import { CodeText } from "../../components/CodeText";

/** The preset a fresh form starts from: offline, so it works on a machine without network. */
export const DEFAULT_PRESET = "split_digits_finetune";
const SEEDS_PATH = "seeds";

export function NewRunPage() {
  const description = useSpecDescription();
  return (
    <div className="new-run-page">
      {description.isPending && <p className="muted">Loading the run specification…</p>}
      {description.isError && (
        <p className="error">Could not load the run specification: {description.error.message}</p>
      )}
      {description.data && <NewRunForm description={description.data} />}
    </div>
  );
}

/** Runs created before a later seed's submission failed: they exist and must be reported. */
class PartialSubmission extends Error {
  constructor(
    readonly createdIds: number[],
    readonly failure: unknown,
  ) {
    super("submission stopped part-way");
  }
}

function NewRunForm({ description }: { description: SpecDescription }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { ctx, schema } = useMemo(() => runSpecSchema(description), [description]);
  const presets = description.presets;
  const initialPreset = presets.find((p) => p.id === DEFAULT_PRESET) ?? presets[0];
  const me = useMe();
  const projects = useMemo(() => editableProjects(me), [me]);
  const initialProject = defaultProject(me);
  // A link's spec (the Datasets page's "use in a new run") is read once, at the start: after
  // that the form is the user's.
  const [search] = useSearchParams();
  const [linked] = useState(() => linkedSpecFrom(search));
  const [linkedNote, setLinkedNote] = useState(linked.spec !== undefined);

  const [presetId, setPresetId] = useState(initialPreset?.id ?? "");
  // The form and the JSON editor are one state (see rawSpec.ts).
  const [specState, setSpecState] = useState<SpecState>(() =>
    initialSpecState(draftForSpec(withLinkedSpec(initialPreset?.spec, linked.spec), null)),
  );
  const draft = specState.draft;
  const [seedsText, setSeedsText] = useState("");
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [formErrors, setFormErrors] = useState<string[]>(() =>
    linked.problem ? [linked.problem] : [],
  );
  const formErrorRef = useRef<HTMLDivElement>(null);
  /** Counts refused submissions: each one moves the focus to its first complaint, once. */
  const [refusals, setRefusals] = useState(0);

  const schemaGroups = useMemo(
    () =>
      withProjectChoice(
        describeForm(ctx, schema, (path) => {
          const value = draft[path];
          return typeof value === "string" ? value : undefined;
        }),
        projects,
        initialProject,
      ),
    [ctx, schema, draft, projects, initialProject],
  );
  const schemaFields = allFields(schemaGroups);
  const projectField = schemaFields.find((f) => f.path === PROJECT_PATH);
  const chosenProject = projectField ? String(fieldValue(projectField, draft)) || null : null;
  const benchmarkField = schemaFields.find((f) => f.path === BENCHMARK_NAME_PATH);
  const benchmarkName = benchmarkField ? String(fieldValue(benchmarkField, draft)) : "";
  // A custom benchmark picks one of the project's uploaded datasets.
  const datasets = useDatasets(benchmarkName === CUSTOM_BENCHMARK ? chosenProject : null);
  const groups = useMemo(
    () => withDatasetChoice(schemaGroups, benchmarkName, chosenProject, datasets.data),
    [schemaGroups, benchmarkName, chosenProject, datasets.data],
  );
  const fields = useMemo(() => allFields(groups), [groups]);
  const { spec, errors: parseErrors } = useMemo(() => specFromDraft(fields, draft), [fields, draft]);
  const seedBounds = fields.find((f) => f.path === "seed")?.bounds;
  const seeds = parseSeeds(seedsText, seedBounds?.minimum, seedBounds?.maximum);

  // Client-side errors appear once a submission was tried, then follow every edit.
  const clientErrors: FieldErrors = useMemo(() => {
    const found = { ...validateSpec(ctx, schema, spec), ...parseErrors };
    if (seeds.error) found[SEEDS_PATH] = seeds.error;
    return found;
  }, [ctx, schema, spec, parseErrors, seeds.error]);
  const shownErrors: FieldErrors = { ...(attempted ? clientErrors : {}), ...serverErrors };
  const fieldPaths = new Set([...fields.map((f) => f.path), SEEDS_PATH]);
  const unplacedClientErrors = attempted
    ? Object.entries(clientErrors)
        .filter(([path]) => !fieldPaths.has(path))
        .map(([path, message]) => `${path || "spec"}: ${message}`)
    : [];
  const topErrors = [...unplacedClientErrors, ...formErrors];

  const submission = useMutation({
    mutationFn: async (specs: Record<string, unknown>[]) => {
      const ids: number[] = [];
      for (const one of specs) {
        try {
          // The spec was built from the server's own schema and validated against it above.
          const run = unwrap(await api.POST("/api/v1/runs", { body: one as RunSpec }));
          ids.push(run.id);
        } catch (error) {
          throw ids.length > 0 ? new PartialSubmission(ids, error) : error;
        }
      }
      return ids;
    },
    onSuccess: (ids) => {
      void queryClient.invalidateQueries({ queryKey: [RUNS_QUERY_KEY] });
      navigate(destinationAfterSubmit(ids));
    },
    onError: (error) => {
      const cause = error instanceof PartialSubmission ? error.failure : error;
      const problems = problemsFrom(cause, fields, draft);
      const partial =
        error instanceof PartialSubmission
          ? [`Runs ${error.createdIds.join(", ")} were submitted; the next seed failed:`]
          : [];
      if (error instanceof PartialSubmission) {
        void queryClient.invalidateQueries({ queryKey: [RUNS_QUERY_KEY] });
      }
      setServerErrors(problems.fieldErrors);
      setFormErrors([...partial, ...problems.formErrors]);
      setRefusals((n) => n + 1);
    },
  });

  // After a refused submission, take the user to the first complaint: the summary at the top,
  // else the first field the server named.
  // Keyed on the refusal count only, on purpose: fixing one field must not pull the focus to
  // the next. The errors read here are the ones set together with the count (one batch).
  useEffect(() => {
    if (refusals === 0) return;
    if (formErrors.length > 0) {
      formErrorRef.current?.scrollIntoView({ block: "center" });
    } else {
      const first = Object.keys(serverErrors)[0];
      if (first !== undefined) document.getElementById(`field-${first}`)?.focus();
    }
  }, [refusals]);

  const change = (path: string, value: string | boolean) => {
    // A new variant drops the old one's values (see changeDraft). `fields` describes the draft
    // of this render, which is the draft a change event sees: React re-renders between events.
    setSpecState((current) => editDraft(changeDraft(fields, current.draft, path, value)));
    setServerErrors((current) => {
      // A new variant makes every server complaint about the old one moot.
      if (fields.find((f) => f.path === path)?.kind === "variant") return {};
      const { [path]: _fixed, ...rest } = current;
      return rest;
    });
  };

  const choosePreset = (id: string) => {
    const preset = presets.find((p) => p.id === id);
    if (!preset) return;
    setPresetId(id);
    setLinkedNote(false);
    setSpecState(editDraft(draftForSpec(preset.spec, chosenProject)));
    setAttempted(false);
    setServerErrors({});
    setFormErrors([]);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAttempted(true);
    setServerErrors({});
    setFormErrors([]);
    // Edits in the JSON editor that are not a valid spec are not in the form: say so, send nothing.
    const unapplied = unappliedEdits(specState);
    if (unapplied !== null) {
      setFormErrors([unapplied]);
      setRefusals((n) => n + 1);
      return;
    }
    const firstError = Object.keys(clientErrors)[0];
    if (firstError !== undefined) {
      document.getElementById(`field-${firstError}`)?.focus();
      return;
    }
    const benchmark = String(fieldValue(fields.find((f) => f.path === "benchmark.name")!, draft));
    const strategy = String(fieldValue(fields.find((f) => f.path === "strategy.name")!, draft));
    const specs = specsForSeeds(spec, seeds.seeds ?? [], () =>
      automaticGroup(benchmark, strategy, new Date()),
    );
    submission.mutate(specs);
  };

  const runCount = Math.max(1, seeds.seeds?.length ?? 1);
  const groupLabel =
    typeof spec.group === "string" && spec.group
      ? spec.group
      : "named after benchmark, strategy and time";
  const preset = presets.find((p) => p.id === presetId);

  return (
    <form className="new-run-form" onSubmit={submit} noValidate>
      <div className="page-header">
        <h1>New run</h1>
      </div>
      <div className="preset-bar">
        <label htmlFor="preset-select">Start from</label>
        <select
          id="preset-select"
          data-testid="preset-select"
          value={presetId}
          onChange={(e) => choosePreset(e.target.value)}
        >
          {presets.map((p) => (
            <option key={p.id} value={p.id}>
              {p.title}
            </option>
          ))}
        </select>
        {preset && (
          <p className="muted preset-description">
            <CodeText text={preset.description} />
          </p>
        )}
        {linkedNote && linked.spec && (
          <p className="preset-description" data-testid="linked-spec-note">
            The link set {Object.keys(linked.spec).join(", ")}; the rest is this preset&apos;s.
          </p>
        )}
      </div>

      {projects.length === 0 && (
        <div className="form-error" data-testid="no-editable-project" role="alert">
          You may not submit runs: that needs the editor or owner role in a project, and you are{" "}
          {me.projects.length === 0 ? "in no project yet" : "a viewer wherever you are a member"}.
          Ask a project owner.
        </div>
      )}

      {topErrors.length > 0 && (
        <div className="form-error" data-testid="form-error" role="alert" ref={formErrorRef}>
          {topErrors.map((message, i) => (
            <div key={i}>{message}</div>
          ))}
        </div>
      )}

      <div className="form-groups">
        {groups.map((group) => (
          <fieldset
            key={group.id}
            className={`form-group group-${group.id}`}
            data-testid={`group-${group.id}`}
          >
            <legend>{group.title}</legend>
            {group.description && (
              <p className="group-help muted">
                <CodeText text={group.description} />
              </p>
            )}
            <div className="group-fields">
              {group.fields.map((field) => (
                <SchemaField
                  key={field.path}
                  field={field}
                  value={fieldValue(field, draft)}
                  error={shownErrors[field.path]}
                  onChange={change}
                />
              ))}
              {group.id === "run" && (
                <SeedsField
                  value={seedsText}
                  error={shownErrors[SEEDS_PATH]}
                  onChange={setSeedsText}
                />
              )}
            </div>
          </fieldset>
        ))}
      </div>

      <RawSpecEditor
        text={editorText(specState, spec)}
        problem={specState.rawProblem}
        edited={specState.rawText !== null}
        onChange={(text) => {
          setSpecState((current) => editRawText(current, text, ctx, schema, chosenProject));
          setServerErrors({});
        }}
        onDiscard={() => setSpecState(discardRawText)}
      />

      <div className="submit-bar">
        <span className="muted">
          {runCount > 1 ? `${runCount} runs, one per seed, in group ${groupLabel}` : "One run"}
        </span>
        <button
          type="submit"
          className="primary"
          data-testid="submit-run"
          disabled={submission.isPending || projects.length === 0}
        >
          {submission.isPending
            ? "Submitting…"
            : runCount > 1
              ? `Submit ${runCount} runs`
              : "Submit run"}
        </button>
      </div>
    </form>
  );
}

interface SeedsFieldProps {
  value: string;
  error?: string;
  onChange: (value: string) => void;
}

function SeedsField({ value, error, onChange }: SeedsFieldProps) {
  return (
    <div className={`form-field kind-seeds${error ? " has-error" : ""}`}>
      <label htmlFor="field-seeds">Seeds</label>
      <input
        id="field-seeds"
        name="seeds"
        data-testid="field-seeds"
        type="text"
        autoComplete="off"
        placeholder="e.g. 0-4"
        value={value}
        aria-invalid={error ? true : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      <div className="field-help">
        Several seeds, e.g. 0,1,2 or 0-4: one run per seed, all in one group (compared side by side
        afterwards). Empty: the single seed above.
      </div>
      {error && (
        <div className="field-error" data-testid="field-error-seeds" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
