// Where the "task k" labels go: at the top left of each task span, above the plot area.
import { spanEnd, type TaskSpan } from "./boundaries";

export interface SpanLabel {
  readonly task: number;
  readonly text: string;
  /** The visible part of the span, in the pixels of `toPx` (the label is cut to it). */
  readonly left: number;
  readonly right: number;
}

/**
 * One label per span whose visible part, inside [plotLeft, plotRight], is at least `minWidth`
 * wide: a sliver of a span (its task scrolled out of a zoom) keeps its shade but not its name.
 * A span without an end runs to `lastX` (the x scale's maximum).
 */
export function spanLabels(
  spans: readonly TaskSpan[],
  toPx: (step: number) => number,
  plot: { readonly left: number; readonly right: number },
  minWidth: number,
  lastX: number | null,
): SpanLabel[] {
  const labels: SpanLabel[] = [];
  spans.forEach((span, i) => {
    const end = spanEnd(span, spans[i + 1]?.start ?? null) ?? lastX ?? span.start;
    const left = Math.max(plot.left, toPx(span.start));
    const right = Math.min(plot.right, toPx(end));
    if (right - left >= minWidth) labels.push({ task: span.task, text: `task ${span.task}`, left, right });
  });
  return labels;
}
