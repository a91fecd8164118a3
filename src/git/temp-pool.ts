/**
 * Temporary files for loose objects, created ahead of time by a long-lived
 * process (the daemon) so that writing an object on a step's path costs no
 * file creation. Measured on this project's machine (ext4 on a virtual
 * disk): creating a file takes ~0.33 ms, renaming one ~0.02 ms, and a
 * 10-file step writes ~40 objects (its blobs and the trees on their paths),
 * so creating them was ~13 ms of a 10 ms budget (benchmarks/results.md).
 *
 * A pooled file is created empty with `O_EXCL` and mode 0444 in
 * `<shadow>/tmp-pool/` (ckpt's store, the file system of its `objects/`),
 * kept open for writing, and named `<pid>-<n>`; the object's bytes are
 * written into it, fsynced, and it is renamed under the object's name, as
 * git renames a temporary object (object-file.c). Files left by a process
 * that died are removed by the next pool opened on the same store. Without
 * a pool (every short-lived command), objects are written as before.
 */
import { close, closeSync, mkdir, mkdirSync, open, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Repo } from './repo-type.js';
import { shadowDir } from './shadow.js';

/** One pooled temporary file: its path and an open descriptor for writing. */
export interface PooledTemp {
  path: string;
  fd: number;
}

/** Pools by ckpt's objects dir (`<shadow>/objects`). */
const pools = new Map<string, TempPool>();

/** Temporary files created ahead of time for one store. */
export class TempPool {
  private readonly free: PooledTemp[] = [];
  private seq = 0;
  private filling: Promise<void> | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly objectsDir: string,
    private readonly size: number,
  ) {}

  /**
   * Opens the pool of `repo`'s store (one per process and store; a second
   * call returns the first) and starts filling it in the background. Also
   * creates the 256 fan-out directories of `objects/` (each a file
   * creation, better paid now than on a step's path).
   *
   * @param size how many files to keep ready (default 96: two 10-file steps).
   */
  static open(repo: Repo, size = 96): TempPool {
    const objectsDir = path.join(shadowDir(repo), 'objects');
    const have = pools.get(objectsDir);
    if (have && !have.closed) return have;
    const pool = new TempPool(path.join(shadowDir(repo), 'tmp-pool'), objectsDir, size);
    mkdirSync(pool.dir, { recursive: true });
    removeDead(pool.dir);
    pools.set(objectsDir, pool);
    void pool.refill(true);
    return pool;
  }

  /** A ready file, or null when none is (the caller creates its own). */
  take(): PooledTemp | null {
    const t = this.free.pop() ?? null;
    if (this.free.length < this.size / 2) void this.refill(false);
    return t;
  }

  /** Fills the pool up to its size (one fill at a time, off the event loop). */
  refill(fanOut: boolean): Promise<void> {
    if (this.filling || this.closed) return this.filling ?? Promise.resolve();
    // Cleared in a `.finally` (always a later tick), never inside the fill
    // itself: a fill with nothing to do ends synchronously, before
    // `this.filling` is even assigned, and clearing it there left the
    // settled promise in place for good, so the pool was never filled again
    // (a refill asked for while full, as the benchmark does before each step).
    const filling: Promise<void> = (async () => {
      try {
        if (fanOut) {
          for (let i = 0; i < 256; i++) {
            if (this.closed) return;
            await mkdirAsync(path.join(this.objectsDir, i.toString(16).padStart(2, '0')), { recursive: true });
          }
        }
        while (!this.closed && this.free.length < this.size) {
          const p = path.join(this.dir, `${process.pid}-${++this.seq}`);
          const fd = await openAsync(p, 'wx', 0o444);
          if (this.closed) {
            await closeAsync(fd);
            rmSync(p, { force: true });
            return;
          }
          this.free.push({ path: p, fd });
        }
      } catch {
        // A full disk, a removed store: objects are then written without the pool.
      }
    })().finally(() => {
      if (this.filling === filling) this.filling = null;
    });
    this.filling = filling;
    return filling;
  }

  /** Closes and removes every ready file; the pool is not used any more. */
  close(): void {
    this.closed = true;
    if (pools.get(this.objectsDir) === this) pools.delete(this.objectsDir);
    for (const t of this.free.splice(0)) {
      try {
        closeSync(t.fd);
      } catch {
        // closed
      }
      rmSync(t.path, { force: true });
    }
  }
}

const openAsync = promisify(open);
const closeAsync = promisify(close);
const mkdirAsync = promisify(mkdir);

/** A ready temporary file for an object of the store at `objectsDir`, or null (no pool, or it is empty). */
export function takePooledTemp(objectsDir: string): PooledTemp | null {
  return pools.get(objectsDir)?.take() ?? null;
}

/** Removes pool files of processes that are gone (named `<pid>-<n>`). */
function removeDead(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) continue;
    if (pid === process.pid) continue;
    try {
      unlinkSync(path.join(dir, n));
    } catch {
      // gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
