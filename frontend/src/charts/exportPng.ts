// "Export PNG": the charts on screen, composed into one image in the layout they have on the
// page, under a title naming the run — each chart's title, its uPlot canvas (with the task
// labels above the plot), and its DOM overlays (task spans, boundaries, gap troughs and their
// labels) and legend, which live outside the canvas.

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * The image size and each rect's place in it: the rects' bounding box plus `padding` on every
 * side and a `header` band on top (for the title), positions shifted so the box starts at
 * (padding, padding + header).
 */
export function composeLayout(
  rects: readonly Rect[],
  padding: number,
  header = 0,
): { width: number; height: number; placed: Rect[] } {
  if (rects.length === 0) {
    return { width: 2 * padding, height: 2 * padding + header, placed: [] };
  }
  const left = Math.min(...rects.map((r) => r.x));
  const top = Math.min(...rects.map((r) => r.y));
  const right = Math.max(...rects.map((r) => r.x + r.w));
  const bottom = Math.max(...rects.map((r) => r.y + r.h));
  return {
    width: Math.ceil(right - left + 2 * padding),
    height: Math.ceil(bottom - top + 2 * padding + header),
    placed: rects.map((r) => ({
      x: r.x - left + padding,
      y: r.y - top + padding + header,
      w: r.w,
      h: r.h,
    })),
  };
}

const PADDING = 16;
/** The title band: a 16 px bold line, and a 12 px line under it when there is a subtitle. */
const TITLE_HEIGHT = 24;
const SUBTITLE_HEIGHT = 18;

/** What the image says above the charts: "split-digits er #12" and, smaller, what it trains. */
export interface ExportTitle {
  readonly title: string;
  readonly subtitle?: string;
}

/** The file name of an export: "gapwatch-run-12-split-digits-er.png" (safe characters only). */
export function exportFilename(id: number, name: string | null, suffix = ""): string {
  const slug = (name ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);
  return `gapwatch-run-${id}${slug ? `-${slug}` : ""}${suffix}.png`;
}

/**
 * Draws every `.ts-chart` under `root` into one canvas under `title`; null when there is none
 * to draw.
 */
export function composeCharts(
  root: HTMLElement,
  title: ExportTitle | null = null,
  scale = window.devicePixelRatio || 1,
) {
  const charts = [...root.querySelectorAll<HTMLElement>(".ts-chart")].filter(
    (chart) => chart.offsetParent !== null,
  );
  if (charts.length === 0) return null;
  const rects = charts.map((chart) => toRect(chart.getBoundingClientRect()));
  const header = title ? TITLE_HEIGHT + (title.subtitle ? SUBTITLE_HEIGHT : 0) + 8 : 0;
  const layout = composeLayout(rects, PADDING, header);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(layout.width * scale);
  canvas.height = Math.round(layout.height * scale);
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.scale(scale, scale);
  ctx.fillStyle = getComputedStyle(root).getPropertyValue("--bg").trim() || "#ffffff";
  ctx.fillRect(0, 0, layout.width, layout.height);
  if (title) {
    const style = getComputedStyle(root);
    const family = style.fontFamily || "system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillStyle = style.getPropertyValue("--fg").trim() || "#111111";
    ctx.font = `600 16px ${family}`;
    ctx.fillText(title.title, PADDING, PADDING);
    if (title.subtitle) {
      ctx.fillStyle = style.getPropertyValue("--fg-muted").trim() || "#555555";
      ctx.font = `12px ${family}`;
      ctx.fillText(title.subtitle, PADDING, PADDING + TITLE_HEIGHT);
    }
  }

  // Shift from page coordinates to image coordinates.
  const origin = { x: rects[0]!.x - layout.placed[0]!.x, y: rects[0]!.y - layout.placed[0]!.y };
  const at = (element: Element): Rect => {
    const r = element.getBoundingClientRect();
    return { x: r.left - origin.x, y: r.top - origin.y, w: r.width, h: r.height };
  };

  for (const chart of charts) {
    for (const text of chart.querySelectorAll(".ts-chart-title")) drawText(ctx, text, at(text));
    for (const span of chart.querySelectorAll(".task-span:not([hidden])")) {
      const r = at(span);
      ctx.fillStyle = getComputedStyle(span).backgroundColor;
      ctx.fillRect(r.x, r.y, r.w, r.h);
    }
    for (const source of chart.querySelectorAll("canvas")) {
      const r = at(source);
      ctx.drawImage(source, r.x, r.y, r.w, r.h);
    }
    for (const line of chart.querySelectorAll(".boundary-line:not([hidden])")) {
      const r = at(line);
      ctx.strokeStyle = getComputedStyle(line).borderLeftColor;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(r.x + 0.5, r.y);
      ctx.lineTo(r.x + 0.5, r.y + r.h);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const dot of chart.querySelectorAll(".gap-trough:not([hidden]) .gap-trough-dot")) {
      const r = at(dot);
      ctx.fillStyle = getComputedStyle(dot).backgroundColor;
      ctx.beginPath();
      ctx.arc(r.x + r.w / 2, r.y + r.h / 2, r.w / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    const labels = ".gap-trough:not([hidden]) .gap-trough-label:not(.gap-trough-label-hidden) span";
    for (const text of chart.querySelectorAll(labels)) drawText(ctx, text, at(text));
    // The first uPlot legend row is the x value ("iteration"), not a series.
    const entries = ".u-legend .u-series:not(:first-child), .chart-legend li";
    for (const entry of chart.querySelectorAll(entries)) {
      const marker = entry.querySelector(".u-marker, .chart-legend-swatch");
      const label = entry.querySelector(".u-label, .chart-legend-label");
      if (marker) {
        const r = at(marker);
        const style = getComputedStyle(marker);
        ctx.fillStyle =
          style.borderLeftColor && style.borderLeftWidth !== "0px"
            ? style.borderLeftColor
            : style.backgroundColor;
        ctx.fillRect(r.x, r.y + r.h / 2 - 1.5, r.w, 3);
      }
      if (label) drawText(ctx, label, at(label));
    }
  }
  return canvas;
}

function drawText(ctx: CanvasRenderingContext2D, element: Element, r: Rect): void {
  const style = getComputedStyle(element);
  ctx.fillStyle = style.color;
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  ctx.textBaseline = "middle";
  ctx.fillText(element.textContent ?? "", r.x, r.y + r.h / 2);
}

function toRect(r: DOMRect): Rect {
  return { x: r.left, y: r.top, w: r.width, h: r.height };
}

/** Saves `canvas` as a PNG download named `filename`. */
export function downloadCanvas(canvas: HTMLCanvasElement, filename: string): void {
  const link = document.createElement("a");
  link.download = filename;
  link.href = canvas.toDataURL("image/png");
  document.body.appendChild(link);
  link.click();
  link.remove();
}
