import { describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import { compareHref, listNeedsPolling, runRowView } from "./runRow";

function run(overrides: Partial<RunRead>): RunRead {
  return {
    id: 7,
    kind: "engine",
    project: "lab-a",
    name: "digits er",
    group: "g",
    tags: ["demo"],
    status: "succeeded",
    error: null,
    spec: {
      benchmark: { name: "split_digits", scenario: "class_incremental", n_tasks: 5, test_fraction: 0.3 },
      model: { name: "mlp" },
      strategy: { name: "er" },
      seed: 3,
    },
    config: {},
    created_at: "2025-01-01T00:00:00Z",
    started_at: "2025-01-01T00:00:10Z",
    finished_at: "2025-01-01T00:01:40Z",
    heartbeat_at: null,
    progress: { step: 1500, total: 1500, fraction: 1 },
    iterations_per_s: null,
    worker: "w",
    attempts: 1,
    duration_s: 90,
    headline: { acc: 0.81, min_acc: 0.42, wc_acc: 0.55, gap: 0.31 },
    ...overrides,
  } as RunRead;
}

const now = Date.parse("2025-01-01T00:05:10Z");

describe("runRowView", () => {
  it("reads benchmark, scenario, strategy, seed and the headline numbers", () => {
    expect(runRowView(run({}), now)).toMatchObject({
      id: 7,
      project: "lab-a",
      benchmark: "split_digits",
      scenario: "class-incremental",
      strategy: "er",
      seed: 3,
      durationS: 90,
      progress: null,
      numbers: { acc: 0.81, min_acc: 0.42, wc_acc: 0.55, gap: 0.31 },
    });
  });

  it("a running run has a live duration and a progress fraction, and no numbers yet", () => {
    const row = runRowView(
      run({
        status: "running",
        finished_at: null,
        duration_s: null,
        headline: null,
        progress: { step: 300, total: 1500, fraction: 0.2 },
      }),
      now,
    );
    expect(row).toMatchObject({ durationS: 300, progress: 0.2, numbers: {} });
  });

  it("falls back to started/finished when the list has no duration yet; queued has none", () => {
    expect(runRowView(run({ duration_s: null }), now).durationS).toBe(90);
    expect(
      runRowView(run({ status: "queued", started_at: null, finished_at: null, duration_s: null }), now).durationS,
    ).toBeNull();
  });
});

describe("runRowView of a loop run", () => {
  const loop = run({
    id: 12,
    kind: "loop",
    name: "my-er",
    spec: null,
    config: { lr: 0.01, memory: 2000, optimizer: { name: "sgd" }, seed: 4 },
    worker: "laptop",
  });

  it("has no benchmark or strategy, and summarises its config instead", () => {
    expect(runRowView(loop, now)).toMatchObject({
      id: 12,
      kind: "loop",
      name: "my-er",
      benchmark: null,
      scenario: null,
      strategy: null,
      seed: 4,
      // The seed has its own column, so the summary leaves it out.
      config: { text: "lr=0.01 · memory=2000 · optimizer.name=sgd", more: 0 },
      numbers: { acc: 0.81 },
    });
    expect(runRowView(run({ kind: "loop", spec: null, config: {} }), now)).toMatchObject({
      seed: null,
      config: { text: "", more: 0 },
    });
  });

  it("an engine run has no config summary", () => {
    expect(runRowView(run({}), now).config).toBeNull();
  });

  it("a crashed loop run keeps its status and needs no polling", () => {
    const crashed = { ...loop, status: "crashed" as const, error: "no heartbeat for 300 s" };
    expect(runRowView(crashed, now)).toMatchObject({ status: "crashed", progress: null, step: null });
    expect(listNeedsPolling([crashed])).toBe(false);
  });

  it("a running loop without a total shows its step, not a bar", () => {
    const running = {
      ...loop,
      status: "running" as const,
      finished_at: null,
      duration_s: null,
      progress: { step: 420, total: null, fraction: null },
    };
    expect(runRowView(running, now)).toMatchObject({ progress: null, step: 420, durationS: 300 });
    const withTotal = { ...running, progress: { step: 420, total: 1000, fraction: 0.42 } };
    expect(runRowView(withTotal, now)).toMatchObject({ progress: 0.42, step: null });
  });
});

describe("listNeedsPolling", () => {
  it("polls while a run is queued or running, not once all have ended", () => {
    expect(listNeedsPolling([{ status: "succeeded" }, { status: "queued" }])).toBe(true);
    expect(listNeedsPolling([{ status: "running" }])).toBe(true);
    expect(listNeedsPolling([{ status: "succeeded" }, { status: "failed" }, { status: "cancelled" }])).toBe(false);
    expect(listNeedsPolling(undefined)).toBe(false);
  });
});

describe("compareHref", () => {
  it("lists the selected ids in order", () => {
    expect(compareHref(new Set([12, 3, 7]))).toBe("/compare?runs=3,7,12");
  });
});
