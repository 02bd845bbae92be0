import { CodeText } from "../../components/CodeText";
import { FormField } from "../../components/FormField";
import { type FieldDescriptor, boundsHint } from "./schemaForm";

interface Props {
  field: FieldDescriptor;
  value: string | boolean;
  error?: string;
  onChange: (path: string, value: string | boolean) => void;
}

// Phones and tablets show a number pad for numeric fields.
const INPUT_MODES: Partial<Record<FieldDescriptor["kind"], "numeric" | "decimal">> = {
  integer: "numeric",
  number: "decimal",
};

function placeholderFor(field: FieldDescriptor): string | undefined {
  if (field.kind === "list") {
    return field.default === undefined ? "server default" : "comma-separated";
  }
  if (field.kind === "lists") return "e.g. 0, 1; 2, 3";
  if (field.nullable) return "none";
  return undefined;
}

/** One input of the spec form, chosen by the field's kind; `name` is the field's dotted path. */
export function SchemaField({ field, value, error, onChange }: Props) {
  const id = `field-${field.path}`;
  const hint = boundsHint(field);
  const describedBy = [field.description || hint ? `${id}-help` : null, error ? `${id}-error` : null]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    name: field.path,
    "data-testid": id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy || undefined,
  };

  let input;
  if (field.kind === "boolean") {
    input = (
      <input
        type="checkbox"
        {...common}
        checked={value === true}
        onChange={(e) => onChange(field.path, e.target.checked)}
      />
    );
  } else if (field.kind === "variant" || field.kind === "enum") {
    const text = String(value);
    // A held value that is no choice (raw JSON, an old spec): without an option of its own the
    // browser would show the first choice while the draft, and the submission, keep this one.
    const stray =
      !(field.nullable && text === "") && !field.options?.some((o) => String(o) === text);
    input = (
      <select {...common} value={text} onChange={(e) => onChange(field.path, e.target.value)}>
        {stray && (
          <option value={text} disabled>
            {text === "" ? "(no value)" : `${text} (not a choice)`}
          </option>
        )}
        {field.nullable && <option value="">none</option>}
        {field.options?.map((option) => (
          <option key={String(option)} value={String(option)}>
            {field.optionLabels?.[String(option)] ?? String(option)}
          </option>
        ))}
      </select>
    );
  } else {
    // Text inputs, also for numbers: the exact text typed stays visible, so "1e-3" or a typo
    // is there to fix rather than silently emptied by a number input.
    input = (
      <input
        type="text"
        {...common}
        inputMode={INPUT_MODES[field.kind]}
        autoComplete="off"
        spellCheck={false}
        placeholder={placeholderFor(field)}
        value={String(value)}
        onChange={(e) => onChange(field.path, e.target.value)}
      />
    );
  }

  return (
    <FormField
      id={id}
      label={field.label}
      help={
        (field.description || hint) && (
          <>
            <CodeText text={field.description} />
            {hint && <span className="field-bounds">{hint}</span>}
          </>
        )
      }
      error={error}
      errorTestId={`field-error-${field.path}`}
      className={`kind-${field.kind}`}
    >
      {input}
    </FormField>
  );
}
