import { describe, expect, it } from "vitest";

import type { RunRead, RunSummary, Schemas } from "../../api/client";
import {
  COMPARE_METRICS,
  compareCell,
  compareChart,
  compareColumns,
  comparedTasks,
  groupRuns,
  loopAxes,
  parseSelection,
  runDetail,
  runSettings,
  sameSchedule,
  settingDifferences,
} from "./compareModel";

type AlignedSeries = Schemas["AlignedSeries"];

function run(id: number, strategy: string, group: string | null, iterations = 300): RunRead {
  return {
    id,
    kind: "engine",
    name: `run-${id}`,
    group,
    config: {},
    spec: {
      benchmark: { name: "split_digits", n_tasks: id === 9 ? 4 : 5 },
      model: { name: "mlp" },
      strategy: { name: strategy },
      training: { iterations_per_task: iterations },
    },
    headline: { acc: 0.5, min_acc: 0.2, wc_acc: 0.3, mean_gap_depth: id / 10 },
  } as unknown as RunRead;
}

describe("parseSelection", () => {
  it("reads run ids, dropping junk and repeats", () => {
    expect(parseSelection(new URLSearchParams("runs=3,1,x,3,-2"))).toEqual({
      kind: "runs",
      ids: [3, 1],
    });
  });

  it("reads groups, and nothing when neither is given", () => {
    expect(parseSelection(new URLSearchParams("groups=a,b%20c,a"))).toEqual({
      kind: "groups",
      groups: ["a", "b c"],
    });
    expect(parseSelection(new URLSearchParams(""))).toEqual({ kind: "none" });
  });
});

describe("groupRuns", () => {
  const runs = [run(1, "er", "g1"), run(2, "finetune", "g2"), run(3, "er", "g1"), run(4, "er", null)];

  it("groups by strategy in order of appearance, each with its own colour", () => {
    const groups = groupRuns(runs, "strategy");
    expect(groups.map((g) => [g.key, g.runIds, g.colorVar])).toEqual([
      ["er", [1, 3, 4], "--series-0"],
      ["finetune", [2], "--series-1"],
    ]);
  });

  it("groups by the runs' group, a run without one alone", () => {
    expect(groupRuns(runs, "group").map((g) => [g.key, g.runIds])).toEqual([
      ["g1", [1, 3]],
      ["g2", [2]],
      ["#4", [4]],
    ]);
  });
});

describe("compareChart", () => {
  const aligned: AlignedSeries = {
    key: "eval/acc/task_0",
    steps: [0, 1, 2, 3],
    values: [
      [0.9, 0.5, null, 0.9], // run 1 (er)
      [0.7, null, 0.7, 0.7], // run 3 (er)
      [0.8, 0.1, 0.1, 0.1], // run 2 (finetune)
    ],
    mean: [],
    std: [],
    count: [],
    downsampled: false,
  };
  const groups = groupRuns([run(1, "er", null), run(3, "er", null), run(2, "finetune", null)], "strategy");
  const labels = new Map([
    [1, "run-1"],
    [2, "run-2"],
    [3, "run-3"],
  ]);
  const chart = compareChart(aligned, [1, 3, 2], groups, 1000, labels);

  it("draws a group's runs faintly, then its mean; a lone run as itself", () => {
    expect(chart.series.map((s) => [s.label, s.alpha])).toEqual([
      ["run-1", 0.3],
      ["run-3", 0.3],
      ["er mean", undefined],
      ["run-2", undefined],
    ]);
    expect(chart.data[0]).toEqual([0, 1, 2, 3]);
    // Alignment gaps are undefined (joined), values in percent.
    expect(chart.data[1]).toEqual([90, 50, undefined, 90]);
    expect(chart.data[4]).toEqual([80, 10, 10, 10]);
  });

  it("takes the mean over the runs interpolated onto the shared steps", () => {
    const mean = chart.data[3] as (number | null)[];
    // Step 1: run 1 at 50, run 3 interpolated between 70 and 70.
    expect(mean[1]).toBeCloseTo(60);
    // Step 2: run 1 interpolated between 50 and 90 = 70, run 3 at 70.
    expect(mean[2]).toBeCloseTo(70);
  });

  it("bands the mean ± sample std of the group", () => {
    expect(chart.bands).toHaveLength(1);
    const { lower, upper } = chart.bands[0]!;
    // Step 0: 90 and 70 → mean 80, sample std 14.142…
    expect(upper[0]).toBeCloseTo(80 + Math.SQRT2 * 10);
    expect(lower[0]).toBeCloseTo(80 - Math.SQRT2 * 10);
  });

  it("copes with a task no run has reached", () => {
    const empty = compareChart(undefined, [1, 3, 2], groups, 1000, labels);
    expect(empty.data[0]).toEqual([]);
  });
});

describe("compare table", () => {
  const runs = [run(1, "er", "g"), run(2, "er", "g"), run(3, "finetune", "h")];
  const summaries = new Map<number, RunSummary>(
    runs.map((r, i) => [
      r.id,
      {
        acc: { value: [0.8, 0.6, 0.2][i], definition: "average_accuracy", formula: "ACC" },
        wf: { windows: [{ w: 10, value: 0.1 * (i + 1) }] },
      } as unknown as RunSummary,
    ]),
  );
  const byId = new Map(runs.map((r) => [r.id, r]));
  const groups = groupRuns(runs, "strategy");

  it("has a column per run plus a mean ± std column per multi-run strategy", () => {
    const columns = compareColumns(runs, groups, "runs");
    expect(columns.map((c) => c.label)).toEqual(["run-1", "run-2", "run-3", "er"]);
  });

  it("has only group columns when groups were compared", () => {
    const columns = compareColumns(runs, groupRuns(runs, "group"), "groups");
    expect(columns.map((c) => [c.label, c.runIds])).toEqual([
      ["g", [1, 2]],
      ["h", [3]],
    ]);
  });

  it("fills cells from the summaries and the runs' headline numbers", () => {
    const columns = compareColumns(runs, groups, "runs");
    const acc = COMPARE_METRICS.find((m) => m.id === "acc")!;
    const depth = COMPARE_METRICS.find((m) => m.id === "mean_gap_depth")!;
    const wf10 = COMPARE_METRICS.find((m) => m.id === "wf10")!;
    expect(compareCell(acc, columns[0]!, summaries, byId)).toEqual({ mean: 0.8, std: null, n: 1 });
    const group = compareCell(acc, columns[3]!, summaries, byId);
    expect(group.mean).toBeCloseTo(0.7);
    expect(group.std).toBeCloseTo(Math.SQRT2 * 0.1);
    expect(compareCell(depth, columns[2]!, summaries, byId).mean).toBeCloseTo(0.3);
    expect(compareCell(wf10, columns[1]!, summaries, byId).mean).toBeCloseTo(0.2);
  });

  it("lists the metrics the page promises", () => {
    expect(COMPARE_METRICS.map((m) => m.label)).toEqual([
      "ACC",
      "BWT",
      "Forgetting",
      "min-ACC",
      "WC-ACC",
      "WF10",
      "WF100",
      "Mean gap depth",
    ]);
  });
});

describe("task count and schedule", () => {
  it("charts the most tasks any run plans, and tells whether schedules agree", () => {
    expect(comparedTasks([run(1, "er", null), run(9, "er", null)])).toBe(5);
    expect(sameSchedule([run(1, "er", null), run(2, "er", null)])).toBe(true);
    expect(sameSchedule([run(1, "er", null), run(2, "er", null, 500)])).toBe(false);
  });
});

function loop(id: number, config: Record<string, unknown>, name: string | null = `loop-${id}`): RunRead {
  return {
    id,
    kind: "loop",
    name,
    group: null,
    spec: null,
    config,
    headline: { acc: 0.6, min_acc: 0.3, wc_acc: 0.4, mean_gap_depth: 0.2 },
  } as unknown as RunRead;
}

describe("comparing loop runs", () => {
  const a = loop(11, { lr: 0.01, memory: 2000, seed: 0, optimizer: { name: "sgd" } });
  const b = loop(12, { lr: 0.01, memory: 2000, seed: 1, optimizer: { name: "sgd" } });
  const c = loop(13, { lr: 0.1, memory: 2000, seed: 0, optimizer: { name: "adam" } });
  const engine = run(1, "er", null);

  it("labels a loop run by name (or id) and own loop", () => {
    expect(runDetail(a)).toBe("#11 · own loop · seed 0");
    expect(runDetail(loop(14, {}, null))).toBe("#14 · own loop");
    expect(runDetail(engine)).toBe("#1 · seed 0");
  });

  it("groups loop runs along the config entries they differ in, seeds aside", () => {
    expect(loopAxes([a, b, c, engine])).toEqual(["lr", "optimizer.name"]);
    const groups = groupRuns([engine, a, b, c], "strategy");
    expect(groups.map((g) => [g.label, g.runIds])).toEqual([
      ["er", [1]],
      ["own loop · lr=0.01 · optimizer.name=sgd", [11, 12]],
      ["own loop · lr=0.1 · optimizer.name=adam", [13]],
    ]);
    // Loop runs of one config: one group, "own loop".
    expect(groupRuns([a, b], "strategy").map((g) => [g.label, g.runIds])).toEqual([["own loop", [11, 12]]]);
    // Asked for groups: by their group as ever.
    expect(groupRuns([a, b], "group").map((g) => g.key)).toEqual(["#11", "#12"]);
  });

  it("gives the loop group a mean column and every run its own", () => {
    const runs = [a, b, c];
    const columns = compareColumns(runs, groupRuns(runs, "strategy"), "runs");
    expect(columns.map((c) => [c.label, c.runIds])).toEqual([
      ["loop-11", [11]],
      ["loop-12", [12]],
      ["loop-13", [13]],
      ["own loop · lr=0.01 · optimizer.name=sgd", [11, 12]],
    ]);
  });

  it("reads the task count from the summaries when no spec plans one", () => {
    expect(comparedTasks([a, c])).toBe(0);
    expect(comparedTasks([a, c], [{ tasks_total: null, tasks_completed: 3 }])).toBe(3);
    expect(comparedTasks([engine, a], [{ tasks_total: null, tasks_completed: 2 }])).toBe(5);
  });

  it("cannot vouch for a loop run's schedule", () => {
    expect(sameSchedule([a, b])).toBeNull();
    expect(sameSchedule([engine, a])).toBeNull();
    expect(sameSchedule([engine, run(2, "er", null, 500), a])).toBe(false);
    expect(sameSchedule([a])).toBe(true);
  });

  it("lists the config entries that differ, with every run's value", () => {
    expect(settingDifferences([a, b, c])).toEqual([
      { key: "config.lr", values: ["0.01", "0.01", "0.1"] },
      { key: "config.seed", values: ["0", "1", "0"] },
      { key: "config.optimizer.name", values: ["sgd", "sgd", "adam"] },
    ]);
    expect(settingDifferences([a, a])).toEqual([]);
  });

  it("sets engine spec fields beside loop config entries, blank where a run has none", () => {
    expect(runSettings(engine).get("strategy.name")).toBe("er");
    expect(runSettings(engine).has("name")).toBe(false);
    const rows = settingDifferences([engine, a]);
    expect(rows).toContainEqual({ key: "strategy.name", values: ["er", ""] });
    expect(rows).toContainEqual({ key: "config.lr", values: ["", "0.01"] });
  });

  it("draws a loop group's seeds as their mean", () => {
    const groups = groupRuns([a, b], "strategy");
    const aligned: AlignedSeries = {
      key: "eval/acc/task_0",
      steps: [0, 1],
      values: [
        [0.8, 0.6],
        [0.6, 0.4],
      ],
      mean: [],
      std: [],
      count: [],
      downsampled: false,
    };
    const chart = compareChart(aligned, [11, 12], groups, 1000, new Map([[11, "loop-11"], [12, "loop-12"]]));
    expect(chart.series.map((s) => s.label)).toEqual(["loop-11", "loop-12", "own loop mean"]);
    expect((chart.data[3] as number[])[0]).toBeCloseTo(70);
  });
});
