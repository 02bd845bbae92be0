import { describe, expect, it } from "vitest";

import type { RunRead, Schemas } from "../../api/client";
import {
  accuracyTables,
  chartTable,
  hasPoints,
  lossTable,
  plannedTasks,
  runSeriesKeys,
  visibleRange,
} from "./runSeries";

type MetricsRead = Schemas["MetricsRead"];

const read: MetricsRead = {
  run_id: 1,
  downsampled: false,
  points_in_range: { "eval/acc/task_0": 4, "eval/acc/task_1": 3, "train/loss": 3 },
  next_start: {},
  series: [
    { key: "eval/acc/task_0", steps: [0, 1, 2, 3], values: [0.1, 0.9, 0.5, 0.8] },
    { key: "eval/acc/task_1", steps: [0, 2, 3], values: [0.0, 0.7, 0.95] },
    { key: "train/loss", steps: [1, 2, 3], values: [2.0, 0, 0.5] },
  ],
};

const shape = { points: 1000, range: null };

describe("run series keys", () => {
  it("asks for accuracy and loss of every planned task plus training loss and lr", () => {
    expect(runSeriesKeys(2)).toEqual([
      "eval/acc/task_0",
      "eval/acc/task_1",
      "eval/loss/task_0",
      "eval/loss/task_1",
      "train/loss",
      "train/lr",
    ]);
  });

  it("reads the planned task count from the spec", () => {
    const run = { spec: { benchmark: { name: "split_digits", n_tasks: 5 } } } as unknown as RunRead;
    expect(plannedTasks(run)).toBe(5);
    expect(plannedTasks(undefined)).toBeNull();
  });

  it("counts a custom benchmark's tasks from its split", () => {
    const tasks = (benchmark: unknown) =>
      plannedTasks({ spec: benchmark === undefined ? null : { benchmark } } as unknown as RunRead);
    const custom = (split: unknown) => ({ name: "custom", dataset: 3, split });
    expect(tasks(custom({ kind: "classes", tasks: [[0, 1], [2, 3], [4]] }))).toBe(3);
    expect(tasks(custom({ kind: "permutations", n_tasks: 7 }))).toBe(7);
    expect(tasks(custom({ kind: "rotations", angles: [0, 45] }))).toBe(2);
    expect(tasks({ name: "a_plugin" })).toBeNull();
    expect(tasks(null)).toBeNull();
    expect(tasks(undefined)).toBeNull();
  });
});

describe("accuracyTables", () => {
  it("gives each task its own table and an overlay on the union of steps, in percent", () => {
    const { perTask, overlay } = accuracyTables(read, [0, 1], shape);
    expect(perTask[0]).toEqual([
      [0, 1, 2, 3],
      [10, 90, 50, 80],
    ]);
    expect(perTask[1]![0]).toEqual([0, 2, 3]);
    expect(overlay[0]).toEqual([0, 1, 2, 3]);
    expect(overlay[2]).toEqual([0, undefined, 70, 95]);
  });

  it("leaves a task without points as an empty column", () => {
    const { overlay } = accuracyTables(read, [0, 3], shape);
    expect(overlay[2]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("lossTable", () => {
  it("puts training loss first and drops zero losses (log scale)", () => {
    const table = lossTable(read, [0], shape);
    expect(table[0]).toEqual([1, 2, 3]);
    expect(table[1]).toEqual([2, undefined, 0.5]);
  });
});

describe("chartTable with downsampled reads", () => {
  it("does not break a downsampled series at its M4 bucket spacing", () => {
    // Two buckets of ~1000 steps: points 980 apart are neighbours, not a hole.
    const steps = [0, 10, 990, 1000, 1010, 1990];
    const sparse: MetricsRead = {
      run_id: 1,
      downsampled: true,
      points_in_range: { k: 2000 },
      next_start: {},
      series: [{ key: "k", steps, values: steps.map(() => 1) }],
    };
    const table = chartTable(sparse, ["k"], { points: 8, range: null });
    expect(table[1]).not.toContain(null);
    // The same points read raw (not downsampled) do have holes.
    const raw = chartTable({ ...sparse, points_in_range: { k: 6 } }, ["k"], { points: 8, range: null });
    expect(raw[1]).toContain(null);
  });
});

describe("visibleRange", () => {
  it("shows the zoom with its exclusive end, else the whole planned run", () => {
    expect(visibleRange({ start: 300, end: 601 }, 1500)).toEqual([300, 600]);
    expect(visibleRange(null, 1500)).toEqual([0, 1500]);
    expect(visibleRange(null, null)).toBeNull();
  });
});

describe("hasPoints", () => {
  it("is true once any column holds a finite value", () => {
    expect(hasPoints(accuracyTables(read, [0], shape).perTask[0])).toBe(true);
    expect(hasPoints(accuracyTables(read, [3], shape).perTask[0])).toBe(false);
    expect(hasPoints([[1, 2], [null, undefined]] as never)).toBe(false);
    expect(hasPoints(undefined)).toBe(false);
  });
});
