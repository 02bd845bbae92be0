// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import type { RunRead, RunSummary, Schemas } from "../../api/client";
import {
  compareCell,
  compareChart,
  compareColumns,
  compareMetrics,
  comparedTasks,
  formatMetric,
  type MetricDefinition,
  groupRuns,
  loopAxes,
  parseSelection,
  plannedIterations,
  runColors,
  runDetail,
  runSettings,
  sameSchedule,
  settingDifferences,
  storedNumber,
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
    headline: { acc: 0.5, min_acc: 0.2, wc_acc: 0.3, gap_depth: id / 10 },
    status: "succeeded",
    progress: { step: 0, total: null, fraction: null },
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

  it("starts the groups' colours after the runs' own when runs are compared by id", () => {
    expect(groupRuns(runs, "strategy", runs.length).map((g) => g.colorVar)).toEqual([
      "--series-4",
      "--series-5",
    ]);
    expect([...runColors(runs).values()]).toEqual([
      "--series-0",
      "--series-1",
      "--series-2",
      "--series-3",
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

  it("draws each run in its own colour when given, the group mean in the group's", () => {
    const runs = [run(1, "er", null), run(3, "er", null), run(2, "finetune", null)];
    const colors = runColors(runs);
    const own = compareChart(aligned, [1, 3, 2], groupRuns(runs, "strategy", 3), 1000, labels, colors);
    expect(own.series.map((s) => [s.label, s.colorVar])).toEqual([
      ["run-1", "--series-0"],
      ["run-3", "--series-1"],
      ["er mean", "--series-3"],
      ["run-2", "--series-2"],
    ]);
    expect(own.bands[0]!.colorVar).toBe("--series-3");
  });

  it("draws the mean of runs in their own colours only where two runs or more cover the step", () => {
    const runs = [run(1, "er", null), run(3, "er", null)];
    const ahead: AlignedSeries = { ...aligned, steps: [0, 1, 2], values: [[0.9, 0.8, 0.7], [0.7, null, null]] };
    const own = compareChart(ahead, [1, 3], groupRuns(runs, "strategy", 2), 1000, labels, runColors(runs));
    const mean = own.data[3] as (number | null)[];
    expect(mean[0]).toBeCloseTo(80);
    expect(mean.slice(1)).toEqual([null, null]); // run 1 alone: its own line, no "mean" over it
  });

  it("copes with a task no run has reached", () => {
    const empty = compareChart(undefined, [1, 3, 2], groups, 1000, labels);
    expect(empty.data[0]).toEqual([]);
  });
});

// GET /definitions as the registry answers it (the fields the table reads), one non-headline.
const DEFINITIONS: MetricDefinition[] = [
  ["acc", "ACC", true, "fraction", true],
  ["bwt", "BWT", true, "fraction", true],
  ["wf10", "WF10", false, "fraction", false],
  ["gap_depth", "Gap depth", false, "fraction", true],
  ["gap_recovered", "Recovered", true, "share", true],
].map(([id, label, higher, unit, headline]) => ({
  id: id as string,
  label: label as string,
  definition: `what ${id} means`,
  formula: `${id} = …`,
  higher_is_better: higher as boolean,
  unit: unit as MetricDefinition["unit"],
  headline: headline as boolean,
}));
const METRICS = compareMetrics(DEFINITIONS);
const metric = (id: string) => METRICS.find((m) => m.id === id)!;

function summaryOf(status: string, metrics: Record<string, number | null>): RunSummary {
  return {
    status,
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, value]) => [k, { value, se: null, n: 1 }])),
  } as unknown as RunSummary;
}

describe("compare table", () => {
  const runs = [run(1, "er", "g"), run(2, "er", "g"), run(3, "finetune", "h")];
  const summaries = new Map<number, RunSummary>(
    runs.map((r, i) => [r.id, summaryOf("succeeded", { acc: [0.8, 0.6, 0.2][i]!, bwt: -0.1 * (i + 1) })]),
  );
  const byId = new Map(runs.map((r) => [r.id, r]));
  const groups = groupRuns(runs, "strategy");

  it("has a row per headline metric of the registry, in its order, defined on hover", () => {
    expect(METRICS.map((m) => m.id)).toEqual(["acc", "bwt", "gap_depth", "gap_recovered"]);
    expect(metric("gap_depth").title).toContain("what gap_depth means");
    expect(metric("gap_depth").title).toContain("lower is better");
    expect(formatMetric(metric("acc"), 0.8123)).toBe("81.23%");
    expect(formatMetric(metric("bwt"), -0.05)).toBe("−5.00%");
    expect(formatMetric(metric("gap_recovered"), 2 / 3)).toBe("67%");
    expect(formatMetric(metric("acc"), null)).toBe("—");
  });

  it("has a column per run, headed by its id and seed in its own colour, plus a mean ± std column per multi-run strategy", () => {
    const columns = compareColumns(runs, groups, "runs");
    expect(columns.map((c) => [c.label, c.name, c.colorVar])).toEqual([
      ["#1 · seed 0", "run-1", "--series-0"],
      ["#2 · seed 0", "run-2", "--series-1"],
      ["#3 · seed 0", "run-3", "--series-2"],
      ["er", undefined, groups[0]!.colorVar],
    ]);
    // Seeds of one spec no longer share a heading.
    const seeds = [1, 2, 3].map((id) => ({ ...run(id, "er", "g"), name: "split-digits er", spec: { ...run(id, "er", "g").spec!, seed: id + 10 } }) as RunRead);
    const headings = compareColumns(seeds, groupRuns(seeds, "strategy", 3), "runs").map((c) => c.label);
    expect(new Set(headings).size).toBe(headings.length);
    expect(headings.slice(0, 3)).toEqual(["#1 · seed 11", "#2 · seed 12", "#3 · seed 13"]);
  });

  it("has only group columns when groups were compared", () => {
    const columns = compareColumns(runs, groupRuns(runs, "group"), "groups");
    expect(columns.map((c) => [c.label, c.runIds])).toEqual([
      ["g", [1, 2]],
      ["h", [3]],
    ]);
  });

  it("fills cells from the summaries' metrics, else the numbers stored when the run ended", () => {
    const columns = compareColumns(runs, groups, "runs");
    expect(compareCell(metric("acc"), columns[0]!, summaries, byId)).toEqual({
      mean: 0.8,
      std: null,
      n: 1,
      runIds: [1],
      provisional: false,
    });
    const group = compareCell(metric("acc"), columns[3]!, summaries, byId);
    expect(group.mean).toBeCloseTo(0.7);
    expect(group.std).toBeCloseTo(Math.SQRT2 * 0.1);
    // No summary metric: the run's stored headline (run() stores gap_depth = id / 10).
    expect(compareCell(metric("gap_depth"), columns[2]!, new Map(), byId).mean).toBeCloseTo(0.3);
    expect(storedNumber(summaryOf("running", { gap_depth: 0.07 }), runs[0], "gap_depth")).toBe(0.07);
    expect(storedNumber(undefined, { ...runs[0]!, headline: null }, "gap_depth")).toBeNull();
  });

  it("counts, per number, the runs that have it, and marks numbers of runs not ended", () => {
    // Three seeds: one cancelled before a task ended (no numbers), one still running.
    const seeds = [run(1, "er", "s"), run(2, "er", "s"), run(3, "er", "s")].map((r) => ({ ...r, headline: null }));
    const sums = new Map<number, RunSummary>([
      [1, summaryOf("succeeded", { acc: 0.6, bwt: -0.1 })],
      [2, summaryOf("cancelled", { acc: null, bwt: null })],
      [3, summaryOf("running", { acc: 0.8, bwt: null })],
    ]);
    const byRun = new Map(seeds.map((r) => [r.id, r]));
    const columns = compareColumns(seeds, groupRuns(seeds, "strategy", 3), "runs");
    const group = columns[3]!;
    expect(group.isGroup && group.runIds).toEqual([1, 2, 3]);
    const acc = compareCell(metric("acc"), group, sums, byRun);
    expect([acc.n, acc.runIds, acc.provisional]).toEqual([2, [1, 3], true]);
    expect(acc.mean).toBeCloseTo(0.7);
    const bwt = compareCell(metric("bwt"), group, sums, byRun);
    expect([bwt.n, bwt.runIds, bwt.provisional, bwt.mean, bwt.std]).toEqual([1, [1], false, -0.1, null]);
    // A run column is provisional while its run has not ended, and has n = 0 without a number.
    expect(compareCell(metric("acc"), columns[2]!, sums, byRun).provisional).toBe(true);
    expect(compareCell(metric("acc"), columns[1]!, sums, byRun)).toMatchObject({ n: 0, mean: null, provisional: false });
    // The summary's status decides, not a fresher run status the numbers do not reflect yet.
    const ended = new Map(byRun).set(3, { ...seeds[2]!, status: "succeeded" });
    expect(compareCell(metric("acc"), group, sums, ended).provisional).toBe(true);
  });
});

describe("planned iterations", () => {
  it("spans the axis over the longest run planned, before any point exists", () => {
    expect(plannedIterations([run(1, "er", null), run(2, "er", null, 500)])).toBe(2500);
    const started = { ...run(1, "er", null), progress: { step: 10, total: 1800, fraction: 0.01 } };
    expect(plannedIterations([started as RunRead])).toBe(1800);
    expect(plannedIterations([])).toBeNull();
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
    headline: { acc: 0.6, min_acc: 0.3, wc_acc: 0.4, gap_depth: 0.2 },
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
      ["#11 · own loop · seed 0", [11]],
      ["#12 · own loop · seed 1", [12]],
      ["#13 · own loop · seed 0", [13]],
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
