import { describe, expect, it } from "vitest";

import { taskSpansFromSchedule } from "./boundaries";
import { spanLabels } from "./spanLabels";

describe("spanLabels", () => {
  const spans = taskSpansFromSchedule(3, 100); // [0, 100), [100, 200), [200, 300)
  const toPx = (step: number) => 50 + step * 2; // plot from x = 50 to 650

  it("labels each span at its left edge, cut to its visible width", () => {
    expect(spanLabels(spans, toPx, { left: 50, right: 650 }, 48, 300)).toEqual([
      { task: 0, text: "task 0", left: 50, right: 250 },
      { task: 1, text: "task 1", left: 250, right: 450 },
      { task: 2, text: "task 2", left: 450, right: 650 },
    ]);
  });

  it("leaves out spans scrolled out of a zoom or too narrow to hold a name", () => {
    // Zoomed on steps 180-300: task 1 shows 20 steps (100 px), task 0 none.
    const zoomed = (step: number) => 50 + (step - 180) * 5;
    const labels = spanLabels(spans, zoomed, { left: 50, right: 650 }, 48, 300);
    expect(labels.map((l) => l.task)).toEqual([1, 2]);
    expect(labels[0]).toMatchObject({ left: 50, right: 150 });
    expect(spanLabels(spans, zoomed, { left: 50, right: 650 }, 120, 300).map((l) => l.task)).toEqual([2]);
  });

  it("runs a span still being trained to the end of the x scale", () => {
    const open = [{ task: 0, start: 0, end: null, classes: null, iterations: null }];
    expect(spanLabels(open, toPx, { left: 50, right: 650 }, 48, 150)[0]).toMatchObject({ right: 350 });
  });
});
