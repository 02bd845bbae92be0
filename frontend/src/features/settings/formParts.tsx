// What every settings form is made of: labelled inputs, and the line that says why an action
// did not happen.
import type { InputHTMLAttributes } from "react";

import { apiErrorText } from "../../api/client";

interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> {
  readonly label: string;
  readonly testId: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
}

/** A labelled text (or password) input; the other props go to the input. */
export function TextField({ label, testId, onChange, ...input }: TextFieldProps) {
  return (
    <label>
      {label}
      <input data-testid={testId} {...input} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

interface ErrorAlertProps {
  /** A sentence of the form's own, or what a refused request threw; nothing shows without one. */
  readonly error: unknown;
  readonly prefix?: string;
  readonly testId?: string;
}

/** Why an action did not happen, in the server's words where it refused (apiErrorText). */
export function ErrorAlert({ error, prefix = "", testId }: ErrorAlertProps) {
  if (!error) return null;
  return (
    <p className="error" data-testid={testId} role="alert">
      {prefix}
      {apiErrorText(error)}
    </p>
  );
}
