import { describe, expect, it } from "vitest";

import type { RunRead } from "../../api/client";
import {
  allEnded,
  anyActive,
  applyLiveEvent,
  type LiveRunEvent,
  type LiveRuns,
  liveRuns,
  liveStreamUrl,
  progressFraction,
  progressText,
} from "./compareLive";

function run(id: number, status: RunRead["status"], step = 0, total: number | null = null): RunRead {
  return {
    id,
    status,
    progress: { step, total, fraction: total ? step / total : null },
  } as unknown as RunRead;
}

function event(id: number, status: RunRead["status"], step: number, points: number, events = 0): LiveRunEvent {
  return { run: run(id, status, step, 500), points, events };
}

describe("the compare page's live stream", () => {
  it("is one stream for every compared run", () => {
    expect(liveStreamUrl([3, 1, 2])).toBe("/api/v1/live?runs=3,1,2");
  });

  it("asks for the curves again when points, boundaries or the status change, not for a step alone", () => {
    let live: LiveRuns = new Map();
    const steps: boolean[] = [];
    for (const next of [
      event(1, "queued", 0, 0),
      event(1, "running", 0, 0), // status
      event(1, "running", 10, 0), // a step alone
      event(1, "running", 20, 12), // points
      event(1, "running", 20, 12, 2), // a task ended
      event(2, "queued", 0, 0), // a run seen first
    ]) {
      const folded = applyLiveEvent(live, next);
      live = folded.live;
      steps.push(folded.refresh);
    }
    expect(steps).toEqual([true, true, false, true, true, true]);
    expect(live.get(1)!.run.progress.step).toBe(20);
  });

  it("shows each run's streamed state until the fetched one has ended", () => {
    const fetched = [run(1, "queued"), run(2, "running"), run(3, "succeeded", 500, 500)];
    const live: LiveRuns = new Map([
      [1, event(1, "running", 40, 3)],
      [3, event(3, "running", 450, 90)], // older than the fetched, ended run
    ]);
    const now = liveRuns(fetched, live);
    expect(now.map((r) => [r.id, r.status, r.progress.step])).toEqual([
      [1, "running", 40],
      [2, "running", 0],
      [3, "succeeded", 500],
    ]);
    expect(anyActive(now)).toBe(true);
    expect(anyActive([run(1, "cancelled"), run(2, "failed")])).toBe(false);
  });

  it("has ended once the stream said every run ended", () => {
    const live: LiveRuns = new Map([
      [1, event(1, "succeeded", 500, 10)],
      [2, event(2, "cancelled", 0, 0)],
    ]);
    expect(allEnded([1, 2], live)).toBe(true);
    expect(allEnded([1, 2, 3], live)).toBe(false);
    expect(allEnded([1, 2], new Map([...live, [2, event(2, "running", 5, 1)]]))).toBe(false);
  });

  it("writes each run's progress", () => {
    expect(progressText(run(1, "queued"))).toBe("");
    expect(progressText(run(1, "cancelled"))).toBe("");
    expect(progressText(run(1, "running"))).toBe("0 / ? it");
    expect(progressText(run(1, "running", 1200, 2500))).toBe("1,200 / 2,500 it");
    expect(progressText(run(1, "running", 12))).toBe("12 / ? it");
    expect(progressFraction(run(1, "running", 250, 500))).toBe(0.5);
    expect(progressFraction({ ...run(1, "succeeded", 9), progress: { step: 9, total: null, fraction: null } } as RunRead)).toBe(1);
  });
});
