// Task spans from a run's events: task k is trained on [s_k, e_k). The worker writes a
// `task_start` event at s_k (payload: task, classes, iterations, eval_samples) and a `task_end`
// at e_k; a resumed run may replay an event, so the first one of each task wins.
import type { Schemas } from "../api/client";

type EventRead = Schemas["EventRead"];

export interface TaskSpan {
  /** 0-based task index, as in the metric keys (eval/acc/task_<j>). */
  readonly task: number;
  readonly start: number;
  /** e_k, or the next task's start, or null while the task is trained. */
  readonly end: number | null;
  readonly classes: readonly number[] | null;
  /** Iterations planned for the task (task_start's `iterations`), if given. */
  readonly iterations: number | null;
}

function integer(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) ? value : null;
}

function classList(value: unknown): number[] | null {
  return Array.isArray(value) && value.every((c) => typeof c === "number") ? value : null;
}

/** The task spans in training order, from `task_start` / `task_end` events. */
export function taskSpansFromEvents(events: readonly EventRead[]): TaskSpan[] {
  const starts = new Map<
    number,
    { step: number; classes: number[] | null; iterations: number | null }
  >();
  const ends = new Map<number, number>();
  for (const event of events) {
    const task = integer(event.payload["task"]);
    if (task === null) continue;
    if (event.kind === "task_start" && !starts.has(task)) {
      starts.set(task, {
        step: event.step,
        classes: classList(event.payload["classes"]),
        iterations: integer(event.payload["iterations"]),
      });
    } else if (event.kind === "task_end" && !ends.has(task)) {
      ends.set(task, event.step);
    }
  }
  const ordered = [...starts.entries()].sort((a, b) => a[1].step - b[1].step || a[0] - b[0]);
  return ordered.map(([task, start], i) => ({
    task,
    start: start.step,
    end: ends.get(task) ?? ordered[i + 1]?.[1].step ?? null,
    classes: start.classes,
    iterations: start.iterations,
  }));
}

/** Where a span ends on a chart: e_k, else the next start, else where its plan says. */
export function spanEnd(span: TaskSpan, nextStart: number | null): number | null {
  return span.end ?? nextStart ?? (span.iterations !== null ? span.start + span.iterations : null);
}

/** The steps where a new task begins after another: the boundaries s_k, k ≥ 1. */
export function boundarySteps(spans: readonly TaskSpan[]): number[] {
  return spans.slice(1).map((span) => span.start);
}

/** "Task 2 (classes 4, 5)", or "Task 2" when the classes are not known. */
export function taskTitle(task: number, span: TaskSpan | undefined): string {
  const classes = span?.classes;
  if (!classes || classes.length === 0) return `Task ${task}`;
  const noun = classes.length === 1 ? "class" : "classes";
  return `Task ${task} (${noun} ${classes.join(", ")})`;
}

/**
 * Task spans from a step-per-task schedule (when no events are at hand): tasks of
 * `iterationsPerTask` iterations each, back to back.
 */
export function taskSpansFromSchedule(nTasks: number, iterationsPerTask: number): TaskSpan[] {
  return Array.from({ length: nTasks }, (_, task) => ({
    task,
    start: task * iterationsPerTask,
    end: (task + 1) * iterationsPerTask,
    classes: null,
    iterations: iterationsPerTask,
  }));
}
