// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import { parseSelection } from "../compare/compareModel";
import {
  alignedChart,
  axesText,
  cellView,
  compareHref,
  configColors,
  configKey,
  configLabel,
  formatNumber,
  metricTitle,
  nextSort,
  parseSort,
  progressView,
  sortRows,
  sortText,
  sweepRunsHref,
  withDefinitions,
} from "./sweepModel";
import type { MetricDefinition, ResultCell, SweepAligned, SweepRow } from "./types";

const GAP: MetricDefinition = {
  id: "gap",
  label: "Gap",
  definition: "mean stability gap over eligible rows",
  formula: "max(0, min(depth, after − trough))",
  higher_is_better: false,
  unit: "fraction",
  headline: true,
};
const ACC: MetricDefinition = {
  ...GAP,
  id: "acc",
  label: "ACC",
  definition: "final average accuracy",
  formula: "(1/T) Σ_j R[T][j]",
  higher_is_better: true,
};
const RECOVERED: MetricDefinition = { ...GAP, id: "gap_recovered", unit: "share" };

function cell(
  mean: number | null,
  ci95: number | null = null,
  n = 2,
  provisional = false,
): ResultCell {
  return { mean, ci95, n, provisional };
}

function row(strategy: string, cells: Record<string, ResultCell>, runIds = [1, 2]): SweepRow {
  return { config: { "strategy.name": strategy }, run_ids: runIds, seeds: [0, 1], cells };
}

describe("progressView", () => {
  it("counts ended runs, lists present statuses in a fixed order, says whether to poll", () => {
    const view = progressView({
      queued: 1,
      running: 2,
      succeeded: 3,
      failed: 1,
      cancelled: 0,
      crashed: 1,
    });
    expect(view.total).toBe(8);
    expect(view.ended).toBe(5);
    expect(view.fraction).toBeCloseTo(5 / 8);
    expect(view.active).toBe(true);
    expect(view.counts).toEqual([
      ["succeeded", 3],
      ["running", 2],
      ["queued", 1],
      ["failed", 1],
      ["crashed", 1],
    ]);
  });

  it("stops polling once every run has ended, failures and cancellations included", () => {
    const view = progressView({
      queued: 0,
      running: 0,
      succeeded: 2,
      failed: 1,
      cancelled: 1,
      crashed: 0,
    });
    expect(view).toMatchObject({ total: 4, ended: 4, fraction: 1, active: false });
  });

  it("a sweep without runs is done, not divided by zero", () => {
    const none = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, crashed: 0 };
    const view = progressView(none);
    expect(view).toMatchObject({ total: 0, fraction: 1, active: false });
  });
});

describe("cellView", () => {
  it("prints mean ± 95% CI half width in points, one decimal", () => {
    const view = cellView(cell(0.8734, 0.0121), ACC);
    expect(view.text).toBe("87.3 ± 1.2");
    expect(view.provisional).toBe(false);
    expect(view.title).toContain("95% CI [86.1, 88.6] pp");
    expect(view.title).toContain("n = 2 runs");
  });

  it("signs negative means with a true minus", () => {
    expect(cellView(cell(-0.123, 0.01), ACC).text).toBe("−12.3 ± 1.0");
    // A value that rounds to zero is not "−0.0".
    expect(formatNumber(-0.0001, "fraction")).toBe("0.0");
  });

  it("shows the mean alone when one run gives no interval", () => {
    const view = cellView(cell(0.5, null, 1), ACC);
    expect(view.text).toBe("50.0");
    expect(view.n).toBe(1);
    expect(view.title).toContain("no interval with fewer than two runs");
  });

  it("marks provisional numbers and says why", () => {
    const view = cellView(cell(0.5, 0.1, 2, true), GAP);
    expect(view.provisional).toBe(true);
    expect(view.title).toMatch(/Provisional: some runs of this configuration have not ended/);
  });

  it("a missing number is a dash, never 0", () => {
    expect(cellView(cell(null, null, 0), GAP).text).toBe("—");
    expect(cellView(undefined, GAP).text).toBe("—");
    expect(cellView(cell(null, null, 0, true), GAP).title).toMatch(/No run .* has ended yet/);
  });

  it("shares are percentages", () => {
    expect(cellView(cell(0.75, 0.2), RECOVERED).text).toBe("75.0 ± 20.0");
    expect(cellView(cell(0.75, 0.2), RECOVERED).title).toContain("[55.0, 95.0] %");
  });
});

describe("sorting", () => {
  const rows = [
    row("finetune", { gap: cell(0.01), acc: cell(0.2) }, [1, 2]),
    row("er", { gap: cell(0.15), acc: cell(0.8) }, [3, 4]),
    row("agem", { gap: cell(null, null, 0), acc: cell(0.5) }, [5, 6]),
    row("lwf", { gap: cell(0.15), acc: cell(0.4) }, [7, 8]),
  ];
  const names = (sorted: SweepRow[]) => sorted.map((r) => r.config["strategy.name"]);

  it("keeps the API's order without a sort", () => {
    expect(names(sortRows(rows, null))).toEqual(["finetune", "er", "agem", "lwf"]);
  });

  it("orders by the metric's mean either way, rows without a number last, ties stable", () => {
    expect(names(sortRows(rows, { metric: "gap", descending: false }))).toEqual([
      "finetune",
      "er",
      "lwf",
      "agem",
    ]);
    expect(names(sortRows(rows, { metric: "gap", descending: true }))).toEqual([
      "er",
      "lwf",
      "finetune",
      "agem",
    ]);
    expect(names(sortRows(rows, { metric: "acc", descending: true }))).toEqual([
      "er",
      "agem",
      "lwf",
      "finetune",
    ]);
  });

  it("does not reorder the rows it was given", () => {
    sortRows(rows, { metric: "acc", descending: true });
    expect(names(rows)).toEqual(["finetune", "er", "agem", "lwf"]);
  });

  it("a new column sorts best first; clicking it again flips", () => {
    expect(nextSort(null, ACC)).toEqual({ metric: "acc", descending: true });
    expect(nextSort(null, GAP)).toEqual({ metric: "gap", descending: false });
    expect(nextSort({ metric: "gap", descending: false }, GAP)).toEqual({
      metric: "gap",
      descending: true,
    });
    expect(nextSort({ metric: "gap", descending: false }, ACC)).toEqual({
      metric: "acc",
      descending: true,
    });
  });

  it("reads and writes ?sort=, ignoring metrics the table does not have", () => {
    const ids = ["acc", "gap"];
    expect(parseSort("-acc", ids)).toEqual({ metric: "acc", descending: true });
    expect(parseSort("gap", ids)).toEqual({ metric: "gap", descending: false });
    expect(parseSort("bogus", ids)).toBeNull();
    expect(parseSort(null, ids)).toBeNull();
    expect(sortText({ metric: "acc", descending: true })).toBe("-acc");
    expect(parseSort(sortText({ metric: "gap", descending: false }), ids)).toEqual({
      metric: "gap",
      descending: false,
    });
  });
});

describe("definitions", () => {
  it("the header hover names the definition, the formula and the better direction", () => {
    const title = metricTitle(GAP);
    expect(title).toContain("mean stability gap over eligible rows");
    expect(title).toContain("max(0, min(depth, after − trough))");
    expect(title).toContain("lower is better");
  });

  it("prefers GET /definitions' entries, keeping the results' order", () => {
    const fuller = { ...GAP, definition: "the part of the drop that came back" };
    expect(withDefinitions([ACC, GAP], [fuller]).map((m) => m.definition)).toEqual([
      ACC.definition,
      "the part of the drop that came back",
    ]);
    expect(withDefinitions([ACC], undefined)).toEqual([ACC]);
  });
});

describe("links and labels", () => {
  it("compare links use the compare page's ?runs= selection", () => {
    const href = compareHref([12, 3, 7]);
    expect(href).toBe("/compare?runs=3,7,12");
    const selection = parseSelection(new URLSearchParams(href.split("?")[1]));
    expect(selection).toEqual({ kind: "runs", ids: [3, 7, 12] });
  });

  it("the runs list link filters on the sweep's tag", () => {
    expect(sweepRunsHref(5)).toBe("/runs?tag=sweep%3A5");
  });

  it("labels configurations by their axis values", () => {
    expect(configLabel({ "strategy.name": "er", "optimizer.lr": 0.01 })).toBe(
      "strategy.name=er · optimizer.lr=0.01",
    );
    expect(configLabel({})).toBe("all runs");
    expect(axesText({ "strategy.name": ["finetune", "er"], seed: [0, 1] })).toBe(
      "strategy.name ∈ {finetune, er} × seed ∈ {0, 1}",
    );
  });
});

describe("alignedChart", () => {
  const band = (offsets: number[], mean: (number | null)[], half = 0.01) => ({
    offsets,
    mean,
    lower: mean.map((m) => (m === null ? null : m - half)),
    upper: mean.map((m) => (m === null ? null : m + half)),
    n: offsets.map(() => 2),
    rows: 4,
    gap_window: 3,
    margin: 1,
  });
  const aligned: SweepAligned = {
    sweep_id: 1,
    configs: [
      {
        config: { "strategy.name": "finetune" },
        run_ids: [1, 2],
        band: band([-1, 0, 1, 2], [0, 0, -0.5, -0.6]),
      },
      {
        config: { "strategy.name": "er" },
        run_ids: [3, 4],
        band: band([-1, 0, 1, 2, 3], [0, 0, -0.2, -0.1, 0]),
      },
      { config: { "strategy.name": "agem" }, run_ids: [5], band: band([], []) },
    ],
  };

  it("puts every configuration on the union of offsets, in points, with its band", () => {
    const chart = alignedChart(aligned);
    expect(chart.data[0]).toEqual([-1, 0, 1, 2, 3]);
    expect(chart.data[1]).toEqual([0, 0, -50, -60, null]);
    expect(chart.data[2]).toEqual([0, 0, -20, -10, 0]);
    expect(chart.series.map((s) => s.label)).toEqual([
      "strategy.name=finetune",
      "strategy.name=er",
    ]);
    expect(chart.bands[0]!.lower[2]).toBeCloseTo(-51);
    expect(chart.bands[0]!.upper[2]).toBeCloseTo(-49);
    expect(chart.bands[0]!.lower[4]).toBeNull();
  });

  it("names the configurations with nothing to align instead of drawing an empty line", () => {
    expect(alignedChart(aligned).empty).toEqual(["strategy.name=agem"]);
  });

  it("colours a configuration as the table does, and spans the bands on y", () => {
    const colors = configColors([
      { config: { "strategy.name": "er" } },
      { config: { "strategy.name": "finetune" } },
    ]);
    const chart = alignedChart(aligned, colors);
    expect(chart.series.map((s) => s.colorVar)).toEqual(["--series-1", "--series-0"]);
    expect(colors.get(configKey({ "strategy.name": "er" }))).toBe("--series-0");
    const [low, high] = chart.yRange!;
    expect(low).toBeLessThan(-61);
    expect(high).toBeGreaterThan(1);
  });

  it("keeps the y range within ±100 points however wide a band", () => {
    const wide: SweepAligned = {
      sweep_id: 1,
      configs: [{ config: {}, run_ids: [1, 2], band: band([0, 1], [0, -0.5], 3) }],
    };
    const [low, high] = alignedChart(wide).yRange!;
    expect(low).toBeGreaterThanOrEqual(-111);
    expect(low).toBeLessThan(-100);
    expect(high).toBeLessThanOrEqual(111);
  });

  it("has no y range when nothing is drawn", () => {
    expect(alignedChart({ sweep_id: 1, configs: [] }).yRange).toBeNull();
  });
});
