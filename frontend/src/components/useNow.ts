import { useEffect, useState } from "react";

/**
 * The current time in milliseconds, re-read every `intervalMs` while `enabled`: live durations
 * of running runs tick without refetching anything.
 */
export function useNow(intervalMs: number, enabled = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!enabled) return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs, enabled]);
  return now;
}
