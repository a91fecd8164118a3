/**
 * The daemon's heap given back after a burst of work. A step, a full read
 * or the trees read ahead at start allocate a few MB each; with the
 * daemon's 1 MiB young generation (daemon-control.ts) much of it outlives
 * two scavenges and is promoted, and V8 keeps the old space's pages it
 * grew into: they end up mostly free but fragmented, and a full collection
 * frees only pages left empty. Measured at 100k files (the daemon started on
 * the benchmark's fixture, 20 hooks): old space 23 MB holding 13.6 MB of live
 * objects, USS 48.5 MB; one full collection with compaction
 * (`--compact-on-every-full-gc`, V8's flag) moved the live objects together
 * and gave the pages back: old space 14.4 MB, USS 38.6 MB. Without
 * compaction the same collection gave back ~1 MB. (Since a step allocates
 * less, incremental.ts, 20 hooks leave less to give back: USS 42.9 → 40.8
 * and 46.3 → 43.3 MB, V8's heap 20.8 → 19.0 MB; one compaction took 40-190
 * ms on a machine at load 13.)
 *
 * So the daemon runs with `--expose-gc` and collects once after work, when
 * it has been quiet for {@link COMPACT_QUIET_MS}, with compaction switched
 * on for that one collection only (`v8.setFlagsFromString`): never on a
 * request's path, and not again until more work was done (file events alone
 * allocate little). Not `--compact-on-every-full-gc` on the command line:
 * it applies to every full collection, also those V8 starts itself in the
 * middle of a step, where a 40-190 ms compaction would land on a hook's
 * path. Switched on for one collection it gives back the same (a probe on
 * Node 20: a 37 MB heap of scattered survivors to 8.6 MB, as with the flag;
 * 28 MB without compaction). Measured at 100k files (benchmarks/daemon-mem.mjs,
 * 20 hooks, `--trace-gc --trace-evacuation-candidates`, two runs each): the
 * full collection V8 started itself during the read-ahead evacuated 41 pages
 * in 29 and 12 ms with the flag, none in 3.3 and 5.1 ms without; the quiet
 * one evacuated 88 pages either way, V8's heap 29.1-29.6 → 19.8-20.1 MB,
 * USS 4 s later 34.9-35.4 MB with the flag, 35.7-35.9 MB without.
 *
 * A burst of hooks does not leave a second of quiet: 28 hooks sent back to
 * back at 100k files (benchmarks/daemon-mem.mjs) left V8's heap at 33 MB
 * committed for ~17 MB live (external 9.6 MB, mostly the tree cache's arena,
 * snapshot/tree-arena.ts: needed by the next step), the daemon at 51-53 MB
 * USS 300 ms after the last one. So work that grew the heap by
 * {@link GROWN_BYTES} over what the last compaction left is followed by a
 * compaction after only {@link GROWN_QUIET_MS} of quiet, with the same checks
 * (watch/daemon.ts `compactIfQuiet`): USS after the 28 hooks 38.6 and 39.0
 * MB (2 runs, load 5-8), V8's heap 20.1-20.3 MB, one compaction of 48-55 ms
 * after the last hook and none between hooks (their step medians 17.8 and
 * 22 ms, as without it: 28-43 ms in runs at the same load). What is left
 * over ready (26 MB): malloc's brk heap 8 → 11-15 MB and the tree arena.
 * Tried and not kept (one run each, same 28 hooks): a young generation of 2,
 * 4 or 8 MiB (USS after 51.6, 52.2, 60.2 MB against 52.8 with 1 MiB),
 * glibc's `MALLOC_MMAP_THRESHOLD_=65536,MALLOC_TRIM_THRESHOLD_=131072` or
 * `MALLOC_TRIM_THRESHOLD_=131072,MALLOC_TOP_PAD_=0` (51.2, 50.2 MB: brk
 * 10-10.4 MB against 14.9, the rest moved to mmap'd pages). The risk kept: a
 * request arriving within a compaction's 50-110 ms waits for it (at most once
 * per 4 MiB of growth, ~8-12 steps of 10 files at 100k).
 */
import v8 from 'node:v8';
import { compactWith, type Compaction } from '../core/heap.js';

/** Quiet time after work before the heap is compacted, ms. */
export const COMPACT_QUIET_MS = 1000;

/**
 * Growth of V8's heap (committed, bytes) since the last compaction (or since
 * the daemon was ready) after which the daemon compacts at a short quiet,
 * {@link GROWN_QUIET_MS}, instead of {@link COMPACT_QUIET_MS}.
 */
export const GROWN_BYTES = 4 * 1024 * 1024;

/** Quiet time after work that grew the heap by {@link GROWN_BYTES}, before it is compacted, ms. */
export const GROWN_QUIET_MS = 100;

/**
 * The growth that arms the early compaction, bytes: {@link GROWN_BYTES}, or
 * `CKPT_DAEMON_GROWN_BYTES` (a whole number of bytes, 0 for any growth),
 * which only tests set: a small repository never grows the heap by 4 MiB,
 * and the early path is tested on one. Another value is ignored.
 */
export function grownBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.CKPT_DAEMON_GROWN_BYTES;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : GROWN_BYTES;
}

/** V8's heap, committed (its `total_heap_size`, what `process.memoryUsage().heapTotal` says), bytes. */
export function heapTotalBytes(): number {
  return v8.getHeapStatistics().total_heap_size;
}

/**
 * Runs one full, compacting collection (core/heap.ts) when the process was
 * started with `--expose-gc`, else does nothing.
 *
 * @returns what it did, or null when `gc` is not exposed (a daemon run inside another process, such as a test's).
 */
export function compactHeap(): Compaction | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  return typeof gc === 'function' ? compactWith(gc) : null;
}
