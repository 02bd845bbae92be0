// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { RunRead } from "../../api/client";
import { numberColumns } from "./runRow";
import { RunsTable } from "./RunsTable";
import { viewFromSearch } from "./runsQuery";

afterEach(cleanup);

function run(id: number, overrides: Partial<RunRead> = {}): RunRead {
  return {
    id,
    kind: "engine",
    project: "default",
    name: `run ${id}`,
    group: null,
    tags: [],
    status: "succeeded",
    error: null,
    spec: {
      benchmark: { name: "split_digits", scenario: "class_incremental" },
      model: { name: "mlp" },
      strategy: { name: "er" },
      seed: 1,
    },
    config: {},
    created_at: "2025-01-01T00:00:00Z",
    started_at: "2025-01-01T00:00:00Z",
    finished_at: "2025-01-01T00:00:30Z",
    heartbeat_at: null,
    progress: { step: 10, total: 10, fraction: 1 },
    iterations_per_s: null,
    worker: null,
    attempts: 1,
    duration_s: 30,
    headline: { acc: 0.5, min_acc: 0.25, wc_acc: 0.3, gap: null },
    ...overrides,
  } as RunRead;
}

function renderTable(runs: RunRead[], selected = new Set<number>(), sort = "") {
  const handlers = { onToggle: vi.fn(), onToggleAll: vi.fn(), onSort: vi.fn() };
  render(
    <MemoryRouter>
      <RunsTable
        runs={runs}
        columns={numberColumns(undefined)}
        view={viewFromSearch(new URLSearchParams(sort))}
        now={Date.parse("2025-01-01T00:01:00Z")}
        selected={selected}
        {...handlers}
      />
    </MemoryRouter>,
  );
  return handlers;
}

describe("RunsTable", () => {
  it("exposes the test ids the e2e tests rely on, with the raw status word", () => {
    renderTable([run(3), run(4, { status: "running", headline: null, finished_at: null, duration_s: null })]);
    expect(screen.getByTestId("runs-table")).toBeTruthy();
    expect(screen.getByTestId("run-status-3").textContent).toBe("succeeded");
    expect(screen.getByTestId("run-status-4").textContent).toBe("running");
    expect(screen.getByTestId("run-project-3").textContent).toBe("default");
    const row = screen.getByTestId("run-row-3");
    expect(within(row).getByRole("link", { name: "3" }).getAttribute("href")).toBe("/runs/3");
    expect(within(row).getByText("50.0%")).toBeTruthy();
    expect(within(row).getByText("25.0%")).toBeTruthy();
    // The running run shows a progress bar and a live duration (60 s since its start).
    const running = screen.getByTestId("run-row-4");
    expect(within(running).getByRole("progressbar")).toBeTruthy();
    expect(within(running).getByText("1m 00s")).toBeTruthy();
  });

  it("shows a loop run as its own loop with its config, and a crashed run by its own badge", () => {
    renderTable([
      run(5, {
        kind: "loop",
        spec: null,
        config: { lr: 0.01, memory: 2000, optimizer: { name: "sgd", momentum: 0.9 } },
        status: "crashed",
        error: "no heartbeat",
      }),
      run(6, {
        kind: "loop",
        spec: null,
        config: {},
        status: "running",
        finished_at: null,
        duration_s: null,
        headline: null,
        progress: { step: 1234, total: null, fraction: null },
      }),
    ]);
    const row = screen.getByTestId("run-row-5");
    const cell = screen.getByTestId("run-config-5");
    expect(within(cell).getByText("own loop")).toBeTruthy();
    expect(cell.textContent).toContain("lr=0.01 · memory=2000 · optimizer.name=sgd · +1");
    expect(within(cell).getByTitle(/optimizer\.momentum=0\.9/)).toBeTruthy();
    expect(within(row).queryByText("split_digits")).toBeNull();
    const badge = within(screen.getByTestId("run-status-5")).getByText("crashed");
    expect(badge.className).toContain("status-crashed");
    expect(badge.getAttribute("title")).toMatch(/heartbeats/);
    // No total from the loop: the step, not an empty progress bar.
    const running = screen.getByTestId("run-row-6");
    expect(within(running).queryByRole("progressbar")).toBeNull();
    expect(screen.getByTestId("run-step-6").textContent).toBe("step 1,234");
  });

  it("reports checkbox and header clicks", () => {
    const handlers = renderTable([run(3), run(4)], new Set([4]));
    fireEvent.click(screen.getByTestId("select-run-3"));
    expect(handlers.onToggle).toHaveBeenCalledWith(3);
    expect((screen.getByTestId("select-run-4") as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByTestId("sort-min_acc"));
    expect(handlers.onSort).toHaveBeenCalledWith("min_acc");
    fireEvent.click(screen.getByLabelText("Select every run on this page"));
    expect(handlers.onToggleAll).toHaveBeenCalledWith([3, 4], true);
  });

  it("marks the sorted column's direction", () => {
    renderTable([run(3)], new Set(), "sort=wc_acc");
    expect(screen.getByTestId("sort-wc_acc").closest("th")!.getAttribute("aria-sort")).toBe("ascending");
    expect(screen.getByTestId("sort-acc").closest("th")!.getAttribute("aria-sort")).toBe("none");
  });
});
