/**
 * In-process access to what a snapshot needs most often, without starting a
 * git process (each costs about 9 ms here, see docs/architecture.md):
 *
 * - reading a ref or HEAD from the files git keeps them in (a loose ref file,
 *   then `packed-refs`; gitrepository-layout(5));
 * - reading a loose object (zlib-deflated `"<type> <size>\0<content>"`,
 *   git-hash-object(1));
 * - writing a loose object the way git does: to a temporary file in the
 *   object's fan-out directory, then linked into place, read-only.
 *
 * Every reader returns `undefined` when it cannot answer for sure (a packed
 * object, a reftable repository, a symbolic ref chain, anything unexpected):
 * the caller then asks git. Refs are only ever written by git (update-ref).
 * ckpt's own refs and objects live in the shadow git dir (git/shadow.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { constants as zlibConstants, deflateSync, inflateSync } from 'node:zlib';
import { CkptError } from '../core/errors.js';
import type { Repo } from './repo-type.js';
import { shadowDir, shadowObjectsDir } from './shadow.js';
import { takePooledTemp } from './temp-pool.js';

/** An object read in process: type and raw content bytes. */
export interface LooseObject {
  type: 'blob' | 'tree' | 'commit' | 'tag';
  content: Buffer;
}

function isOid(s: string, repo: Repo): boolean {
  return s.length === repo.zeroOid.length && /^[0-9a-f]+$/.test(s);
}

/**
 * The object id one of the user's refs (or HEAD) points at, read from the
 * repository's ref files.
 *
 * @param ref a full ref name (`refs/...`) or `HEAD` (the worktree's own).
 * @returns the oid; `null` when the ref does not exist (HEAD: unborn branch);
 *   `undefined` when the files cannot tell (reftable, a symref to a symref,
 *   an unreadable file), so the caller must ask git.
 */
export function readRefFast(repo: Repo, ref: string): string | null | undefined {
  if (existsSync(path.join(repo.commonDir, 'reftable'))) return undefined;
  try {
    if (ref === 'HEAD') {
      const text = readFileSync(path.join(repo.gitDir, 'HEAD'), 'utf8').trim();
      if (isOid(text, repo)) return text;
      if (!text.startsWith('ref: refs/')) return undefined;
      const target = text.slice(5);
      // Per-worktree refs (refs/worktree/, refs/bisect/) live in the worktree's git dir.
      if (/^refs\/(worktree|bisect|rewritten)\//.test(target)) return undefined;
      return readRefFast(repo, target);
    }
    return readRefIn(repo, repo.commonDir, ref);
  } catch {
    return undefined;
  }
}

/**
 * The object id a ref of ckpt's own store (`refs/ckpt/...` in the shadow git
 * dir) points at, read from its files. Same answers as {@link readRefFast}.
 */
export function readStoreRefFast(repo: Repo, ref: string): string | null | undefined {
  try {
    return readRefIn(repo, shadowDir(repo), ref);
  } catch {
    return undefined;
  }
}

function readRefIn(repo: Repo, dir: string, ref: string): string | null | undefined {
  let loose: string | null = null;
  try {
    loose = readFileSync(path.join(dir, ref), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  if (loose !== null) return isOid(loose, repo) ? loose : undefined;
  let packed: string;
  try {
    packed = readFileSync(path.join(dir, 'packed-refs'), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
  for (const line of packed.split('\n')) {
    if (line.length === repo.zeroOid.length + 1 + ref.length && line.endsWith(' ' + ref)) {
      const oid = line.slice(0, repo.zeroOid.length);
      return isOid(oid, repo) ? oid : undefined;
    }
  }
  return null;
}

function objectPath(objectsDir: string, oid: string): string {
  return path.join(objectsDir, oid.slice(0, 2), oid.slice(2));
}

/**
 * Whether `oid` is stored loose in ckpt's own store (not the user's). False
 * says only "not loose here": it may be packed, after `ckpt gc`.
 */
export function isLooseInStore(repo: Repo, oid: string): boolean {
  return isOid(oid, repo) && existsSync(objectPath(shadowObjectsDir(repo), oid));
}

/**
 * Reads a loose object of ckpt's store, or else of the repository's own
 * store (which ckpt's borrows from). Returns `undefined` when it is not
 * stored loose (it may be in a pack: ask git), cannot be read, or holds
 * more than `maxBytes` (then nothing larger is ever inflated in memory).
 */
export function readLooseObject(repo: Repo, oid: string, maxBytes = Infinity): LooseObject | undefined {
  if (!isOid(oid, repo)) return undefined;
  let raw: Buffer | undefined;
  // The header (`blob 123456\0`) is at most 32 bytes.
  const opts = Number.isFinite(maxBytes) ? { maxOutputLength: maxBytes + 32 } : {};
  for (const dir of [shadowObjectsDir(repo), path.join(repo.commonDir, 'objects')]) {
    const file = objectPath(dir, oid);
    // Asked first: a read that fails throws an Error with its stack (~14 µs and
    // ~1 KB of garbage here, against ~2.5 µs for the question), and most trees
    // a daemon reads ahead are packed (two failed reads each, 9,926 trees at 100k files).
    if (!existsSync(file)) continue;
    try {
      raw = inflateSync(readFileSync(file), opts);
      break;
    } catch {
      // not loose there
    }
  }
  if (!raw) return undefined;
  const head = parseHeader(raw);
  if (!head) return undefined;
  const content = raw.subarray(head.end);
  return head.size === content.length ? { type: head.type, content } : undefined;
}

/** A loose object's header at the start of `raw` (`blob 123\0`): its type, its size and where its content begins; undefined when it is not one. */
function parseHeader(raw: Buffer): { type: LooseObject['type']; size: number; end: number } | undefined {
  const nul = raw.indexOf(0);
  if (nul < 0 || nul > 32) return undefined;
  const [type, size, more] = raw.subarray(0, nul).toString('latin1').split(' ');
  if (!type || !['blob', 'tree', 'commit', 'tag'].includes(type) || !/^\d+$/.test(size ?? '') || more !== undefined) return undefined;
  return { type: type as LooseObject['type'], size: Number(size), end: nul + 1 };
}

/**
 * The type and size of a loose object (of ckpt's store, else the
 * repository's, as {@link readLooseObject} looks), read from its header: only
 * the first bytes of the file are read and inflated, whatever its size.
 * `undefined` when it is not stored loose or its header cannot be read.
 */
export function readLooseHeader(repo: Repo, oid: string): { type: LooseObject['type']; size: number } | undefined {
  if (!isOid(oid, repo)) return undefined;
  for (const dir of [shadowObjectsDir(repo), path.join(repo.commonDir, 'objects')]) {
    let fd: number;
    try {
      fd = openSync(objectPath(dir, oid), 'r');
    } catch {
      continue; // not loose there
    }
    try {
      // The header (`blob 123456\0`, at most 32 bytes) is the start of the zlib stream: a few hundred of its bytes hold it.
      const head = Buffer.alloc(512);
      const n = readSync(fd, head, 0, head.length, 0);
      const raw = inflateSync(head.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const parsed = parseHeader(raw);
      return parsed && { type: parsed.type, size: parsed.size };
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}

/**
 * Writes an object into ckpt's store (the shadow git dir's `objects/`, never
 * the user's) as a loose object and
 * returns its id (SHA-1 or SHA-256, the repository's format). Writing an
 * object that exists changes nothing.
 *
 * @throws CkptError `FS_FAILED` (data: path) when the object cannot be written
 *   (ENOSPC, EACCES, a read-only file system); no partial object is left.
 */
export function writeLooseObject(repo: Repo, type: LooseObject['type'], content: Buffer): string {
  const header = Buffer.from(`${type} ${content.length}\0`, 'latin1');
  const whole = Buffer.concat([header, content]);
  const oid = createHash(repo.objectFormat === 'sha256' ? 'sha256' : 'sha1').update(whole).digest('hex');
  const objects = shadowObjectsDir(repo);
  const file = objectPath(objects, oid);
  if (existsSync(file)) return oid;
  const dir = path.dirname(file);
  const pooled = takePooledTemp(objects);
  const tmp = pooled?.path ?? path.join(dir, `tmp_obj_ckpt_${process.pid}_${Math.random().toString(36).slice(2)}`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = pooled?.fd ?? openSync(tmp, 'wx', 0o444);
    try {
      writeSync(fd, deflateSync(whole, { level: 1 }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // As git does (object-file.c finalize_object_file): link, falling back to
    // rename; a pooled file (temp-pool.ts) is renamed (identical bytes if the object appeared meanwhile).
    if (pooled) {
      try {
        renameSync(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existsSync(tmp)) throw err;
        writeObjectFile(file, deflateSync(whole, { level: 1 })); // the pooled file was removed under us
      }
    } else {
      try {
        linkSync(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') renameSync(tmp, file);
      }
    }
  } catch (err) {
    throw new CkptError('FS_FAILED', `could not write object ${oid.slice(0, 10)} into ${objects}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check free space and permissions of the repository. Nothing was recorded.',
      data: { path: file },
    });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // renamed away, or never created
    }
  }
  return oid;
}

/**
 * Writes one loose object file (its deflated bytes) the plain way: a
 * temporary file beside it, fsynced, linked under its name (renamed where
 * links fail), the temporary file removed.
 */
export function writeObjectFile(file: string, deflated: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `tmp_obj_ckpt_${process.pid}_${Math.random().toString(36).slice(2)}`);
  try {
    const fd = openSync(tmp, 'wx', 0o444);
    try {
      writeSync(fd, deflated);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') renameSync(tmp, file);
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // renamed away
    }
  }
}

/** The identity line ckpt's commits carry: `ckpt <ckpt@localhost> SECONDS +0000`. */
function ident(timeMs: number): string {
  return `ckpt <ckpt@localhost> ${Math.floor(timeMs / 1000)} +0000`;
}

/**
 * Writes a commit object in process, byte for byte what
 * `git commit-tree TREE -p P… -F -` writes with ckpt's identity
 * (git-commit-tree(1); no signature, no encoding header).
 *
 * @returns the commit's object id.
 */
export function writeCommit(repo: Repo, tree: string, parents: readonly string[], message: string, timeMs = Date.now()): string {
  return writeLooseObject(repo, 'commit', commitContent(tree, parents, message, timeMs));
}

/** The content of the commit {@link writeCommit} writes (for a caller that writes it with other objects). */
export function commitContent(tree: string, parents: readonly string[], message: string, timeMs: number): Buffer {
  const lines = [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), `author ${ident(timeMs)}`, `committer ${ident(timeMs)}`];
  return Buffer.from(`${lines.join('\n')}\n\n${message}`, 'utf8');
}
