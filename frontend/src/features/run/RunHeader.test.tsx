// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import type { Me } from "../../auth/roles";
import { meQuery, RequireSession } from "../../auth/session";
import { RunConfig } from "./RunConfig";
import { describeRun, progressText, RunHeader } from "./RunHeader";

afterEach(cleanup);

const me: Me = {
  user: { name: "ada", is_admin: false, has_password: true, disabled: false, created_at: "2025-01-01T00:00:00Z" },
  via: "session",
  csrf_token: "csrf",
  projects: [{ name: "default", role: "editor" }],
  key: null,
};

function loopRun(overrides: Partial<RunRead> = {}): RunRead {
  return {
    id: 21,
    kind: "loop",
    project: "default",
    name: "my-er",
    group: null,
    tags: ["mnist"],
    status: "running",
    error: null,
    spec: null,
    config: { lr: 0.01, optimizer: { name: "sgd", momentum: 0.9 }, layers: [64, 64], seed: 2 },
    created_at: "2025-01-01T00:00:00Z",
    started_at: "2025-01-01T00:00:00Z",
    finished_at: null,
    heartbeat_at: "2025-01-01T00:01:00Z",
    progress: { step: 1500, total: null, fraction: null },
    iterations_per_s: 41.5,
    worker: "gpu-box-3",
    attempts: 1,
    duration_s: null,
    headline: null,
    ...overrides,
  } as RunRead;
}

function renderHeader(
  run: RunRead,
  lastStep: number | null = null,
  onExportPng: (() => void) | null = null,
) {
  const client = new QueryClient();
  client.setQueryData(meQuery.queryKey, me);
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/runs/21"]}>
        <Routes>
          <Route element={<RequireSession />}>
            <Route path="/runs/:id" element={<RunHeader run={run} live="off" onExportPng={onExportPng} lastStep={lastStep} />} />
          </Route>
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("RunHeader of a loop run", () => {
  it("says own training loop and its host instead of benchmark, model and strategy", () => {
    renderHeader(loopRun());
    const meta = screen.getByText("own training loop").closest("dl")!;
    expect(within(meta).getByText("trained by")).toBeTruthy();
    expect(within(meta).getByText("gpu-box-3")).toBeTruthy();
    expect(within(meta).getByText("2")).toBeTruthy(); // config.seed
    expect(within(meta).queryByText("benchmark")).toBeNull();
    expect(within(meta).queryByText("strategy")).toBeNull();
    expect(within(meta).queryByText("model")).toBeNull();
    // No total from the loop: its step, and no bar pretending to be empty.
    const progress = screen.getByTestId("progress-bar");
    expect(progress.textContent).toBe("step 1,500 · 41.5 it/s");
    expect(within(progress).queryByRole("progressbar")).toBeNull();
    expect(screen.getByTestId("cancel-run")).toBeTruthy();
  });

  it("shows a crashed run's error like a failed run's, and how to resume it", () => {
    renderHeader(
      loopRun({
        status: "crashed",
        error: "no heartbeat for 300 s: the loop's process stopped",
        finished_at: "2025-01-01T00:06:00Z",
        duration_s: 360,
      }),
    );
    expect(screen.getByTestId("run-status").getAttribute("data-status")).toBe("crashed");
    expect(screen.getByTestId("run-error").getAttribute("role")).toBe("alert");
    expect(screen.getByTestId("run-error-summary").textContent).toBe(
      "no heartbeat for 300 s: the loop's process stopped",
    );
    // One line: nothing more to disclose.
    expect(screen.queryByTestId("run-error-details")).toBeNull();
    expect(screen.getByTestId("run-error-command").textContent).toBe("gapwatch.init(resume=21)");
    expect(screen.getByTestId("progress-bar").textContent).toBe("step 1,500 · took 6m 00s");
    expect(screen.queryByTestId("cancel-run")).toBeNull();
  });

  it("describes a loop run without a host or seed by its loop alone", () => {
    expect(describeRun(loopRun({ worker: null, config: {} }))).toEqual([
      { label: "trained by", value: "own training loop" },
    ]);
  });
});

describe("progressText", () => {
  it("counts against the total when there is one", () => {
    const run = loopRun({ progress: { step: 300, total: 1200, fraction: 0.25 }, iterations_per_s: null });
    expect(progressText(run)).toBe("300 / 1,200 it (25.0%)");
  });
});

const TRACEBACK = [
  "DatasetUnavailable: dataset mnist not in cache and download failed: connection refused; to use " +
    "a copy of its files, run: gapwatch datasets import mnist PATH",
  "",
  "Traceback (most recent call last):",
  '  File "/srv/worker/gapwatch_worker/tasks.py", line 131, in execute',
  "gapwatch_worker.cl.datasets.store.DatasetUnavailable: dataset mnist not in cache",
].join("\n");

function engineRun(overrides: Partial<RunRead> = {}): RunRead {
  return loopRun({
    kind: "engine",
    config: null,
    worker: "w1",
    spec: {
      benchmark: { name: "split_mnist", scenario: "class_incremental", n_tasks: 5 },
      strategy: { name: "er" },
      model: { name: "mlp" },
      training: { iterations_per_task: 300 },
      seed: 0,
    },
    progress: { step: 0, total: null, fraction: null },
    ...overrides,
  } as Partial<RunRead>);
}

describe("RunHeader of an engine run", () => {
  it("names a custom benchmark's dataset and counts its tasks from the split", () => {
    const spec = engineRun().spec!;
    const run = engineRun({
      spec: {
        ...spec,
        benchmark: {
          name: "custom",
          dataset: 9,
          split: { kind: "classes", tasks: [[0, 1], [2, 3]] },
          scenario: "class_incremental",
        },
      },
    } as Partial<RunRead>);
    expect(describeRun(run)[0]).toEqual({
      label: "benchmark",
      value: "custom (dataset 9, class-incremental, 2 tasks)",
    });
  });

  it("counts the progress from the stored points and the spec's plan, never 0 / ?", () => {
    renderHeader(engineRun({ iterations_per_s: null }), 840);
    expect(screen.getByTestId("progress-text").textContent).toBe("840 / 1,500 it (56.0%)");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("56");
  });

  it("shows a failed run's error in words, the traceback behind details, and the fix", () => {
    renderHeader(
      engineRun({ status: "failed", error: TRACEBACK, finished_at: "2025-01-01T00:00:03Z", duration_s: 3 }),
    );
    const alert = screen.getByRole("alert");
    expect(screen.getByTestId("run-error-summary").textContent).toBe(
      "Dataset unavailable: dataset mnist not in cache and download failed: connection refused; " +
        "to use a copy of its files, run: gapwatch datasets import mnist PATH",
    );
    const details = within(alert).getByTestId("run-error-details");
    expect(details.tagName).toBe("DETAILS");
    expect(details.hasAttribute("open")).toBe(false);
    expect(details.querySelector("pre")!.textContent).toBe(TRACEBACK);
    // The first line is outside the disclosure; the traceback only inside it.
    expect(alert.querySelector(".run-error-title")!.textContent).not.toContain("Traceback");
    expect(screen.getByTestId("run-error-command").textContent).toBe(
      "gapwatch datasets import mnist PATH",
    );
    expect(screen.getByTestId("progress-text").textContent).toBe("0 / 1,500 it (0.0%) · took 3s");
  });

  it("offers the server's SVG and PDF figures next to the PNG once there is something to draw", () => {
    renderHeader(engineRun({ id: 34 }));
    expect(screen.queryByTestId("export-svg")).toBeNull();
    cleanup();
    renderHeader(engineRun({ id: 34 }), null, () => undefined);
    expect(screen.getByTestId("export-svg").getAttribute("href")).toBe(
      "/api/v1/runs/34/figures/accuracy.svg",
    );
    expect(screen.getByTestId("export-pdf").getAttribute("href")).toBe(
      "/api/v1/runs/34/figures/accuracy.pdf",
    );
  });
});

describe("RunConfig", () => {
  it("tables the config flat, values as JSON, searchable ones linked to the runs list", () => {
    render(
      <MemoryRouter>
        <RunConfig config={loopRun().config} />
      </MemoryRouter>,
    );
    const panel = screen.getByTestId("run-config");
    expect(panel.hasAttribute("open")).toBe(true);
    const rows = [...panel.querySelectorAll("tbody tr")].map((tr) => [
      tr.querySelector("th")!.textContent,
      tr.querySelector("code")!.textContent,
    ]);
    expect(rows).toEqual([
      ["lr", "0.01"],
      ["optimizer.name", '"sgd"'],
      ["optimizer.momentum", "0.9"],
      ["layers", "[64,64]"],
      ["seed", "2"],
    ]);
    const sgd = panel.querySelector('tr[data-key="optimizer.name"] a')!;
    expect(sgd.getAttribute("href")).toBe("/runs?config.optimizer.name=sgd");
    expect(panel.querySelector('tr[data-key="layers"] a')).toBeNull();
  });

  it("says so when the loop gave no config", () => {
    render(
      <MemoryRouter>
        <RunConfig config={{}} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId("run-config").textContent).toContain("The training loop gave no config.");
  });
});
