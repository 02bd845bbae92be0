import { useState } from "react";

import { type JsonSchema, type SchemaContext, validateSpec } from "./schemaForm";

interface Props {
  spec: Record<string, unknown>;
  ctx: SchemaContext;
  schema: JsonSchema;
  onApply: (spec: Record<string, unknown>) => void;
}

/**
 * The spec as JSON, for pasting one from a script or a colleague. Applied only when it parses
 * and passes the schema, so that no key the form has no field for is silently dropped.
 */
export function RawSpecEditor({ spec, ctx, schema, onApply }: Props) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const toggle = () => {
    if (!open) setText(JSON.stringify(spec, null, 2));
    setProblem(null);
    setOpen(!open);
  };

  const apply = () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      setProblem(`Not JSON: ${(error as Error).message}`);
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      setProblem("The spec must be a JSON object");
      return;
    }
    const errors = Object.entries(validateSpec(ctx, schema, parsed));
    if (errors.length > 0) {
      setProblem(errors.map(([path, message]) => `${path || "spec"}: ${message}`).join("\n"));
      return;
    }
    onApply(parsed as Record<string, unknown>);
    setProblem(null);
    setOpen(false);
  };

  return (
    <div className="raw-spec">
      <button
        type="button"
        className="link-button"
        data-testid="raw-json-toggle"
        onClick={toggle}
        aria-expanded={open}
      >
        {open ? "Hide the JSON spec" : "Edit the spec as JSON"}
      </button>
      {open && (
        <div className="raw-spec-panel">
          <textarea
            data-testid="raw-json"
            aria-label="Run spec as JSON"
            spellCheck={false}
            rows={Math.min(30, text.split("\n").length + 1)}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          {problem && (
            <pre className="field-error" data-testid="raw-json-error">
              {problem}
            </pre>
          )}
          <div className="raw-spec-actions">
            <button type="button" data-testid="raw-json-apply" onClick={apply}>
              Apply to the form
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
