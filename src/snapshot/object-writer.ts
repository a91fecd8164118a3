/**
 * Loose objects written as a group (the daemon's snapshot writes its blobs
 * and trees this way): each object's bytes go to a temporary file, all of
 * them are flushed to disk at once (fsync in parallel on libuv's thread
 * pool, not one after another), and only then is each linked under its name,
 * as git/loose.ts writeLooseObject does one at a time. So no object is ever
 * visible before its bytes are on disk, and ten objects cost about one
 * fsync's wait instead of ten (the profile of a 10-file snapshot here was
 * mostly sequential fsyncs). In the daemon the temporary files come from
 * a pool created ahead of time (git/temp-pool.ts): no file is created on
 * a step's path.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { fsync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { shadowObjectsDir } from '../git/shadow.js';
import { takePooledTemp } from '../git/temp-pool.js';
import { writeObjectFile } from '../git/loose.js';

interface Pending {
  oid: string;
  whole: Buffer;
}

/** Objects hashed now, written by {@link ObjectWriter.flush}. */
export class ObjectWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly objects: string;

  constructor(private readonly repo: Repo) {
    this.objects = shadowObjectsDir(repo);
  }

  /** Hashes an object and queues it (unless the store has it); returns its id. */
  add(type: 'blob' | 'tree' | 'commit', content: Buffer): string {
    const whole = Buffer.concat([Buffer.from(`${type} ${content.length}\0`, 'latin1'), content]);
    const oid = createHash(this.repo.objectFormat === 'sha256' ? 'sha256' : 'sha1').update(whole).digest('hex');
    if (!this.pending.has(oid) && !existsSync(this.file(oid))) this.pending.set(oid, { oid, whole });
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
   * Writes every queued object: temporary files, one parallel flush, links.
   *
   * @throws CkptError `FS_FAILED` (data: path) when one cannot be written; no
   *   partial object is left (temporary files are removed).
   */
  async flush(): Promise<void> {
    const open: { oid: string; tmp: string; fd: number; pooled: boolean; data: Buffer }[] = [];
    try {
      for (const p of this.pending.values()) {
        const data = deflateSync(p.whole, { level: 1 });
        const pooled = takePooledTemp(this.objects);
        if (pooled) {
          open.push({ oid: p.oid, tmp: pooled.path, fd: pooled.fd, pooled: true, data });
        } else {
          const dir = path.dirname(this.file(p.oid));
          mkdirSync(dir, { recursive: true });
          const tmp = path.join(dir, `tmp_obj_ckpt_${process.pid}_${Math.random().toString(36).slice(2)}`);
          open.push({ oid: p.oid, tmp, fd: openSync(tmp, 'wx', 0o444), pooled: false, data });
        }
        writeSync(open[open.length - 1]!.fd, data);
      }
      await Promise.all(open.map((o) => new Promise<void>((resolve, reject) => fsync(o.fd, (err) => (err ? reject(err) : resolve())))));
      for (const o of open) {
        closeSync(o.fd);
        o.fd = -1;
        const file = this.file(o.oid);
        if (o.pooled) {
          // A pooled file is renamed into place (a same object written meanwhile is replaced by identical bytes).
          try {
            renameSync(o.tmp, file);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existsSync(o.tmp)) {
              mkdirSync(path.dirname(file), { recursive: true });
              renameSync(o.tmp, file);
            } else writeObjectFile(file, o.data); // the pool file was removed under us
          }
          o.tmp = ''; // renamed away: nothing to remove (one syscall less per object on a step's path)
          continue;
        }
        try {
          linkSync(o.tmp, file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') renameSync(o.tmp, file);
        }
      }
    } catch (err) {
      throw new CkptError('FS_FAILED', `could not write ${this.pending.size} objects into ${this.objects}: ${(err as Error).message}`, {
        cause: err,
        hint: 'Check free space and permissions of the repository. Nothing was recorded.',
        data: { path: this.objects },
      });
    } finally {
      for (const o of open) {
        if (o.fd >= 0) {
          try {
            closeSync(o.fd);
          } catch {
            // closed
          }
        }
        if (!o.tmp) continue;
        try {
          unlinkSync(o.tmp);
        } catch {
          // linked and removed, or renamed away
        }
      }
      this.pending.clear();
    }
  }
}
