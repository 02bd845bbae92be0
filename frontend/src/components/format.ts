// Number and time formatting shared by the pages. Accuracies travel as fractions in [0, 1] and
// are shown as percentages; a missing value is an em dash, never 0 (0 % is a real accuracy).

/** What a table cell shows when a value does not exist (yet). */
export const MISSING = "—";

/** A fraction in [0, 1] as a percentage with `digits` decimals, or "—" when absent. */
export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return MISSING;
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A duration in seconds, compact and coarse enough to read at a glance: 42s, 3m 05s, 1h 02m, 2d 3h. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return MISSING;
  }
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Seconds between two ISO timestamps (or until `now` when the end is missing), or null. */
export function secondsBetween(
  startIso: string | null | undefined,
  endIso: string | null | undefined,
  now: number,
): number | null {
  if (!startIso) return null;
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : now;
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

/**
 * When something happened, relative while recent ("just now", "5 min ago", "3 h ago") and a
 * compact date after a day ("Mar 4, 14:05", with the year once it is not the current one).
 */
export function formatWhen(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return MISSING;
  const ago = (now - at) / 1000;
  if (ago < 45) return "just now";
  if (ago < 3600) return `${Math.max(1, Math.round(ago / 60))} min ago`;
  if (ago < 86_400) return `${Math.floor(ago / 3600)} h ago`;
  const date = new Date(at);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleString("en-US", {
    month: "short",
    day: "numeric",
    ...(sameYear ? {} : { year: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/** A size in bytes as "812 B", "4.2 KiB", "1.3 MiB", "2.0 GiB", or "—" when absent. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) {
    return MISSING;
  }
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** An integer with thin grouping (12,000), for steps and counts. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return MISSING;
  return Math.round(n).toLocaleString("en-US");
}
