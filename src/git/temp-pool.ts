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
import { close, closeSync, fchmodSync, linkSync, mkdir, mkdirSync, open, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { processRunning } from '../core/process-alive.js';
import type { Repo } from './repo-type.js';
import { shadowDir } from './shadow.js';

/** One pooled temporary file: its path and an open descriptor for writing. */
export interface PooledTemp {
  path: string;
  fd: number;
}

/** Pools by ckpt's objects dir (`<shadow>/objects`). */
const pools = new Map<string, TempPool>();
/** Stores whose 256 fan-out directories (and `pack/`) this process has made. */
const fannedOut = new Set<string>();

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
   * @param size how many files to keep ready (default 32: a step takes
   *   four, its pack, index, commit and ref lock; a step of fewer than four
   *   new blobs and trees one per object).
   */
  static open(repo: Repo, size = 32): TempPool {
    const objectsDir = path.join(shadowDir(repo), 'objects');
    const have = pools.get(objectsDir);
    if (have && !have.closed) return have;
    const pool = new TempPool(path.join(shadowDir(repo), 'tmp-pool'), objectsDir, size);
    mkdirSync(pool.dir, { recursive: true });
    removeDead(pool.dir);
    pools.set(objectsDir, pool);
    // The fan-out directories once per process and store (a pool opened again after the daemon's quiet time needs none).
    void pool.refill(!fannedOut.has(objectsDir)).then(() => fannedOut.add(objectsDir));
    return pool;
  }

  /** A ready file, or null when none is (the caller creates its own). */
  take(): PooledTemp | null {
    const t = this.free.pop() ?? null;
    if (this.free.length < this.size / 2) void this.refill(false);
    return t;
  }

  /** A file taken but not used (still empty, still open), back into the pool. */
  giveBack(t: PooledTemp): void {
    if (this.closed) {
      try {
        closeSync(t.fd);
      } catch {
        // closed
      }
      rmSync(t.path, { force: true });
    } else this.free.push(t);
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
          await mkdirAsync(path.join(this.objectsDir, 'pack'), { recursive: true });
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

/**
 * Puts `data` at `file` (replacing what is there, in one rename, as an
 * atomic write does) through a ready file of the store's pool, so no file is
 * created on the caller's path: for the daemon's small files on a hook's way
 * (the agent's state, the sync cookie). Not fsynced (those files are not the
 * user's bytes, nor anything a ref names). `file` must be on the store's
 * file system (under the common git dir).
 *
 * @param mode the file's mode (pooled files are made read-only).
 * @returns false when there is no pool, it is empty, or the rename failed
 *   (nothing changed at `file`: the caller writes it its own way).
 */
export function placePooled(objectsDir: string, file: string, data: string | Buffer, mode: number): boolean {
  const t = pools.get(objectsDir)?.take() ?? null;
  if (!t) return false;
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(t.fd, bytes, off, bytes.length - off);
    fchmodSync(t.fd, mode);
    closeSync(t.fd);
    t.fd = -1;
    renameSync(t.path, file);
    return true;
  } catch {
    if (t.fd >= 0) {
      try {
        closeSync(t.fd);
      } catch {
        // closed
      }
    }
    rmSync(t.path, { force: true });
    return false;
  }
}

/**
 * Creates `file` exclusively, as `open(O_CREAT | O_EXCL)` does, and returns
 * a descriptor open for writing: when the store at `objectsDir` has a pool,
 * by `link(2)` of a ready file onto `file` (as exclusive as `O_EXCL`: it
 * fails with EEXIST when `file` exists; measured here 0.017 ms against
 * 0.65 ms for creating a file), its pool name then removed and its mode set
 * to `mode`; else by `open`. For git's lock files (`<ref>.lock`) on a
 * step's path. The file is on the store's file system (the pool's).
 *
 * @throws the file system's error (`EEXIST` when `file` exists).
 */
export function createExclusive(objectsDir: string, file: string, mode: number): number {
  const pool = pools.get(objectsDir);
  const t = pool?.take() ?? null;
  if (t && pool) {
    try {
      linkSync(t.path, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        pool.giveBack(t);
        throw err;
      }
      // No hard links here, or the pool's file removed under us: created as git does.
      try {
        closeSync(t.fd);
      } catch {
        // closed
      }
      rmSync(t.path, { force: true });
      return openSync(file, 'wx', mode);
    }
    try {
      unlinkSync(t.path);
      fchmodSync(t.fd, mode);
    } catch {
      // the pool's name stays until the next pool removes it; the file is ours either way
    }
    return t.fd;
  }
  return openSync(file, 'wx', mode);
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

/** Running, a zombie not (core/process-alive.ts). */
const alive = (pid: number): boolean => processRunning(pid);
