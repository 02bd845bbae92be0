import { describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import { plannedIterations, runProgress } from "./progress";

function engineRun(overrides: Partial<RunRead> = {}): RunRead {
  return {
    id: 3,
    kind: "engine",
    status: "running",
    spec: {
      benchmark: { name: "split_digits", n_tasks: 5 },
      training: { iterations_per_task: 300 },
    },
    progress: { step: 0, total: null, fraction: null },
    ...overrides,
  } as RunRead;
}

describe("runProgress", () => {
  it("never says 0 when points are stored: the last stored step counts", () => {
    // No heartbeat yet, but the chart already holds evaluations up to step 840.
    expect(runProgress(engineRun(), 840)).toEqual({ step: 840, total: 1500, fraction: 0.56 });
    // A heartbeat further on than the points wins.
    const beat = engineRun({ progress: { step: 900, total: 1500, fraction: 0.6 } });
    expect(runProgress(beat, 840).step).toBe(900);
  });

  it("takes the run's total, else the spec's n_tasks × iterations per task", () => {
    expect(plannedIterations(engineRun())).toBe(1500);
    const told = engineRun({ progress: { step: 10, total: 2000, fraction: 0.005 } });
    expect(runProgress(told, null).total).toBe(2000);
    expect(runProgress(engineRun(), null)).toEqual({ step: 0, total: 1500, fraction: 0 });
  });

  it("has no total for epochs or a loop that does not say, unless the run succeeded", () => {
    const epochs = engineRun({
      spec: { benchmark: { name: "split_mnist", n_tasks: 5 }, training: { epochs_per_task: 1 } },
    } as Partial<RunRead>);
    expect(plannedIterations(epochs)).toBeNull();
    expect(runProgress(epochs, 120)).toEqual({ step: 120, total: null, fraction: null });
    const loop = engineRun({ kind: "loop", spec: null });
    expect(runProgress({ ...loop, status: "failed" }, 77).total).toBeNull();
    expect(runProgress({ ...loop, status: "succeeded" }, 77)).toEqual({ step: 77, total: 77, fraction: 1 });
  });
});
