import { useState } from "react";

interface Props {
  /** The first button's test id; the confirming one is `<testId>-confirm`, going back `-keep`. */
  testId: string;
  label: string;
  question: string;
  confirmLabel: string;
  disabled?: boolean;
  onConfirm: () => void;
}

/** A button for what cannot be undone (revoking a key, removing a member): a second click
 * on an explicit confirmation does it, so a stray click does nothing. */
export function ConfirmButton({ testId, label, question, confirmLabel, disabled, onConfirm }: Props) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm-inline" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button
        type="button"
        className="danger"
        data-testid={`${testId}-confirm`}
        disabled={disabled}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" data-testid={`${testId}-keep`} onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}
