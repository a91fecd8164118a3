/**
 * ckpt's private index of a worktree (`<stateDir>/index`): git's stat cache
 * for snapshots, used only under the worktree lock, never the user's index.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { git, gitWithPaths, joinNul } from '../git/exec.js';
import { parseRawDiff } from '../git/tree-diff.js';
import type { Repo } from '../git/repo.js';

/** Environment of git commands on the private index (from `shadowEnv(repo, privateIndexPath(repo))`). */
export type GitEnv = Record<string, string | undefined>;

/** Path of `repo`'s private index. */
export function privateIndexPath(repo: Repo): string {
  return path.join(repo.stateDir, 'index');
}

/**
 * What is at `rel` (bytes, worktree-relative): null when nothing is, true for
 * what git can store (a file, a symlink, a directory), false for a FIFO, a
 * socket or a device.
 */
export function storableAt(repo: Repo, rel: Buffer): boolean | null {
  try {
    const st = lstatSync(Buffer.concat([Buffer.from(repo.worktree + '/'), rel]));
    return st.isFile() || st.isSymbolicLink() || st.isDirectory();
  } catch {
    return null;
  }
}

/**
 * Drops `paths` from the private index, with every entry under them, leaving
 * the files alone: a path given here is one whose entries must go, and a
 * file that took a directory's place (an untracked file over the size cap
 * where a captured directory was) has them under it (`-r`; without it git
 * refuses, and every later snapshot failed). Forced: git otherwise refuses an
 * entry whose content differs from both the file and the shadow dir's HEAD,
 * which for the private index means nothing.
 */
export async function unindex(repo: Repo, env: GitEnv, paths: readonly Buffer[]): Promise<void> {
  if (paths.length > 0) await gitWithPaths(['rm', '--cached', '-r', '-f', '-q', '--ignore-unmatch'], paths, { cwd: repo.worktree, env });
}

/**
 * Makes the private index hold `tree` exactly (after an in-process read left
 * it behind the chain's tip): every entry that differs from the tree is set
 * to the tree's (its stat data empty, so git hashes the file again next
 * time) or removed; every other entry, its stat data and skip-worktree bit
 * are kept. Costs a pass over the index, never a walk of the worktree.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function alignPrivateIndex(repo: Repo, env: GitEnv, tree: string): Promise<void> {
  // src: the tree, dst: the index (git-diff-index(1), --cached, raw output).
  const diff = parseRawDiff((await git(['diff-index', '--cached', '-z', '--raw', '--no-renames', '--full-index', tree], { cwd: repo.worktree, env })).stdout);
  if (diff.length === 0) return;
  const zero = '0'.repeat(diff[0]!.srcOid.length);
  const records = diff.map((d) => Buffer.concat([Buffer.from(d.srcMode === '000000' ? `0 ${zero}\t` : `${d.srcMode} ${d.srcOid}\t`), d.rel]));
  await git(['update-index', '-z', '--index-info'], { cwd: repo.worktree, env, input: joinNul(records) });
}
