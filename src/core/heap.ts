/**
 * One full, compacting collection of V8's heap, now. Shared by the daemon
 * (watch/daemon-heap.ts: after a burst of work, once it is quiet) and the
 * race's process (race/heap.ts: once every attempt's setup is over).
 *
 * A full collection frees only pages left empty; one with compaction moves
 * the live objects together and gives the fragmented pages back (measured
 * in the daemon at 100k files: old space 23 → 14.4 MB, USS 48.5 → 38.6 MB;
 * ~1 MB without compaction). V8's `--compact-on-every-full-gc` is set for
 * this one collection and cleared after it, also when it throws, so the
 * collections V8 starts itself (in the middle of a step, say) do not pay for
 * a compaction. Blocks the event loop for its length (tens of ms).
 */
import v8 from 'node:v8';

/** What one compaction did: V8's heap (committed, `total_heap_size`) before and after, bytes, and how long it took, ms. */
export interface Compaction {
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

/**
 * Runs `gc` once with compaction switched on for that collection only.
 *
 * @param gc - V8's `gc` (exposed by `--expose-gc`, on `globalThis` or from a fresh context).
 * @returns V8's heap before and after, bytes, and the time taken, ms.
 */
export function compactWith(gc: () => void): Compaction {
  const beforeBytes = v8.getHeapStatistics().total_heap_size;
  const t = performance.now();
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return { beforeBytes, afterBytes: v8.getHeapStatistics().total_heap_size, ms: performance.now() - t };
}
