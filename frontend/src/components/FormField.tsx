// One field of a form: its label, the input (the children), a help line and the field's error,
// in the "form-field" frame the forms share. The input itself says which of the help
// (`${id}-help`) and the error (`${id}-error`) describe it.
import type { ReactNode } from "react";

interface Props {
  /** The input's id: the label points at it, and the help and error ids derive from it. */
  readonly id: string;
  readonly label: ReactNode;
  /** Shown under the input when there is any. */
  readonly help?: ReactNode;
  readonly error?: string;
  readonly errorTestId: string;
  /** Classes added to "form-field" ("kind-integer", say). */
  readonly className?: string;
  readonly children: ReactNode;
}

export function FormField({ id, label, help, error, errorTestId, className, children }: Props) {
  return (
    <div className={`form-field${className ? ` ${className}` : ""}${error ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {help && (
        <div className="field-help" id={`${id}-help`}>
          {help}
        </div>
      )}
      {error && (
        <div className="field-error" id={`${id}-error`} data-testid={errorTestId} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
