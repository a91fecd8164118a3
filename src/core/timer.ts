/**
 * Timers of any length. Node's `setTimeout` takes at most 2^31-1 ms (about
 * 24.8 days) and fires a longer delay after 1 ms instead (with a
 * TimeoutOverflowWarning; Node docs, timers: "When delay is larger than
 * 2147483647 … the delay will be set to 1"), so `race --timeout 30d` killed
 * the agent at once. Every delay that comes from the user goes through
 * {@link setLongTimeout}, which chains timers until the whole delay is over.
 */

/** The longest delay one `setTimeout` honours, in ms (2^31-1). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A running {@link setLongTimeout}. */
export interface LongTimer {
  /** Stops it; `fn` is not called. Safe to call more than once, and after it fired. */
  clear(): void;
}

/**
 * Calls `fn` once after `delayMs` milliseconds, however long (chained
 * timers of at most {@link MAX_TIMER_MS} each). A delay that is not finite
 * never fires; zero or less fires on the next turn, as `setTimeout` does.
 * Keeps the process alive, as `setTimeout` does.
 */
export function setLongTimeout(fn: () => void, delayMs: number): LongTimer {
  let handle: NodeJS.Timeout | null = null;
  let left = Number.isFinite(delayMs) ? Math.max(0, delayMs) : Infinity;
  const arm = (): void => {
    const step = Math.min(left, MAX_TIMER_MS);
    handle = setTimeout(() => {
      left -= step;
      if (left > 0) arm();
      else {
        handle = null;
        fn();
      }
    }, step);
  };
  if (left !== Infinity) arm();
  return {
    clear: () => {
      if (handle) clearTimeout(handle);
      handle = null;
      left = 0;
    },
  };
}
