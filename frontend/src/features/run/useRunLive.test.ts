import { describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import { runChanged } from "./useRunLive";

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
