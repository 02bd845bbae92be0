import { describe, expect, it } from "vitest";

import type { Schemas } from "../api/client";
import {
  boundarySteps,
  spanEnd,
  taskSpansFromEvents,
  taskSpansFromSchedule,
  taskTitle,
} from "./boundaries";

type EventRead = Schemas["EventRead"];

function event(step: number, kind: string, payload: Record<string, unknown>): EventRead {
  return { step, kind, payload, created_at: "2026-01-01T00:00:00Z" };
}

const events: EventRead[] = [
  event(0, "task_start", { task: 0, classes: [0, 1], iterations: 300 }),
  event(300, "task_end", { task: 0 }),
  event(300, "task_start", { task: 1, classes: [2, 3], iterations: 300 }),
  event(600, "task_end", { task: 1 }),
  event(600, "task_start", { task: 2, classes: [4, 5], iterations: 300 }),
];

describe("taskSpansFromEvents", () => {
  it("pairs each task_start with its task_end; the running task has no end", () => {
    expect(taskSpansFromEvents(events)).toEqual([
      { task: 0, start: 0, end: 300, classes: [0, 1], iterations: 300 },
      { task: 1, start: 300, end: 600, classes: [2, 3], iterations: 300 },
      { task: 2, start: 600, end: null, classes: [4, 5], iterations: 300 },
    ]);
  });

  it("keeps the first of a replayed event and ignores unrelated kinds", () => {
    const replayed = [
      ...events,
      event(350, "task_start", { task: 1, classes: [9] }),
      event(10, "checkpoint", { task: 0 }),
    ];
    const spans = taskSpansFromEvents(replayed);
    expect(spans.map((s) => s.start)).toEqual([0, 300, 600]);
    expect(spans[1]!.classes).toEqual([2, 3]);
  });

  it("orders by step whatever order the events come in, and ends a task at the next start", () => {
    const spans = taskSpansFromEvents([
      event(500, "task_start", { task: 1 }),
      event(0, "task_start", { task: 0 }),
    ]);
    expect(spans).toEqual([
      { task: 0, start: 0, end: 500, classes: null, iterations: null },
      { task: 1, start: 500, end: null, classes: null, iterations: null },
    ]);
  });
});

describe("boundaries and titles", () => {
  it("boundarySteps skips the first task's start", () => {
    expect(boundarySteps(taskSpansFromEvents(events))).toEqual([300, 600]);
  });

  it("titles name the classes when known", () => {
    const spans = taskSpansFromEvents(events);
    expect(taskTitle(2, spans[2])).toBe("Task 2 (classes 4, 5)");
    expect(taskTitle(3, undefined)).toBe("Task 3");
    expect(taskTitle(0, { task: 0, start: 0, end: 1, classes: [7], iterations: 1 })).toBe(
      "Task 0 (class 7)",
    );
  });

  it("a running task's span ends where its plan says", () => {
    const running = taskSpansFromEvents(events)[2]!;
    expect(spanEnd(running, null)).toBe(900);
    expect(spanEnd({ ...running, iterations: null }, null)).toBeNull();
    expect(spanEnd(taskSpansFromEvents(events)[0]!, 300)).toBe(300);
  });

  it("a schedule gives back-to-back spans", () => {
    expect(taskSpansFromSchedule(3, 100).map((s) => [s.start, s.end])).toEqual([
      [0, 100],
      [100, 200],
      [200, 300],
    ]);
  });
});
