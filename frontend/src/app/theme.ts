// Dark and light themes: an attribute on <html> that theme.css keys its variables on. The
// choice is remembered; until the user picks one, the system preference decides (and is
// followed live). Charts draw on canvas and cannot read CSS, so they re-read colours with
// themeColor() whenever useTheme()'s value changes.
import { useCallback, useSyncExternalStore } from "react";

export type Theme = "light" | "dark";

const STORAGE_KEY = "gapwatch.theme";
const DARK_QUERY = "(prefers-color-scheme: dark)";
const listeners = new Set<() => void>();

function readStoredTheme(): Theme | null {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    return stored === "dark" || stored === "light" ? stored : null;
  } catch {
    return null; // storage can be disabled (privacy modes); the system preference still works
  }
}

/** The user's explicit choice, if any; kept in memory too in case storage refuses it. */
let chosen: Theme | null = readStoredTheme();

function systemTheme(): Theme {
  return window.matchMedia?.(DARK_QUERY).matches ? "dark" : "light";
}

export function currentTheme(): Theme {
  return chosen ?? systemTheme();
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}

function notify(): void {
  applyTheme(currentTheme());
  listeners.forEach((listener) => listener());
}

// The attribute is set before React renders: children's effects run before their parents', so
// a chart mounting on first load must already find the right variables on <html>.
applyTheme(currentTheme());
window.matchMedia?.(DARK_QUERY).addEventListener?.("change", () => {
  if (chosen === null) notify();
});

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The active theme and a setter. The attribute on <html> is updated before subscribers hear of
 * the change, so a chart that lists the theme in its effect's dependencies reads new colours.
 */
export function useTheme(): [Theme, (theme: Theme) => void] {
  const theme = useSyncExternalStore(subscribe, currentTheme);
  const setTheme = useCallback((next: Theme) => {
    chosen = next;
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered across visits, but applied for this one
    }
    notify();
  }, []);
  return [theme, setTheme];
}

/** A CSS custom property of the active theme, for canvas drawing (uPlot cannot read CSS). */
export function themeColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
