import { describe, expect, it } from "vitest";

import { plasticityCharts, plasticityKeys } from "./plasticity";

describe("plasticityCharts", () => {
  const keys = [
    "eval/acc/task_0",
    "diag/eff_rank/hidden_10",
    "diag/eff_rank/hidden_2",
    "diag/dormant",
    "diag/dormant/hidden_0",
    "diag/w_abs/layer_1",
    "diag/w_abs/layer_0",
    "diag/plasticity",
    "diag/grad_norm",
    "diag/unknown/hidden_0",
    "diag/stable_rank/hidden_x",
  ];

  it("groups the diag keys into one chart per quantity, layers by index", () => {
    const charts = plasticityCharts(keys);
    expect(charts.map((c) => c.id)).toEqual(["dormant", "eff_rank", "w_abs", "grad_norm", "plasticity"]);
    const [dormant, rank, weights, grad, plasticity] = charts;
    expect(dormant!.keys).toEqual(["diag/dormant", "diag/dormant/hidden_0"]);
    expect(dormant!.labels).toEqual(["all hidden", "hidden 0"]);
    expect([dormant!.scale, dormant!.yUnit]).toEqual([100, "%"]);
    // hidden_2 before hidden_10: numeric, not text order.
    expect(rank!.keys).toEqual(["diag/eff_rank/hidden_2", "diag/eff_rank/hidden_10"]);
    expect(rank!.scale).toBe(1);
    expect(weights!.labels).toEqual(["layer 0", "layer 1"]);
    expect(grad!.labels).toEqual(["gradient norm"]);
    expect(plasticity!.scale).toBe(100);
  });

  it("shows nothing for a run without diagnostics", () => {
    expect(plasticityCharts(["eval/acc/task_0", "cost/run/updates"])).toEqual([]);
  });

  it("asks for every drawn key once", () => {
    const drawn = plasticityKeys(plasticityCharts(keys));
    expect(drawn).toHaveLength(8); // 2 dormant + 2 eff_rank + 2 w_abs + grad_norm + plasticity
    expect(drawn).not.toContain("diag/unknown/hidden_0");
    expect(new Set(drawn).size).toBe(drawn.length);
  });
});
