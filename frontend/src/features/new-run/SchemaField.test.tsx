// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { SchemaField } from "./SchemaField";
import type { FieldDescriptor } from "./schemaForm";

afterEach(cleanup);

const bufferSize: FieldDescriptor = {
  path: "strategy.buffer_size",
  group: "strategy",
  label: "Buffer size",
  kind: "integer",
  nullable: false,
  required: false,
  default: 200,
  bounds: { minimum: 1, maximum: 1_000_000 },
  description: "Samples kept in memory over the whole run.",
};

describe("SchemaField", () => {
  it("names the input by its dotted path and shows help with bounds", () => {
    render(<SchemaField field={bufferSize} value="200" onChange={() => {}} />);
    const input = screen.getByTestId("field-strategy.buffer_size") as HTMLInputElement;
    expect(input.name).toBe("strategy.buffer_size");
    expect(input.value).toBe("200");
    expect(screen.getByText(/Samples kept in memory/).textContent).toContain("1 … 1,000,000");
    expect(screen.queryByTestId("field-error-strategy.buffer_size")).toBeNull();
  });

  it("shows its error and reports edits by path", () => {
    const onChange = vi.fn();
    render(<SchemaField field={bufferSize} value="0" error="Input should be greater than or equal to 1" onChange={onChange} />);
    expect(screen.getByTestId("field-error-strategy.buffer_size").textContent).toBe(
      "Input should be greater than or equal to 1",
    );
    expect(screen.getByTestId("field-strategy.buffer_size").getAttribute("aria-invalid")).toBe("true");
    fireEvent.change(screen.getByTestId("field-strategy.buffer_size"), { target: { value: "50" } });
    expect(onChange).toHaveBeenCalledWith("strategy.buffer_size", "50");
  });

  it("renders variants and enums as selects, booleans as checkboxes", () => {
    const onChange = vi.fn();
    render(
      <>
        <SchemaField
          field={{ ...bufferSize, path: "strategy.name", kind: "variant", options: ["finetune", "er"] }}
          value="er"
          onChange={onChange}
        />
        <SchemaField field={{ ...bufferSize, path: "evaluation.include_unseen", kind: "boolean" }} value={false} onChange={onChange} />
      </>,
    );
    const select = screen.getByTestId("field-strategy.name") as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["finetune", "er"]);
    fireEvent.change(select, { target: { value: "finetune" } });
    expect(onChange).toHaveBeenCalledWith("strategy.name", "finetune");
    fireEvent.click(screen.getByTestId("field-evaluation.include_unseen"));
    expect(onChange).toHaveBeenCalledWith("evaluation.include_unseen", true);
  });

  it("shows a held value that is not among the choices instead of silently showing the first", () => {
    const onChange = vi.fn();
    const nTasks: FieldDescriptor = {
      ...bufferSize,
      path: "benchmark.n_tasks",
      kind: "enum",
      options: [10, 20],
      default: 10,
      bounds: {},
    };
    render(<SchemaField field={nTasks} value="5" error="Choose one of 10, 20" onChange={onChange} />);
    const select = screen.getByTestId("field-benchmark.n_tasks") as HTMLSelectElement;
    // What is shown is what is held (and submitted): 5, not the first option 10.
    expect(select.value).toBe("5");
    const shown = select.options[select.selectedIndex]!;
    expect(shown.textContent).toContain("5");
    // It cannot be picked again, and the real choices follow it.
    expect(shown.disabled).toBe(true);
    expect([...select.options].filter((o) => !o.disabled).map((o) => o.value)).toEqual(["10", "20"]);
    fireEvent.change(select, { target: { value: "20" } });
    expect(onChange).toHaveBeenCalledWith("benchmark.n_tasks", "20");
  });

  it("adds no placeholder while the held value is a choice (or none, when nullable)", () => {
    const field: FieldDescriptor = { ...bufferSize, kind: "enum", options: ["a", "b"], nullable: true };
    const { rerender } = render(<SchemaField field={field} value="b" onChange={() => {}} />);
    const select = () => screen.getByTestId("field-strategy.buffer_size") as HTMLSelectElement;
    expect([...select().options].map((o) => o.value)).toEqual(["", "a", "b"]);
    expect(select().value).toBe("b");
    rerender(<SchemaField field={field} value="" onChange={() => {}} />);
    expect([...select().options].map((o) => o.value)).toEqual(["", "a", "b"]);
    expect(select().value).toBe("");
  });

  it("labels a select's options where the field says how (a custom benchmark's datasets)", () => {
    const onChange = vi.fn();
    const dataset: FieldDescriptor = {
      ...bufferSize,
      path: "benchmark.dataset",
      kind: "enum",
      options: [12, 5],
      optionLabels: { "12": "blobs · classes 0–3", "5": "digits · classes 0–9" },
      bounds: {},
    };
    render(<SchemaField field={dataset} value="5" onChange={onChange} />);
    const select = screen.getByTestId("field-benchmark.dataset") as HTMLSelectElement;
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["12", "blobs · classes 0–3"],
      ["5", "digits · classes 0–9"],
    ]);
    expect(select.value).toBe("5");
    fireEvent.change(select, { target: { value: "12" } });
    expect(onChange).toHaveBeenCalledWith("benchmark.dataset", "12");
  });

  it("types a list of lists as text, with an example of the syntax", () => {
    const tasks: FieldDescriptor = {
      ...bufferSize,
      path: "benchmark.split.tasks",
      kind: "lists",
      itemKind: "integer",
      default: undefined,
      bounds: { minItems: 2 },
      itemBounds: { minimum: 0 },
    };
    render(<SchemaField field={tasks} value="0, 1; 2, 3" onChange={() => {}} />);
    const input = screen.getByTestId("field-benchmark.split.tasks") as HTMLInputElement;
    expect(input.type).toBe("text");
    expect(input.value).toBe("0, 1; 2, 3");
    expect(input.placeholder).toBe("e.g. 0, 1; 2, 3");
  });
});
