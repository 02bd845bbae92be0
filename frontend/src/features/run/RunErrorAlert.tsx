// A failed or crashed run's error as an alert: what went wrong in one line, what to do, and the
// traceback behind a "details" disclosure.
import type { RunRead } from "../../api/client";
import { CodeText } from "../../components/CodeText";
import { CopyButton } from "../../components/CopyButton";
import { describeRunError } from "./runError";

export function RunErrorAlert({ run }: { readonly run: RunRead }) {
  if (!(run.status === "failed" || run.status === "crashed")) return null;
  const view = describeRunError(run.error ?? "", run);
  return (
    <div className="run-error" role="alert" data-testid="run-error" data-status={run.status}>
      <p className="run-error-title">
        <strong>{view.title}:</strong>{" "}
        <span data-testid="run-error-summary">{view.summary}</span>
      </p>
      {view.hint && (
        <div className="run-error-hint" data-testid="run-error-hint">
          <p>
            <CodeText text={view.hint.text} />
          </p>
          {view.hint.command && (
            <p className="run-error-command">
              <code data-testid="run-error-command">{view.hint.command}</code>
              <CopyButton text={view.hint.command} testId="copy-error-command" />
            </p>
          )}
        </div>
      )}
      {view.details && (
        <details className="run-error-details" data-testid="run-error-details">
          <summary>details</summary>
          <pre>{view.details}</pre>
        </details>
      )}
    </div>
  );
}
