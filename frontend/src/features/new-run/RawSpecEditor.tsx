import { useState } from "react";

interface Props {
  /** What the editor shows: the user's own text while they edit, else the form's spec. */
  text: string;
  /** Why the text is not applied to the form; null when it is. */
  problem: string | null;
  /** Whether the text is the user's own (edited here) rather than the form's spec. */
  edited: boolean;
  onChange: (text: string) => void;
  onDiscard: () => void;
}

/**
 * The spec as JSON, for pasting one from a script or a colleague. It is the form's state, not a
 * copy: text that is a valid spec is applied to the form as it is typed; text that is not says
 * why, and the form refuses to submit until it is fixed or discarded.
 */
export function RawSpecEditor({ text, problem, edited, onChange, onDiscard }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <div className="raw-spec">
      <button
        type="button"
        className="link-button"
        data-testid="raw-json-toggle"
        onClick={() => setOpen(!open)}
        aria-expanded={open}
      >
        {open ? "Hide the JSON spec" : "Edit the spec as JSON"}
      </button>
      {!open && problem && (
        <span className="field-error raw-spec-hidden-problem">
          {" "}
          The JSON spec has edits that are not applied.
        </span>
      )}
      {open && (
        <div className="raw-spec-panel">
          <textarea
            id="raw-json"
            data-testid="raw-json"
            aria-label="Run spec as JSON"
            aria-invalid={problem ? true : undefined}
            spellCheck={false}
            rows={Math.min(30, text.split("\n").length + 1)}
            value={text}
            onChange={(e) => onChange(e.target.value)}
          />
          {problem ? (
            <pre className="field-error" data-testid="raw-json-error" role="alert">
              Not applied to the form: {problem}
            </pre>
          ) : (
            <p className="muted raw-spec-status" data-testid="raw-json-status">
              {edited ? "Applied to the form as you type." : "The form's spec; edits apply as you type."}
            </p>
          )}
          {edited && problem && (
            <div className="raw-spec-actions">
              <button type="button" data-testid="raw-json-discard" onClick={onDiscard}>
                Discard JSON edits
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
