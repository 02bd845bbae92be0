// Colour scale of the accuracy-matrix heatmap: viridis (perceptually even, readable for colour-
// blind readers and on both themes), with black or white text, whichever reads on the cell.

/** Viridis sampled at 0, 0.25, 0.5, 0.75 and 1. */
const STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export type Rgb = readonly [number, number, number];

/** The colour of a value in [0, 1] (clamped): linear between the viridis stops. */
export function heatRgb(value: number): Rgb {
  const v = Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0));
  const position = v * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(position));
  const t = position - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * t)) as unknown as Rgb;
}

export function cssRgb([r, g, b]: Rgb): string {
  return `rgb(${r}, ${g}, ${b})`;
}

/** Relative luminance (WCAG) of an sRGB colour, in [0, 1]. */
export function luminance([r, g, b]: Rgb): number {
  const linear = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** Background and text colour of a heatmap cell holding `value` (a fraction). */
export function heatCell(value: number): { background: string; color: string } {
  const rgb = heatRgb(value);
  // 0.179 is where black and white text have equal contrast against the background.
  return { background: cssRgb(rgb), color: luminance(rgb) > 0.179 ? "#000" : "#fff" };
}
