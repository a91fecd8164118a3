/**
 * Reading the worktree into a tree: `git add -A` into the private index
 * (seeded from the user's index on first use, so git's stat cache makes a
 * re-snapshot cost a `stat` per file plus hashing what changed), then
 * `git write-tree`. Records nothing.
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fsFailure, isCkptError } from '../core/errors.js';
import type { NotCaptured } from '../core/types.js';
import { git, gitText, gitWithPaths, joinNul, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import type { TreeChange } from '../git/tree-diff.js';
import type { ObjectWriter } from './object-writer.js';
import { syncIgnoreRules } from './ignore-sync.js';
import { findLeftOut, maxFileSize } from './left-out.js';
import { privateIndexPath, storableAt, unindex, type GitEnv } from './private-index.js';
import { readState, writeState } from './state.js';
import { removeTempObjects } from './temp-objects.js';

/** What {@link captureTreeReporting} returns. */
export interface Capture {
  /** The tree id of the worktree as read. */
  tree: string;
  /** Paths not read: untracked files over the size cap (left out), unreadable paths (their previous entry kept, absent if they had none), paths the index held that are now FIFOs, sockets or devices (left out). */
  notCaptured: NotCaptured[];
  /** Set when the private index named objects missing from the store and was rebuilt: what happened, one line. */
  rebuilt?: string;
  /** The paths that differ from the previous snapshot's tree, when the reader knows them already (the daemon's): no diff is run for the summary. */
  changes?: TreeChange[];
  /** The tree's new objects, queued and not written yet (the daemon's read): the snapshot writes them with its commit, before the ref names them. */
  writer?: ObjectWriter;
}

/**
 * Writes the worktree into the private index and returns its tree id, without
 * recording anything. Caller must hold the worktree lock.
 *
 * @param onlyPaths when given, only these worktree-relative paths are re-read
 *   (`git add -A -- PATHS`): for a caller that knows exactly what it changed,
 *   such as rollback recording its result. Everything else keeps the private
 *   index's entries. When git refuses the list (a path now ignored, say), the
 *   whole worktree is read instead.
 * @throws CkptError `GIT_FAILED`.
 */
export async function captureTree(repo: Repo, onlyPaths?: readonly (string | Buffer)[]): Promise<string> {
  return (await captureTreeReporting(repo, onlyPaths)).tree;
}

/**
 * {@link captureTree}, also returning the paths it had to leave out: a path
 * the index held that is now a FIFO, a socket or a device, which git refuses
 * to add (skipped and reported, never opened; test: snapshot.test.ts "skips
 * FIFOs, sockets and devices").
 *
 * The private index is a cache, never trusted blindly: `git write-tree`
 * checks that every object it names exists, and when some do not (pruned by
 * the user's `git gc`), the index is rebuilt and `rebuilt` says so (test:
 * git-children.test.ts).
 */
export async function captureTreeReporting(repo: Repo, onlyPaths?: readonly (string | Buffer)[]): Promise<Capture> {
  const started = Date.now();
  try {
    return await captureRebuilding(repo, onlyPaths);
  } catch (err) {
    // A full disk: git left its partial objects behind; they would keep the disk full.
    if (isCkptError(err, 'FS_FAILED') && (err.data.errno === 'ENOSPC' || err.data.errno === 'EDQUOT')) {
      const env = shadowEnv(repo);
      const freed = removeTempObjects(env.GIT_OBJECT_DIRECTORY ?? path.join(env.GIT_DIR, 'objects'), started);
      err.data.tempBytesRemoved = freed;
    }
    throw err;
  }
}

async function captureRebuilding(repo: Repo, onlyPaths?: readonly (string | Buffer)[]): Promise<Capture> {
  let missing: string | null;
  try {
    return await captureOnce(repo, onlyPaths, true);
  } catch (err) {
    missing = missingObjectError(err);
    if (missing === null) throw err;
  }
  // The private index names objects the store no longer has (a `git add` that
  // outlived its ckpt wrote them, then the user's `git gc --prune=now` removed
  // them): it is only a cache, so rebuild it, from the user's index and then,
  // if that names missing objects too, from nothing.
  for (const seed of [true, false]) {
    await forgetPrivateIndex(repo);
    try {
      const res = await captureOnce(repo, undefined, seed);
      return { ...res, rebuilt: `ckpt's private index named objects missing from the object store (${missing}); rebuilt it from ${seed ? "the user's index" : 'the worktree'}` };
    } catch (err) {
      if (!seed || missingObjectError(err) === null) throw err;
    }
  }
  throw new Error('unreachable');
}

/** git's message when an index names a missing object (`invalid object …` from write-tree), else null. */
function missingObjectError(err: unknown): string | null {
  if (!isCkptError(err, 'GIT_FAILED')) return null;
  const text = String(err.data.stderr ?? err.message);
  if (!/invalid object|error building trees|unable to read [0-9a-f]{7,}/i.test(text)) return null;
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').replace(/^(error|fatal): /, '').trim();
}

/** Deletes the private index and the record that its ignore rules and sparse flags are in sync. */
async function forgetPrivateIndex(repo: Repo): Promise<void> {
  rmSync(privateIndexPath(repo), { force: true });
  const { excludeSig: _e, ignoreSyncedIndexSig: _i, ...rest } = readState(repo);
  await writeState(repo, rest);
}

async function captureOnce(repo: Repo, onlyPaths: readonly (string | Buffer)[] | undefined, seed: boolean): Promise<Capture> {
  const index = privateIndexPath(repo);
  const env = shadowEnv(repo, index);
  if (seed && !existsSync(index) && existsSync(repo.userIndex)) {
    // Seed the stat cache from the user's index: most files then need no re-hash.
    try {
      copyFileSync(repo.userIndex, index);
    } catch (err) {
      rmSync(index, { force: true });
      throw fsFailure(err, "seed ckpt's private index from the user's index", index);
    }
  }
  const notCaptured: NotCaptured[] = [];
  let added: string | null = null;
  if (onlyPaths && existsSync(index)) {
    if (onlyPaths.length === 0) return { tree: await gitText(['write-tree'], { cwd: repo.worktree, env }), notCaptured };
    const res = await gitWithPaths(['add', '-A', '--verbose'], onlyPaths, { cwd: repo.worktree, env, okCodes: [0, 1, 128] });
    if (res.exitCode === 0) added = res.stdout.toString('utf8');
  }
  // Untracked files over the size cap and unreadable files: kept out before git reads them.
  const leftOut = added === null ? await findLeftOut(repo, env, maxFileSize(repo)) : { paths: [], entries: [] };
  const exclude = [...leftOut.paths];
  notCaptured.push(...leftOut.entries);
  // An untracked file over the cap leaves the index. An unreadable path keeps
  // the entry it had (the previous snapshot's, or the user's index's the
  // private index was seeded from): not read means unknown, never deleted.
  await unindex(repo, env, leftOut.paths.filter((_, i) => leftOut.entries[i]!.reason === 'too-large'));
  for (let attempt = 1; added === null; attempt++) {
    try {
      added = (await addAll(repo, env, exclude)).stdout.toString('utf8');
    } catch (err) {
      // A seeded index git cannot use here (split index, unknown extension):
      // start from an empty one. A file that vanished mid-scan: scan again.
      // An indexed path that became a FIFO, socket or device: drop it, say so.
      // A file that became unreadable since it was listed: leave it unread, say so.
      if (attempt >= 6 || !isCkptError(err, 'GIT_FAILED')) throw err; // FS_FAILED (a full disk) is never retried
      const stderr = String(err.data.stderr);
      const unreadable = /^error: unable to index file '(.+)'$/m.exec(stderr);
      if (/can only add regular files/i.test(stderr)) {
        const special = await dropSpecialFiles(repo, env);
        if (special.length === 0) throw err;
        notCaptured.push(...special.map((p) => ({ path: p, reason: 'special' as const, size: null })));
      } else if (unreadable && /Permission denied/.test(stderr)) {
        const rel = Buffer.from(unreadable[1]!, 'utf8');
        if (exclude.some((e) => e.equals(rel))) throw err;
        exclude.push(rel); // its index entry, if any, is kept (see above)
        notCaptured.push({ path: unreadable[1]!, reason: 'unreadable', size: null });
      } else if (attempt === 1 && existsSync(index) && /index|sharedindex|extension/i.test(stderr)) rmSync(index, { force: true });
    }
  }
  await syncIgnoreRules(repo, env, /(^|[/' ])\.gitignore'?$/m.test(added));
  return { tree: await gitText(['write-tree'], { cwd: repo.worktree, env }), notCaptured };
}

/**
 * `git add -A` of the whole worktree, or, when some paths must be left out,
 * of the whole worktree but those (`:/` plus one `:(top,exclude,literal)`
 * pathspec each, on stdin: no name is ever read as a pattern or an option).
 * git's untracked cache is not used with a pathspec, so this form costs more
 * and is used only when something is left out.
 */
function addAll(repo: Repo, env: GitEnv, exclude: readonly Buffer[]) {
  if (exclude.length === 0) return git(['add', '-A', '--verbose'], { cwd: repo.worktree, env });
  const specs = [Buffer.from(':/'), ...exclude.map((p) => Buffer.concat([Buffer.from(':(top,exclude,literal)'), p]))];
  return git(['add', '-A', '--verbose', '--pathspec-from-file=-', '--pathspec-file-nul'], { cwd: repo.worktree, env: { ...env, GIT_LITERAL_PATHSPECS: undefined }, input: joinNul(specs) });
}

/** Removes from the private index the paths that are now FIFOs, sockets or devices; returns them. */
async function dropSpecialFiles(repo: Repo, env: GitEnv): Promise<string[]> {
  const indexed = splitNul((await git(['ls-files', '-z', '--cached'], { cwd: repo.worktree, env })).stdout);
  const special = indexed.filter((rel) => storableAt(repo, rel) === false);
  await unindex(repo, env, special);
  return special.map((p) => p.toString('utf8'));
}
