// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { configColors } from "./sweepModel";
import { SweepResultsTable } from "./SweepResultsTable";
import type { MetricDefinition, SweepRow } from "./types";

afterEach(cleanup);

const METRICS: MetricDefinition[] = [
  {
    id: "acc",
    label: "ACC",
    definition: "final average accuracy",
    formula: "(1/T) Σ_j R[T][j]",
    higher_is_better: true,
    unit: "fraction",
    headline: true,
  },
  {
    id: "gap",
    label: "Gap",
    definition: "mean stability gap over eligible rows",
    formula: "max(0, min(depth, after − trough))",
    higher_is_better: false,
    unit: "fraction",
    headline: true,
  },
];

const ROWS: SweepRow[] = [
  {
    config: { "strategy.name": "finetune" },
    run_ids: [11, 12],
    seeds: [0, 1],
    cells: {
      acc: { mean: 0.2, ci95: 0.01, n: 2, provisional: false },
      gap: { mean: 0.0, ci95: 0.0, n: 2, provisional: false },
    },
  },
  {
    config: { "strategy.name": "er" },
    run_ids: [13, 14],
    seeds: [0, 1],
    cells: {
      acc: { mean: 0.8, ci95: null, n: 1, provisional: true },
      gap: { mean: 0.15, ci95: null, n: 1, provisional: true },
    },
  },
];

function renderTable(sort: { metric: string; descending: boolean } | null = null) {
  const onSort = vi.fn();
  render(
    <MemoryRouter>
      <SweepResultsTable
        axes={["strategy.name"]}
        metrics={METRICS}
        rows={ROWS}
        colors={configColors(ROWS)}
        sort={sort}
        onSort={onSort}
      />
    </MemoryRouter>,
  );
  return onSort;
}

describe("SweepResultsTable", () => {
  it("shows one row per configuration with its n, cells and runs", () => {
    renderTable();
    const rows = screen.getAllByTestId("sweep-row");
    expect(rows).toHaveLength(2);
    const first = within(rows[0]!);
    expect(first.getByText("finetune")).toBeTruthy();
    expect(first.getByTestId("sweep-row-n").textContent).toBe("2");
    expect(rows[0]!.querySelector('[data-metric="acc"]')!.textContent).toBe("20.0 ± 1.0");
    expect(first.getByRole("link", { name: "#11" }).getAttribute("href")).toBe("/runs/11");
    expect(first.getByTestId("sweep-row-compare").getAttribute("href")).toBe(
      "/compare?runs=11,12",
    );
  });

  it("marks provisional cells and a number with fewer runs than its row", () => {
    renderTable();
    const cell = screen.getAllByTestId("sweep-row")[1]!.querySelector('[data-metric="gap"]')!;
    expect(cell.getAttribute("data-provisional")).toBe("true");
    expect(cell.textContent).toBe("15.0 n=1*");
    expect(cell.getAttribute("title")).toMatch(/Provisional/);
  });

  it("headers carry the metric's definition and sort on click", () => {
    const onSort = renderTable();
    const gap = screen.getByTestId("sweep-sort-gap");
    expect(gap.getAttribute("title")).toContain("mean stability gap over eligible rows");
    fireEvent.click(gap);
    expect(onSort).toHaveBeenCalledWith({ metric: "gap", descending: false });
  });

  it("says which column sorts, and which way", () => {
    renderTable({ metric: "acc", descending: true });
    const header = screen.getByTestId("sweep-sort-acc").closest("th")!;
    expect(header.getAttribute("aria-sort")).toBe("descending");
    expect(screen.getByTestId("sweep-sort-gap").closest("th")!.getAttribute("aria-sort")).toBe(
      "none",
    );
  });
});
