// Canvas colours from theme variables. uPlot draws on a canvas, which cannot read CSS variables,
// so charts resolve them with themeColor() when they are (re)built for a theme.
import { themeColor } from "../app/theme";

/** `color` (#rgb, #rrggbb or rgb()/rgba()) with its alpha multiplied by `alpha`. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (hex) {
    const digits = hex[1]!;
    const full = digits.length === 3 ? [...digits].map((d) => d + d).join("") : digits;
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+))?\s*\)$/i.exec(
    color.trim(),
  );
  if (rgb) {
    const base = rgb[4] === undefined ? 1 : Number(rgb[4]);
    return `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${base * alpha})`;
  }
  return color;
}

/** The theme's colour for series slot `index` (ten slots, reused in turn). */
export function seriesVar(index: number): string {
  return `--series-${((index % 10) + 10) % 10}`;
}

/** A theme variable's value, with a fallback when the stylesheet is not loaded (tests). */
export function resolveColor(variable: string, fallback = "#888888"): string {
  return themeColor(variable) || fallback;
}
