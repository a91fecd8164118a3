/**
 * Making an attempt's worktree: a linked worktree (`git worktree add`) on its
 * own branch, holding exactly the base (uncommitted changes included, as raw
 * bytes), its index set to the user's index at the base, the ignored files
 * the attempt needs (`.env*`, `.worktreeinclude` and configured patterns)
 * copied or linked in. Removing it: remove-worktree.ts.
 */
import { constants as fsc, cpSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ignore from 'ignore';
import { CkptError, fsFailure } from '../core/errors.js';
import { git, gitText, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { copyToRepository } from '../git/store.js';
import { worktreeAdmin } from '../git/worktree-admin.js';

/** Default parent of attempt worktrees: `$XDG_CACHE_HOME/ckpt/worktrees` (or `~/.cache/…`). */
export function defaultWorktreeRoot(): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'ckpt', 'worktrees');
}

/** Expands a leading `~/`. */
export function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** The base an attempt starts from. */
export interface Base {
  tree: string;
  head: string | null;
  indexTree: string | null;
}

/**
 * Creates the attempt worktree `dir` on a new branch `branch`, holding the
 * base tree byte for byte.
 *
 * @throws CkptError `INVALID_ARGUMENT` (dir exists), `GIT_FAILED` (the branch exists, say), `FS_FAILED`, `LOCKED` (git/worktree-admin.ts).
 */
export async function createAttemptWorktree(repo: Repo, base: Base, dir: string, branch: string): Promise<void> {
  const start = await addWorktree(repo, base, dir, branch);
  // Files: the base tree, raw bytes, through a throwaway index (shadow env: no filters).
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-wt-'));
  try {
    const senv = { ...shadowEnv(repo, path.join(tmp, 'index')), GIT_WORK_TREE: dir };
    await git(['read-tree', base.tree], { cwd: dir, env: senv });
    await git(['checkout-index', '--all', '--force'], { cwd: dir, env: senv });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Its index: the user's index at the base (staged changes mirrored), else HEAD's tree.
  const wtEnv = { GIT_DIR: undefined, GIT_WORK_TREE: undefined, GIT_INDEX_FILE: undefined };
  await git(['read-tree', base.indexTree ?? start], { cwd: dir, env: wtEnv });
  await git(['update-index', '-q', '--refresh'], { cwd: dir, env: wtEnv, okCodes: [0, 1] });
}

/** `git worktree add` of `dir` (an empty directory) on the new branch `branch` at the base's commit, no files checked out; returns that commit. */
async function addWorktree(repo: Repo, base: Base, dir: string, branch: string): Promise<string> {
  let start = base.head;
  if (!start) {
    // No commits yet: the branch starts at a commit of the base tree.
    start = await gitText(['commit-tree', '--no-gpg-sign', base.tree, '-m', 'ckpt race base'], { cwd: repo.worktree, env: shadowEnv(repo) });
  }
  // The worktree's branch and index live in the user's repository: it gets what they name from ckpt's store.
  await copyToRepository(repo, [start, ...(base.indexTree ? [base.indexTree] : [])]);
  const from = start;
  // The directory is claimed right before git fills it, under the lock: a process killed in the seconds before
  // (the copy, the lock's wait) leaves no empty directory behind (remove-worktree.ts also takes one for absent).
  await worktreeAdmin(repo, async () => {
    claimDir(dir);
    try {
      return await git(['-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '--quiet', '--no-checkout', '-b', branch, dir, from], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_WORK_TREE: undefined } });
    } catch (err) {
      // The claim goes with the failure (git removes the directory once it has filled it; rmdir removes only an empty one).
      try {
        rmdirSync(dir);
      } catch {
        // gone already, or not empty: not this call's to remove
      }
      throw err;
    }
  });
  return from;
}

/**
 * Makes the directory `dir` (its parents as needed), which must not exist
 * (called under the worktree lock, right before `git worktree add`):
 * `mkdir(2)` fails with EEXIST for all but one process that chose the same
 * path, where a check for it first would let both go on.
 *
 * @throws CkptError `INVALID_ARGUMENT` (it exists), `FS_FAILED`.
 */
function claimDir(dir: string): void {
  try {
    mkdirSync(path.dirname(dir), { recursive: true });
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CkptError('INVALID_ARGUMENT', `${dir} already exists`, { hint: 'Remove it, or set race.worktreeDir in .ckpt/config.json.', data: { dir } });
    throw fsFailure(err, 'make the worktree directory', dir);
  }
}

/** Options for {@link copyIgnoredFiles}. */
export interface CopySpec {
  /** gitignore-style patterns of ignored paths to copy (`.env*` always included; the plan adds `.worktreeinclude`'s, peers.ts). */
  copy: string[];
  /** Patterns of ignored paths to symlink instead (unsafe: the attempt writes into the user's files). */
  symlink: string[];
  /** Repository-relative paths left alone (the dependency directories, provided by deps.ts). */
  skip?: string[];
}

/**
 * Copies into `dir` the ignored files of the user's worktree that match
 * `.env*` and `spec.copy` (which holds `.worktreeinclude`'s patterns: Claude Code's convention,
 * gitignore syntax, only ignored files are taken); links those
 * matching `spec.symlink`. Copies are copy-on-write where the file system
 * allows. Returns the repository-relative paths copied and linked.
 */
export async function copyIgnoredFiles(repo: Repo, dir: string, spec: CopySpec): Promise<{ copied: string[]; linked: string[] }> {
  const include = ignore().add(['.env*', ...spec.copy]);
  const link = ignore().add(spec.symlink);
  const skip = new Set(spec.skip ?? []);
  // Every ignored path, directories collapsed (node_modules/ is one entry).
  const { stdout } = await git(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], { cwd: repo.worktree, env: realEnv(repo) });
  const copied: string[] = [];
  const linked: string[] = [];
  for (const raw of splitNul(stdout)) {
    const rel = raw.toString('utf8');
    const clean = rel.replace(/\/$/, '');
    const isDir = rel.endsWith('/');
    const test = (ig: ReturnType<typeof ignore>): boolean => ig.ignores(rel) || ig.ignores(clean) || (isDir && ig.ignores(clean + '/'));
    const src = path.join(repo.worktree, clean);
    const dest = path.join(dir, clean);
    if (skip.has(clean) || existsSync(dest) || !existsSync(src)) continue;
    if (spec.symlink.length > 0 && test(link)) {
      mkdirSync(path.dirname(dest), { recursive: true });
      symlinkSync(src, dest);
      linked.push(clean);
    } else if (test(include)) {
      mkdirSync(path.dirname(dest), { recursive: true });
      cpSync(src, dest, { recursive: true, mode: fsc.COPYFILE_FICLONE, verbatimSymlinks: true, preserveTimestamps: true, force: false, errorOnExist: false });
      copied.push(clean);
    } else if (isDir) {
      // A pattern may name something inside an ignored directory (e.g. config/.env.local).
      // Only descend when some pattern could match below it: cheap check by prefix.
    }
  }
  return { copied, linked };
}
