/**
 * A step's objects written as a group (the daemon's snapshot writes its
 * blobs, trees and commit this way), so that none is visible before its
 * bytes are on disk and the step pays one fsync round, not one per object:
 *
 * - its blobs and trees (four or more) go into **one pack** (git/pack.ts):
 *   two files, the pack and its index, where they were ~40 loose files each
 *   written, fsynced and renamed (43 small files fsynced at once took
 *   18–24 ms here under load, 3 files ~1 ms); the pack is renamed into
 *   `objects/pack/` before its index, so git sees it only whole;
 * - the commit (and a group of fewer than four) stays **loose**: the chain's
 *   tip is read in process from its loose object by every ckpt process
 *   (snapshot/tip.ts), and a pack of one object costs two files;
 * - every file is fsynced at once (in parallel on libuv's thread pool),
 *   and only then renamed (or linked) under its name.
 *
 * In the daemon the temporary files come from a pool created ahead of time
 * (git/temp-pool.ts): no file is created on a step's path. The packs a
 * daemon writes are folded together in the background (git/pack-fold.ts),
 * so their number stays bounded.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { shadowObjectsDir } from '../git/shadow.js';
import { buildPack, deflateObject, type PackObject } from '../git/pack.js';
import { takePooledTemp } from '../git/temp-pool.js';
import { writeObjectFile } from '../git/loose.js';

/** Fewest blobs and trees written as a pack (fewer are written loose: a pack is two files). */
const PACK_MIN_OBJECTS = 4;

interface Pending {
  oid: string;
  type: 'blob' | 'tree' | 'commit';
  content: Buffer;
  /** git's `<type> <size>\0`, hashed before the content (a loose object's file is both, deflated). */
  header: Buffer;
}

/** One file of a flush: its bytes in a temporary file (pooled, or created beside its name), then put in place. */
interface Staged {
  tmp: string;
  fd: number;
  pooled: boolean;
  file: string;
  data: Buffer;
}

/** Objects hashed now, written by {@link ObjectWriter.flush}. */
export class ObjectWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly objects: string;
  /** Packs written by this writer (their `pack-<name>` ids), for tests and the fold. */
  readonly packs: string[] = [];

  constructor(private readonly repo: Repo) {
    this.objects = shadowObjectsDir(repo);
  }

  /**
   * Hashes an object and queues it (a blob or commit unless the store has
   * it loose); returns its id. A tree is queued without looking: a step's
   * new trees are new but for a directory put back as it was, and a
   * duplicate in a pack (or a loose tree renamed over its identical self)
   * is harmless, where a stat per tree was ~0.4 ms of a 100k step.
   */
  add(type: 'blob' | 'tree' | 'commit', content: Buffer): string {
    const header = Buffer.from(`${type} ${content.length}\0`, 'latin1');
    const oid = createHash(this.repo.objectFormat === 'sha256' ? 'sha256' : 'sha1').update(header).update(content).digest('hex');
    if (!this.pending.has(oid) && (type === 'tree' || !existsSync(this.file(oid)))) this.pending.set(oid, { oid, type, content, header });
    return oid;
  }

  /** How many objects are queued. */
  get size(): number {
    return this.pending.size;
  }

  private file(oid: string): string {
    return path.join(this.objects, oid.slice(0, 2), oid.slice(2));
  }

  /**
   * Writes every queued object: the blobs and trees as one pack (four or
   * more; else loose), the commit loose; every file into a temporary file,
   * all fsynced at once, then each renamed or linked under its name (the
   * pack before its index).
   *
   * @throws CkptError `FS_FAILED` (data: path) when one cannot be written; no
   *   partial object or pack is left (temporary files are removed).
   */
  async flush(): Promise<void> {
    const staged: Staged[] = [];
    try {
      const all = [...this.pending.values()];
      const packable = all.filter((p) => p.type !== 'commit');
      const inPack = new Set(packable.length >= PACK_MIN_OBJECTS ? packable : []);
      if (inPack.size > 0) {
        const built = buildPack([...inPack].map((p): PackObject => ({ oid: p.oid, type: p.type, content: p.content })), this.repo.objectFormat === 'sha256' ? 'sha256' : 'sha1');
        const dir = path.join(this.objects, 'pack');
        staged.push(this.stage(path.join(dir, `pack-${built.name}.pack`), built.pack, 'tmp_pack_ckpt_'));
        staged.push(this.stage(path.join(dir, `pack-${built.name}.idx`), built.idx, 'tmp_idx_ckpt_'));
        this.packs.push(built.name);
      }
      for (const p of all) if (!inPack.has(p)) staged.push(this.stage(this.file(p.oid), deflateObject(Buffer.concat([p.header, p.content])), 'tmp_obj_ckpt_'));
      await Promise.all(staged.map((f) => new Promise<void>((resolve, reject) => fsync(f.fd, (err) => (err ? reject(err) : resolve())))));
      for (const f of staged) {
        closeSync(f.fd);
        f.fd = -1;
        place(f);
      }
    } catch (err) {
      throw new CkptError('FS_FAILED', `could not write ${this.pending.size} objects into ${this.objects}: ${(err as Error).message}`, {
        cause: err,
        hint: 'Check free space and permissions of the repository. Nothing was recorded.',
        data: { path: this.objects },
      });
    } finally {
      for (const f of staged) {
        if (f.fd >= 0) {
          try {
            closeSync(f.fd);
          } catch {
            // closed
          }
        }
        if (!f.tmp) continue;
        try {
          unlinkSync(f.tmp);
        } catch {
          // linked and removed, or renamed away
        }
      }
      this.pending.clear();
    }
  }

  /** `data` into a temporary file for `file`: a pooled one (no file created now), else one created beside it. */
  private stage(file: string, data: Buffer, prefix: string): Staged {
    const pooled = takePooledTemp(this.objects);
    let f: Staged;
    if (pooled) f = { tmp: pooled.path, fd: pooled.fd, pooled: true, file, data };
    else {
      const dir = path.dirname(file);
      mkdirSync(dir, { recursive: true });
      const tmp = path.join(dir, `${prefix}${process.pid}_${Math.random().toString(36).slice(2)}`);
      f = { tmp, fd: -1, pooled: false, file, data };
      f.fd = openSync(tmp, 'wx', 0o444);
    }
    try {
      writeAll(f.fd, data);
    } catch (err) {
      // Not yet among the staged files the flush removes (ENOSPC on a full disk): closed and removed here.
      try {
        closeSync(f.fd);
      } catch {
        // closed
      }
      try {
        unlinkSync(f.tmp);
      } catch {
        // gone
      }
      throw err;
    }
    return f;
  }
}

/** Writes all of `data` at the file's current position (a write may be short). */
function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/** A staged file, fsynced and closed, put under its name. */
function place(f: Staged): void {
  if (f.pooled) {
    // A pooled file is renamed into place (an object or pack written meanwhile is replaced by identical bytes).
    try {
      renameSync(f.tmp, f.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existsSync(f.tmp)) {
        mkdirSync(path.dirname(f.file), { recursive: true });
        renameSync(f.tmp, f.file);
      } else writeObjectFile(f.file, f.data); // the pool file was removed under us
    }
    f.tmp = ''; // renamed away: nothing to remove (one syscall less per file on a step's path)
    return;
  }
  try {
    linkSync(f.tmp, f.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') renameSync(f.tmp, f.file);
  }
}
