/**
 * Applying a restore plan, with the check at the point of destruction:
 * immediately before a file is replaced or deleted, its bytes are hashed
 * (`git hash-object`-compatible, streamed) and compared with what the
 * pre-rollback snapshot holds for it. A file that differs (written while the
 * rollback runs, or an edit git's stat cache missed) is not destroyed: it is
 * recorded first in a further snapshot, then replaced, or left as it is and
 * reported. Contents stream from git to a temporary file (bounded memory for
 * any size) that is renamed into place; small blobs stored loose (a recent
 * snapshot's) or whole in ckpt's packs (the daemon's steps: git/pack-read.ts)
 * are read in process, and git starts only for the others. Every change made is listed, so a
 * failure part-way can put back what was already changed.
 */
import { chmodSync, closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../../core/errors.js';
import { readLooseHeader, readLooseObject } from '../../git/loose.js';
import { PackReader } from '../../git/pack-read.js';
import { BlobStream, hashPath, readObjects, type GitObject } from '../../git/objects.js';
import type { Repo } from '../../git/repo.js';
import { shadowEnv } from '../../git/shadow.js';
import type { TreeChange } from '../../git/tree-diff.js';
import { abs, ancestors, depth, fsError, kindInWorktree, kindOf } from './fs.js';
import { inTreeTempName, stagingDir } from './journal.js';
import type { Plan } from './plan.js';

/** One side of a path: its git mode and blob id, or null for absent. */
export type Side = { mode: string; oid: string } | null;

/** A change made to the worktree, as needed to put it back. */
export interface Applied {
  rel: Buffer;
  path: string;
  /** What was there (verified just before it was destroyed). */
  before: Side;
  /** What the restore put there. */
  after: Side;
}

/**
 * Records the live state of `paths` in a further snapshot (git's stat cache
 * bypassed) and returns what that snapshot holds for each (path → side; a
 * path missing from the map could not be recorded).
 */
export type RecordLive = (paths: TreeChange[]) => Promise<Map<string, Side>>;

/** What {@link applyPlan} did besides the planned changes. */
export interface ApplyOutcome {
  /** Directories removed because the restore emptied them. */
  removedDirs: string[];
  /** Paths left as they are because they kept changing under the restore (or could not be recorded), with why. */
  leftAlone: string[];
}

/** Blobs larger than this (bytes) are written by git straight into their file, never passing through ckpt. */
const DIRECT_BYTES = 4 * 1024 * 1024;

/** Up to this many small blobs of a batch that git must read are streamed one by one from the blob stream's git; more are read ahead by a `cat-file --batch` of their own. */
const STREAMED_MAX = 32;

/** At most this many bytes of small blobs are read ahead at once. */
const BATCH_BYTES = 16 * 1024 * 1024;

/** How many times a path that changed under the restore is recorded and tried again before it is left alone. */
const ROUNDS = 3;

/** A restore's working context: the blob stream, the hash format, the staging directory. */
export class Applier {
  readonly done: Applied[] = [];
  private readonly blobs: BlobStream;
  private readonly staging: string;
  private readonly stagingDev: number | null;
  private readonly devOf = new Map<string, number | null>();
  private seq = 0;
  /** Blob sizes of the plan's writes (bytes): the large ones bypass this process. */
  private sizes = new Map<string, number>();
  /** Small blobs of the current batch of writes, read ahead. */
  private ahead = new Map<string, GitObject | null>();
  /** Blobs read in process (loose or packed) while sizing the plan, kept for their batch (at most BATCH_BYTES). */
  private inProcess = new Map<string, GitObject>();
  /** The packs, listed and opened once for this restore, their delta bases cached (git/pack-read.ts). */
  private readonly packs: PackReader;
  /** The plan's blobs git must read (set by {@link prepare}). */
  private others: string[] | null = null;

  constructor(private readonly repo: Repo) {
    this.blobs = new BlobStream({ cwd: repo.worktree, env: shadowEnv(repo) });
    this.packs = new PackReader(repo);
    this.staging = stagingDir(repo);
    mkdirSync(this.staging, { recursive: true });
    this.stagingDev = statSync(this.staging).dev;
  }

  async close(): Promise<void> {
    this.packs.close();
    await this.blobs.close();
  }

  /**
   * Reads the plan's small blobs stored loose or in packs this process reads
   * (their sizes; the first BATCH_BYTES of them kept for their batch) and starts git for the others without waiting
   * for it, so git starts up while the caller records the pre-rollback
   * snapshot (its fsyncs). {@link applyPlan} calls it when the caller did not.
   */
  prepare(plan: Plan): void {
    if (this.others) return;
    const others: string[] = [];
    let kept = 0;
    for (const oid of new Set(plan.writes.filter((e) => e.dstMode !== '120000').map((e) => e.dstOid))) {
      if (BATCH_BYTES - kept < DIRECT_BYTES) {
        // It may not fit beside those kept: its size from its header alone (loose, or its pack entry's), its bytes read once, with its batch.
        const head = readLooseHeader(this.repo, oid) ?? this.packs.header(oid);
        if (head && head.type === 'blob' && head.size <= DIRECT_BYTES && kept + head.size > BATCH_BYTES) {
          this.sizes.set(oid, head.size);
          continue;
        }
      }
      const blob = this.inProcessBlob(oid, DIRECT_BYTES);
      if (!blob) {
        others.push(oid);
        continue;
      }
      this.sizes.set(oid, blob.content.length);
      if (kept + blob.content.length <= BATCH_BYTES) {
        kept += blob.content.length;
        this.inProcess.set(oid, blob);
      }
    }
    this.others = others;
    if (others.length > 0) this.blobs.start();
  }

  /**
   * Applies `plan` (deletions, then writes, then modes). `recordLive` is
   * called with the paths found changed at the point of destruction.
   *
   * @throws CkptError `FS_FAILED`, `GIT_FAILED`; `this.done` lists what was changed until then.
   */
  async applyPlan(plan: Plan, recordLive: RecordLive): Promise<ApplyOutcome> {
    this.prepare(plan);
    const others = this.others!;
    // git sizes the blobs not read in process.
    if (others.length > 0) for (const [oid, size] of await this.blobs.sizes(others)) this.sizes.set(oid, size);
    const removedDirs: string[] = [];
    const leftAlone = new Map<string, string>();
    const writeDirs = new Set<string>(); // latin1 keys: byte-exact
    for (const e of plan.writes) for (const d of ancestors(e.rel)) writeDirs.add(d.toString('latin1'));

    // 1. Deletions, deepest first; then the directories they emptied.
    const emptied = new Map<string, Buffer>();
    const deletes = [...plan.deletes].sort((x, y) => depth(y.path) - depth(x.path));
    await this.withRetries(deletes, (e, before) => this.replace(e, before, null), recordLive, leftAlone);
    for (const e of deletes) if (!leftAlone.has(e.path)) for (const d of ancestors(e.rel)) emptied.set(d.toString('latin1'), d);
    const blocked = new Set<string>();
    for (const dir of plan.clearDirs) {
      try {
        removeEmptyTree(abs(this.repo, dir));
      } catch {
        // Something new inside (written while we ran, or a file left alone): the file does not take its place.
        blocked.add(dir.toString('latin1'));
        leftAlone.set(dir.toString('utf8'), 'a directory with files no snapshot holds stands there');
      }
    }
    for (const [key, rel] of [...emptied].sort((x, y) => y[1].length - x[1].length)) {
      if (writeDirs.has(key)) continue;
      try {
        rmdirSync(abs(this.repo, rel));
        removedDirs.push(rel.toString('utf8'));
      } catch {
        // Not empty (holds ignored or other files) or already gone: leave it.
      }
    }
    // 2. Writes, except under a path left alone (it still stands in the way).
    const lefts = new Set([...leftAlone.keys()].map((p) => Buffer.from(p).toString('latin1')));
    for (const b of blocked) lefts.add(b);
    const writes: TreeChange[] = [];
    for (const e of plan.writes) {
      const under = [e.rel, ...ancestors(e.rel)].find((a) => lefts.has(a.toString('latin1')) && !a.equals(e.rel));
      if (under || blocked.has(e.rel.toString('latin1'))) leftAlone.set(e.path, `not restored: ${(under ?? e.rel).toString('utf8')} is in the way`);
      else writes.push(e);
    }
    // In batches of at most BATCH_BYTES of small blobs: the loose ones read ahead in process.
    for (let start = 0; start < writes.length; ) {
      let bytes = 0;
      let end = start;
      while (end < writes.length && (end === start || bytes + (this.sizes.get(writes[end]!.dstOid) ?? 0) <= BATCH_BYTES)) {
        const size = this.sizes.get(writes[end]!.dstOid) ?? 0;
        if (size <= DIRECT_BYTES) bytes += size;
        end++;
      }
      const batch = writes.slice(start, end);
      const small = [...new Set(batch.filter((e) => (this.sizes.get(e.dstOid) ?? Infinity) <= DIRECT_BYTES).map((e) => e.dstOid))];
      this.ahead = new Map();
      // The others stream from the blob stream's git when staged, one request
      // each; many of them are read ahead with one `cat-file --batch`.
      const fromGit: string[] = [];
      for (const oid of small) {
        const blob = this.inProcess.get(oid) ?? this.inProcessBlob(oid, DIRECT_BYTES);
        if (blob) this.ahead.set(oid, blob);
        else fromGit.push(oid);
      }
      this.inProcess.clear();
      if (fromGit.length > STREAMED_MAX) for (const [oid, obj] of await readObjects(fromGit, { cwd: this.repo.worktree, env: shadowEnv(this.repo) })) this.ahead.set(oid, obj);
      try {
        await this.withRetries(batch, (e, before) => this.replace(e, before, { mode: e.dstMode, oid: e.dstOid }), recordLive, leftAlone);
      } finally {
        this.ahead = new Map();
      }
      start = end;
    }
    // 3. Executable bits (no bytes destroyed).
    for (const e of plan.modes) {
      const dest = abs(this.repo, e.rel);
      try {
        const st = lstatSync(dest);
        if (!st.isFile()) continue;
        chmodSync(dest, withExec(st.mode & 0o7777, e.dstMode === '100755'));
      } catch (err) {
        throw fsError(err, dest);
      }
      this.done.push({ rel: e.rel, path: e.path, before: { mode: e.srcMode, oid: e.srcOid }, after: { mode: e.dstMode, oid: e.dstOid } });
    }
    return { removedDirs, leftAlone: [...leftAlone].map(([p, why]) => `${p}: ${why}`) };
  }

  /**
   * Puts back, newest first, what {@link applyPlan} changed: each path is
   * returned to its `before` side, but only while it still holds what the
   * restore wrote (a file changed since is left as it is).
   *
   * @returns the paths it left as they are.
   * @throws CkptError `FS_FAILED` (the journal then lets the next run finish the put-back).
   */
  async putBack(): Promise<string[]> {
    const left: string[] = [];
    const wanted = this.done.flatMap((a) => (a.before && a.before.mode !== '120000' ? [a.before.oid] : []));
    for (const [oid, size] of await this.blobs.sizes(wanted)) this.sizes.set(oid, size);
    for (const a of [...this.done].reverse()) {
      const dest = abs(this.repo, a.rel);
      const regular = (m: string): boolean => m === '100644' || m === '100755';
      if (a.before && a.after && a.before.oid === a.after.oid && regular(a.before.mode) && regular(a.after.mode)) {
        // A mode change.
        if (kindOf(dest) === 'file') chmodSync(dest, withExec(lstatSync(dest).mode & 0o7777, a.before.mode === '100755'));
        continue;
      }
      const ok = await this.replace({ rel: a.rel, path: a.path }, a.after, a.before, false);
      if (!ok) left.push(a.path);
      else this.done.splice(this.done.indexOf(a), 1);
    }
    return left;
  }

  /** Runs `op` on each entry; entries found changed are recorded with `recordLive` and tried again, up to ROUNDS times. */
  private async withRetries(entries: TreeChange[], op: (e: TreeChange, before: Side) => Promise<boolean>, recordLive: RecordLive, leftAlone: Map<string, string>): Promise<void> {
    let pending: Array<{ e: TreeChange; before: Side }> = entries.map((e) => ({ e, before: e.srcMode === '000000' ? null : { mode: e.srcMode, oid: e.srcOid } }));
    for (let round = 0; pending.length > 0; round++) {
      const changed: typeof pending = [];
      for (const p of pending) if (!(await op(p.e, p.before))) changed.push(p);
      if (changed.length === 0) return;
      if (round >= ROUNDS) {
        for (const c of changed) leftAlone.set(c.e.path, 'changed again and again while the rollback ran; left as it is (recorded in the latest pre-rollback snapshot)');
        return;
      }
      const live = await recordLive(changed.map((c) => c.e));
      pending = [];
      for (const c of changed) {
        if (!live.has(c.e.path)) leftAlone.set(c.e.path, 'changed while the rollback ran and could not be recorded; left as it is');
        else pending.push({ e: c.e, before: live.get(c.e.path)! });
      }
    }
  }

  /**
   * Replaces what is at `e.rel` (expected to be `before`) by `after` (a blob
   * with its mode, or null to delete). The new content is staged first; then,
   * immediately before the old one is destroyed, its bytes are hashed and
   * compared with `before`.
   *
   * @returns false, changing nothing, when the path does not hold `before`.
   */
  private async replace(e: { rel: Buffer; path: string }, before: Side, after: Side, record = true): Promise<boolean> {
    const dest = abs(this.repo, e.rel);
    let staged: Buffer | null = null;
    let link: Buffer | null = null;
    if (after) {
      const slash = e.rel.lastIndexOf(0x2f);
      if (slash > 0) {
        try {
          mkdirSync(abs(this.repo, e.rel.subarray(0, slash)), { recursive: true });
        } catch (err) {
          throw fsError(err, dest);
        }
      }
      if (after.mode === '120000') {
        link = this.inProcessBlob(after.oid, 64 * 1024)?.content ?? (await this.blobs.read(after.oid, 64 * 1024));
        if (!link) throw missing(after.oid, e.path);
      } else {
        staged = await this.stage(dest, after);
      }
    }
    try {
      if (!this.holds(e.rel, dest, before)) return false;
      // The point of destruction: `before` is in a snapshot, and it is what is there.
      if (staged) {
        renameSync(staged, dest);
        staged = null;
      } else {
        if (before) unlinkSync(dest);
        if (link) symlinkSync(link, dest);
      }
    } catch (err) {
      throw fsError(err, dest);
    } finally {
      if (staged) {
        try {
          unlinkSync(staged);
        } catch {
          // already gone
        }
      }
    }
    if (record) this.done.push({ rel: e.rel, path: e.path, before, after });
    return true;
  }

  /** Blob `oid` read in process when it is stored loose or in a pack this reads and holds at most `maxBytes`; else undefined (git reads it). */
  private inProcessBlob(oid: string, maxBytes: number): GitObject | undefined {
    // Loose (a recent snapshot of the direct path), else in one of the packs (the daemon's steps, a fold, the repository's).
    const obj = readLooseObject(this.repo, oid, maxBytes) ?? this.packs.read(oid, maxBytes);
    return obj && obj.type === 'blob' ? { oid, type: 'blob', content: obj.content } : undefined;
  }

  /** Whether `rel` (at `dest`) holds exactly `side` now (type and bytes), hashed without trusting any cache; a path under a symlink holds nothing (never looked through). */
  private holds(rel: Buffer, dest: Buffer, side: Side): boolean {
    const kind = kindInWorktree(this.repo, rel);
    if (!side) return kind === 'missing';
    if (side.mode === '120000' ? kind !== 'link' : kind !== 'file') return false;
    return hashPath(dest, this.repo.objectFormat) === side.oid;
  }

  /** Streams blob `side.oid` into a new temporary file beside `dest` (or in the staging dir on the same device); returns its path. */
  private async stage(dest: Buffer, side: { mode: string; oid: string }): Promise<Buffer> {
    const exec = side.mode === '100755';
    let mode = (exec ? 0o777 : 0o666) & ~umask();
    try {
      const st = lstatSync(dest);
      if (st.isFile()) mode = withExec(st.mode & 0o777, exec);
    } catch {
      // new file
    }
    const tmp = this.tempFor(dest);
    let fd: number | null = null;
    try {
      fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
      const f = fd;
      const ready = this.ahead.get(side.oid);
      if (ready) {
        let off = 0;
        while (off < ready.content.length) off += writeSync(f, ready.content, off, ready.content.length - off);
      } else if ((this.sizes.get(side.oid) ?? 0) > DIRECT_BYTES) {
        try {
          await this.blobs.copyToFd(side.oid, f);
        } catch (err) {
          // git's own write failed: report the file-system error it met, as ours would be.
          const m = /No space left|Permission denied|Read-only file system|File too large/i.exec(String((err as CkptError).data?.stderr ?? ''));
          if (!m) throw err;
          const code = { 'no space left': 'ENOSPC', 'permission denied': 'EACCES', 'read-only file system': 'EROFS', 'file too large': 'EFBIG' }[m[0].toLowerCase()];
          throw Object.assign(new Error(m[0]), { code });
        }
      }
      else {
        const n = await this.blobs.copy(side.oid, (piece) => {
          let off = 0;
          while (off < piece.length) off += writeSync(f, piece, off, piece.length - off);
        });
        if (n === null) throw missing(side.oid, dest.toString('utf8'));
      }
      closeSync(fd);
      fd = null;
      chmodSync(tmp, mode);
      return tmp;
    } catch (err) {
      if (fd !== null) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw fsError(err, dest);
    }
  }

  /** A temporary name for `dest`'s new content: in the staging dir when on the same device (never in the user's tree), else beside it. */
  private tempFor(dest: Buffer): Buffer {
    const dir = path.dirname(dest.toString('latin1'));
    let dev = this.devOf.get(dir);
    if (dev === undefined) {
      try {
        dev = statSync(Buffer.from(dir, 'latin1')).dev;
      } catch {
        dev = null;
      }
      this.devOf.set(dir, dev);
    }
    if (dev !== null && dev === this.stagingDev) return Buffer.from(path.join(this.staging, `${process.pid}-${++this.seq}.tmp`));
    return inTreeTempName(dest);
  }
}

function missing(oid: string, p: string): CkptError {
  return new CkptError('GIT_FAILED', `object ${oid} for ${p} is missing`, { hint: 'Run `git fsck`; the snapshot names an object the store no longer has.' });
}

/** Removes a tree of empty directories; fails (and changes nothing more) where anything is left: never forced. */
function removeEmptyTree(dir: Buffer): void {
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const child = Buffer.concat([dir, Buffer.from('/'), name]);
    if (kindOf(child) === 'dir') removeEmptyTree(child);
  }
  rmdirSync(dir);
}

let cachedUmask: number | undefined;
function umask(): number {
  if (cachedUmask === undefined) cachedUmask = process.umask();
  return cachedUmask;
}

function withExec(mode: number, exec: boolean): number {
  return exec ? mode | ((mode & 0o444) >> 2) : mode & ~0o111;
}
