import { describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import { growth, runChanged } from "./useRunLive";

function run(status: RunRead["status"], step: number, total: number | null = 1000): RunRead {
  return { status, progress: { step, total, fraction: total ? step / total : null } } as RunRead;
}

describe("runChanged", () => {
  it("is true for the first sighting, a new status, new progress or a new total", () => {
    expect(runChanged(undefined, run("running", 0))).toBe(true);
    expect(runChanged(run("running", 10), run("succeeded", 10))).toBe(true);
    expect(runChanged(run("running", 10), run("running", 11))).toBe(true);
    expect(runChanged(run("running", 10, null), run("running", 10, 1000))).toBe(true);
  });

  it("is false when nothing the charts show has moved (no refetch while a run stalls)", () => {
    expect(runChanged(run("running", 10), run("running", 10))).toBe(false);
  });
});

describe("growth", () => {
  it("refreshes the series when points were stored, the events when boundaries were", () => {
    const before = { points: 120, events: 3 };
    expect(growth(before, { points: 125, events: 3 }, true)).toEqual({ series: true, events: false });
    expect(growth(before, { points: 120, events: 4 }, true)).toEqual({ series: false, events: true });
    // A heartbeat alone (new progress, nothing stored) fetches nothing.
    expect(growth(before, { points: 120, events: 3 }, true)).toEqual({ series: false, events: false });
  });

  it("checks both at the first update, and whenever a polled run changed", () => {
    expect(growth(null, { points: 0, events: 0 }, true)).toEqual({ series: true, events: true });
    expect(growth(null, null, true)).toEqual({ series: true, events: true });
    expect(growth(null, null, false)).toEqual({ series: false, events: false });
  });
});
