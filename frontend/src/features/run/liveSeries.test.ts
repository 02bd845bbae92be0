import { describe, expect, it } from "vitest";

import type { Schemas } from "../../api/client";
import {
  COMPACT_FACTOR,
  eventsStart,
  lastStoredStep,
  MAX_TAIL_READS,
  mergeEvents,
  mergeSeries,
  planSeriesRead,
  tasksEnded,
  type HeldEvents,
  type HeldSeries,
} from "./liveSeries";

type MetricsRead = Schemas["MetricsRead"];
type EventRead = Schemas["EventRead"];

const ACC0 = "eval/acc/task_0";
const ACC1 = "eval/acc/task_1";
const LOSS = "train/loss";

function held(series: Record<string, number[]>, fields: Partial<HeldSeries> = {}): HeldSeries {
  return {
    run_id: 7,
    series: Object.entries(series).map(([key, steps]) => ({
      key,
      steps,
      values: steps.map((s) => s / 1000),
    })),
    downsampled: false,
    points_in_range: Object.fromEntries(Object.entries(series).map(([k, s]) => [k, s.length])),
    next_start: {},
    final: false,
    ...fields,
  };
}

function answer(series: Record<string, number[]>, downsampled = false): MetricsRead {
  const { final: _, ...read } = held(series, { downsampled });
  return read;
}

const live = { range: null, points: 1000, ended: false };

describe("planSeriesRead", () => {
  it("reads everything at first, and once more, in full, after the run has ended", () => {
    expect(planSeriesRead(undefined, [ACC0], live)).toEqual({ kind: "full" });
    const growing = held({ [ACC0]: [0, 10, 20] });
    expect(planSeriesRead(growing, [ACC0], { ...live, ended: true })).toEqual({ kind: "full" });
    // The final answer is complete: a refresh after it asks only for a tail (of nothing).
    const final = { ...growing, final: true };
    expect(planSeriesRead(final, [ACC0], { ...live, ended: true }).kind).toBe("tail");
  });

  it("asks each key only for the steps after its own last one, one request per next step", () => {
    // Evaluations reached 20; the training losses lag at 12 (reported in batches); task 1
    // has only its step-0 point (it has not started).
    const page = held({ [ACC0]: [0, 10, 20], "eval/loss/task_0": [0, 10, 20], [LOSS]: [1, 12], [ACC1]: [0] });
    const plan = planSeriesRead(page, [ACC0, "eval/loss/task_0", ACC1, LOSS], live);
    expect(plan).toEqual({
      kind: "tail",
      reads: [
        { keys: [ACC1], start: 1 },
        { keys: [LOSS], start: 13 },
        { keys: [ACC0, "eval/loss/task_0"], start: 21 },
      ],
    });
  });

  it("asks a key with no point held from the start, within a zoom's window only", () => {
    const page = held({ [ACC0]: [300, 310] });
    expect(planSeriesRead(page, [ACC0, ACC1], { ...live, range: { start: 300, end: 400 } })).toEqual({
      kind: "tail",
      reads: [
        { keys: [ACC1], start: 300, end: 400 },
        { keys: [ACC0], start: 311, end: 400 },
      ],
    });
    // A zoom on the past: nothing can grow inside it.
    const past = held({ [ACC0]: [300, 399] });
    expect(planSeriesRead(past, [ACC0], { ...live, range: { start: 300, end: 400 } })).toEqual({
      kind: "none",
    });
  });

  it("reads in full again once a key holds more than COMPACT_FACTOR × the points budget", () => {
    const steps = Array.from({ length: COMPACT_FACTOR * 8 + 1 }, (_, i) => i);
    expect(planSeriesRead(held({ [ACC0]: steps }), [ACC0], { ...live, points: 8 })).toEqual({
      kind: "full",
    });
    expect(planSeriesRead(held({ [ACC0]: steps.slice(1) }), [ACC0], { ...live, points: 8 }).kind).toBe(
      "tail",
    );
  });

  it("joins the closest groups beyond MAX_TAIL_READS, starting each at its earlier step", () => {
    const keys = Array.from({ length: MAX_TAIL_READS + 2 }, (_, i) => `k${i}`);
    // Last steps 0, 100, 200, …, and one key at 201: its group joins the one at 200.
    const series = Object.fromEntries(keys.map((k, i) => [k, [i * 100]]));
    series[keys.at(-1)!] = [201];
    const plan = planSeriesRead(held(series), keys, live);
    if (plan.kind !== "tail") throw new Error(plan.kind);
    expect(plan.reads).toHaveLength(MAX_TAIL_READS);
    expect(plan.reads.find((r) => r.keys.includes(keys.at(-1)!))!.start).toBe(201);
    const joined = plan.reads.find((r) => r.keys.length > 1)!;
    expect(joined.keys).toHaveLength(2);
    expect(joined.start).toBe(Math.min(...joined.keys.map((k) => series[k]![0]! + 1)));
  });
});

describe("mergeSeries", () => {
  it("appends each key's new points, keeps a step it holds once, and adds new keys", () => {
    const page = held({ [ACC0]: [0, 10], [LOSS]: [1, 2] });
    const merged = mergeSeries(
      page,
      [answer({ [ACC0]: [20, 30], [ACC1]: [20] }), answer({ [LOSS]: [2, 3] })],
      false,
    );
    expect(merged.series.map((s) => [s.key, s.steps])).toEqual([
      [ACC0, [0, 10, 20, 30]],
      [LOSS, [1, 2, 3]],
      [ACC1, [20]],
    ]);
    expect(merged.series[0]!.values).toEqual([0, 0.01, 0.02, 0.03]);
    // Counts of stored points add up (the repeated step 2 counted once).
    expect(merged.points_in_range).toEqual({ [ACC0]: 4, [LOSS]: 3, [ACC1]: 1 });
    expect(merged.final).toBe(false);
    expect(lastStoredStep(merged)).toBe(30);
    // The held answer is not changed.
    expect(page.series[0]!.steps).toEqual([0, 10]);
  });

  it("is downsampled if any part was, and final if the last read was", () => {
    const merged = mergeSeries(held({ [ACC0]: [0] }), [answer({ [ACC0]: [5] }, true)], true);
    expect(merged.downsampled).toBe(true);
    expect(merged.final).toBe(true);
  });

  it("returns the held points for an answer with nothing new", () => {
    const page = held({ [ACC0]: [0, 10] });
    expect(mergeSeries(page, [answer({})], false).series).toEqual(page.series);
  });
});

function event(step: number, kind: string, task: number): EventRead {
  return { step, kind, payload: { task }, created_at: "2025-01-01T00:00:00Z" };
}

describe("events", () => {
  const first: HeldEvents = {
    run_id: 7,
    events: [event(0, "task_start", 0), event(100, "task_end", 0)],
    final: false,
  };

  it("asks from the last step held (events may share a step), or for all", () => {
    expect(eventsStart(undefined, false)).toBeNull();
    expect(eventsStart(first, false)).toBe(100);
    expect(eventsStart(first, true)).toBeNull(); // the run ended: one full read
    expect(eventsStart({ ...first, final: true }, true)).toBe(100);
    expect(eventsStart({ ...first, events: [] }, false)).toBeNull();
  });

  it("adds the events it lacks, in step order, each kind and step once", () => {
    const merged = mergeEvents(
      first,
      { run_id: 7, events: [event(100, "task_end", 0), event(100, "task_start", 1)] },
      false,
    );
    expect(merged.events.map((e) => [e.step, e.kind])).toEqual([
      [0, "task_start"],
      [100, "task_end"],
      [100, "task_start"],
    ]);
    expect(tasksEnded(first.events)).toBe(1);
    expect(tasksEnded(merged.events)).toBe(1);
    const later = mergeEvents(merged, { run_id: 7, events: [event(200, "task_end", 1)] }, false);
    expect(tasksEnded(later.events)).toBe(2);
  });
});
