/**
 * The race process's heap while its agents run. The race's memory is judged
 * with all of ckpt's processes together at their peak (issue 11: 5 attempts
 * at 10k files ≤ 100 MB PSS summed, benchmarks/lib/race-memory.mjs), and
 * that peak falls while the agents run: their hooks' processes overlap, the
 * daemon serves them, and the race process only waits. Before this it
 * waited with what its setup left: V8's heap grown to ~19 MB committed for
 * ~9 MB live (the young generation grown to 8.4 MB, the old space holding
 * the setup's garbage), 23-37 MB PSS at the peak.
 *
 * Two things, both V8's flags set at run time (`v8.setFlagsFromString`),
 * since the race's process is started by whoever runs `race` with Node's
 * defaults (the daemon is started by ckpt with `--max-semi-space-size=1
 * --expose-gc`, watch/daemon-control.ts):
 * - the young generation is kept at its initial size
 *   (`--semi-space-growth-factor=1`, set by bin/race.js and by bin/ckpt.js
 *   for `ckpt race` before the CLI loads: loading it alone grew the young
 *   generation to 8.4 MB, and V8 shrinks it only when it sees the process
 *   allocate little, which a race's live view does not leave it). V8 reads
 *   the factor each time it would grow the new space;
 *   `--max-semi-space-size` set after start-up changes nothing. Measured on
 *   Node 20: a loop of short-lived objects leaves the new space at 33.6 MB
 *   by default, 2.1 MB with it, as with `node --max-semi-space-size=1`;
 * - one full collection with compaction once every attempt's setup is
 *   over ({@link compactHeap}, cli/commands/race-run.ts): the setup's
 *   garbage goes and its pages are given back before the agents' hooks
 *   start to overlap.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compactWith, type Compaction } from '../core/heap.js';

export type { Compaction };

/** V8's `gc`, exposed in a fresh context (the flag set first), once. */
let gcFn: (() => void) | null = null;

/**
 * Runs one full, compacting collection now, in this process, whatever
 * options Node was started with: `gc` comes from a fresh context after
 * `--expose-gc` is set, and compaction is on for that one collection only
 * (core/heap.ts, as in the daemon). Blocks the event loop for its length
 * (tens of ms).
 *
 * @returns V8's heap before and after, bytes, and the time taken, ms.
 */
export function compactHeap(): Compaction {
  if (gcFn === null) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  return compactWith(gcFn);
}
