/**
 * File-system helpers of a restore: what is at a path (never following a
 * symlink), raw-byte paths under the worktree, and the one mapping of a
 * file-system failure to `FS_FAILED`.
 */
import { lstatSync } from 'node:fs';
import { CkptError } from '../../core/errors.js';
import type { Repo } from '../../git/repo.js';

/** What is at a path: nothing, a regular file, a directory, a symlink, or something else (FIFO, socket, device). */
export type Kind = 'missing' | 'file' | 'dir' | 'link' | 'other';

/** The absolute path (raw bytes) of worktree-relative `rel`. */
export function abs(repo: Repo, rel: Buffer): Buffer {
  return Buffer.concat([Buffer.from(repo.worktree + '/'), rel]);
}

/**
 * What is at `p` (lstat: a symlink is a link, never its target).
 *
 * @throws CkptError `FS_FAILED` for anything but "not there".
 */
export function kindOf(p: Buffer): Kind {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return 'link';
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    return 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw fsError(err, p);
  }
}

/**
 * What is at worktree-relative `rel` in the worktree's own tree: each
 * ancestor is lstat'ed in turn, shallowest first, and when one is not a real
 * directory (a symlink, a file, nothing) there is nothing at `rel`
 * (`missing`), whatever a path lookup through that symlink would find
 * outside the worktree. Never follows a symlink.
 *
 * @throws CkptError `FS_FAILED` for anything but "not there".
 */
export function kindInWorktree(repo: Repo, rel: Buffer): Kind {
  for (const a of ancestors(rel).reverse()) if (kindOf(abs(repo, a)) !== 'dir') return 'missing';
  return kindOf(abs(repo, rel));
}

/** The proper ancestors of a relative path, deepest first (`a/b/c` → `a/b`, `a`). */
export function ancestors(rel: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = rel.length - 1; i > 0; i--) if (rel[i] === 0x2f) out.push(rel.subarray(0, i));
  return out;
}

/** Number of `/` in a path. */
export function depth(p: string): number {
  let n = 0;
  for (const c of p) if (c === '/') n++;
  return n;
}

/** The last component of a `/`-separated path. */
export function basenameOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/**
 * A file-system failure during a restore as `FS_FAILED` (data: path, errno).
 * The hint says what ckpt already did about it (`putBack`: the files changed
 * so far were put back from the pre-rollback snapshot).
 */
export function fsError(err: unknown, p: Buffer | string, putBack?: 'done' | 'pending'): CkptError {
  if (err instanceof CkptError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const shown = typeof p === 'string' ? p : p.toString('utf8');
  const cause = code === 'ENOSPC' ? 'The disk is full; free space and run the command again.' : code === 'EACCES' || code === 'EPERM' ? 'Permission denied; check the file and its directory.' : 'Check the file system.';
  const after =
    putBack === 'done'
      ? ' Nothing is changed: the files the rollback had already written were put back from its pre-rollback snapshot.'
      : putBack === 'pending'
        ? ' Some files could not be put back yet: the next `ckpt rollback` (or `ckpt rollback --undo`) puts them back from the pre-rollback snapshot first, automatically.'
        : '';
  return new CkptError('FS_FAILED', `${code} on ${shown}`, { cause: err, hint: cause + after, data: { path: shown, errno: code } });
}

/**
 * The error of a restore that failed part-way, saying in its hint what was
 * done about it: `left` lists the paths the put-back left as they are (they
 * changed again since), or is null when the put-back itself failed (the
 * journal then makes the next rollback put back the rest first).
 */
export function withPutBack(err: unknown, left: string[] | null): CkptError {
  const state = left === null ? 'pending' : 'done';
  let out: CkptError;
  if (err instanceof CkptError && err.code === 'FS_FAILED') out = fsError(err.cause ?? err, String(err.data.path ?? ''), state);
  else if (err instanceof CkptError) {
    const note = state === 'done' ? 'The files already changed were put back from the pre-rollback snapshot.' : 'The next `ckpt rollback` (or `--undo`) puts back the files already changed, automatically.';
    out = new CkptError(err.code, err.message, { cause: err.cause ?? err, hint: `${err.hint ? `${err.hint} ` : ''}${note}`, data: err.data });
  } else out = fsError(err, '', state);
  if (left && left.length > 0) out.data.leftAsTheyAre = left;
  return out;
}
