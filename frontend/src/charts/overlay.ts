// Task spans, boundary lines and gap troughs as DOM elements inside uPlot's `over` element, so
// that they can be inspected (class, data-* attributes, hover title) and follow the theme through
// CSS variables. They are rebuilt when their data changes and repositioned on every redraw
// (a zoom, a resize, new data) from the chart's own value-to-pixel mapping.
import type uPlot from "uplot";

import { spanEnd, type TaskSpan } from "./boundaries";
import { deepestFirst, placeLabels, type TroughMarker } from "./troughs";

/** A trough marker and the theme variable of the series it belongs to. */
export interface ChartTrough {
  readonly marker: TroughMarker;
  readonly colorVar: string;
}

/** What the overlay shows; the span names are painted above the plot (TimeSeriesChart). */
export interface OverlayContent {
  readonly spans: readonly TaskSpan[];
  readonly troughs: readonly ChartTrough[];
}

interface Placed {
  readonly element: HTMLElement;
  readonly label: HTMLElement | null;
  readonly x: number;
  readonly y: number | null;
}

const overlays = new WeakMap<HTMLElement, ChartOverlay>();

/** The overlay a chart's `over` element holds, for uPlot hooks that only see the chart. */
export function overlayOf(over: HTMLElement): ChartOverlay | undefined {
  return overlays.get(over);
}

export class ChartOverlay {
  private readonly root: HTMLDivElement;
  private spans: { element: HTMLElement; span: TaskSpan; next: number | null }[] = [];
  private boundaries: { element: HTMLElement; step: number }[] = [];
  private troughs: { element: HTMLElement; label: HTMLElement; trough: ChartTrough }[] = [];

  constructor(over: HTMLElement) {
    this.root = document.createElement("div");
    this.root.className = "chart-overlay";
    over.appendChild(this.root);
    overlays.set(over, this);
  }

  /** Replaces the elements with ones for `content`; call `position` afterwards. */
  setContent(content: OverlayContent): void {
    this.root.replaceChildren();
    this.spans = content.spans.map((span, i) => {
      const element = div(`task-span ${i % 2 === 0 ? "task-span-a" : "task-span-b"}`);
      element.dataset.task = String(span.task);
      this.root.appendChild(element);
      return { element, span, next: content.spans[i + 1]?.start ?? null };
    });
    this.boundaries = content.spans.slice(1).map((span) => {
      const element = div("boundary-line");
      element.dataset.step = String(span.start);
      element.dataset.task = String(span.task);
      element.title = `Task ${span.task} starts at iteration ${span.start.toLocaleString("en-US")}`;
      this.root.appendChild(element);
      return { element, step: span.start };
    });
    const order = deepestFirst(content.troughs.map((t) => t.marker));
    this.troughs = order.map((i) => {
      const trough = content.troughs[i]!;
      const { marker } = trough;
      const element = div("gap-trough");
      element.dataset.task = String(marker.task);
      element.dataset.boundary = String(marker.boundary);
      element.dataset.depth = String(marker.depth);
      element.dataset.step = String(marker.step);
      element.title = marker.detail;
      element.style.setProperty("--trough-color", `var(${trough.colorVar})`);
      const dot = div("gap-trough-dot");
      const label = div("gap-trough-label");
      for (const line of marker.lines) {
        const text = document.createElement("span");
        text.textContent = line;
        label.appendChild(text);
      }
      element.append(dot, label);
      this.root.appendChild(element);
      return { element, label, trough };
    });
  }

  /** Moves every element to where its step and value are on the chart's current scales. */
  position(u: uPlot): void {
    const width = this.root.clientWidth;
    const height = this.root.clientHeight;
    const x = (step: number) => u.valToPos(step, "x");
    const visible = (px: number) => Number.isFinite(px) && px >= -0.5 && px <= width + 0.5;

    for (const { element, span, next } of this.spans) {
      const end = spanEnd(span, next) ?? u.scales.x?.max ?? span.start;
      const left = Math.max(0, x(span.start));
      const right = Math.min(width, x(end));
      element.hidden = !(right > left);
      element.style.left = `${left}px`;
      element.style.width = `${Math.max(0, right - left)}px`;
    }
    for (const { element, step } of this.boundaries) {
      const px = x(step);
      element.hidden = !visible(px);
      element.style.left = `${px}px`;
    }

    const shown: Placed[] = [];
    for (const { element, label, trough } of this.troughs) {
      const px = x(trough.marker.step);
      const py = u.valToPos(trough.marker.accuracy, "y");
      element.hidden = !visible(px) || !Number.isFinite(py);
      element.style.left = `${px}px`;
      element.style.top = `${py}px`;
      if (!element.hidden) shown.push({ element, label, x: px, y: py });
    }
    // Measure first, then write: one layout pass for all labels.
    const sizes = shown.map((p) => ({ w: p.label!.offsetWidth, h: p.label!.offsetHeight }));
    const boxes = placeLabels(
      shown.map((p, i) => ({ x: p.x, y: p.y!, w: sizes[i]!.w, h: sizes[i]!.h })),
      { width, height },
    );
    shown.forEach((p, i) => {
      const box = boxes[i];
      p.label!.classList.toggle("gap-trough-label-hidden", !box);
      if (box) {
        p.label!.style.left = `${box.x - p.x}px`;
        p.label!.style.top = `${box.y - p.y!}px`;
      }
    });
  }
}

function div(className: string): HTMLDivElement {
  const element = document.createElement("div");
  element.className = className;
  return element;
}
