// At most one call per interval, and always one after the last request: live updates arrive
// about once a second, and refetching every series that often would swamp a long run's page.

export interface Throttled {
  /** Asks for a call: now if the interval has passed, else once at its end. */
  (): void;
  /** Drops a pending call (on unmount or when the run has ended). */
  cancel(): void;
}

export function throttle(
  fn: () => void,
  intervalMs: number,
  now: () => number = Date.now,
): Throttled {
  let last = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = now();
    fn();
  };
  const throttled = (() => {
    if (timer !== null) return;
    const wait = last + intervalMs - now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  }) as Throttled;
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return throttled;
}
