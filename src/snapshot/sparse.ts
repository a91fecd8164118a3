/**
 * The user's sparse checkout, mirrored in the private index: paths the
 * user's index marks skip-worktree are absent from the worktree on purpose.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { git, gitWithPaths, joinNul, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowDir } from '../git/shadow.js';
import { privateIndexPath, type GitEnv } from './private-index.js';

/**
 * Whether the index file `indexFile` can hold skip-worktree entries: not
 * when it is a version 2 index and not split (skip-worktree is an extended
 * flag, which needs version 3 or later: gitformat-index(5)), so the listing
 * of every path that finds them can be skipped (10k lines at 10k files, per
 * snapshot that syncs them). Anything unexpected (no file, another
 * signature, a `sharedindex.*` in one of `gitDirs`) answers true.
 */
export function indexMayHoldSkipWorktree(indexFile: string, gitDirs: readonly string[]): boolean {
  try {
    const fd = openSync(indexFile, 'r');
    const head = Buffer.alloc(8);
    try {
      if (readSync(fd, head, 0, 8, 0) < 8) return true;
    } finally {
      closeSync(fd);
    }
    if (head.toString('latin1', 0, 4) !== 'DIRC' || head.readUInt32BE(4) !== 2) return true;
    return gitDirs.some((d) => readdirSync(d).some((f) => f.startsWith('sharedindex.')));
  } catch {
    return true;
  }
}

/** Stage-0 entries flagged skip-worktree (`S` in git-ls-files(1) `-t`): path (latin1) → the `--index-info` line. */
async function skipWorktreeEntries(repo: Repo, env: GitEnv): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const rec of splitNul((await git(['ls-files', '-z', '-t', '-s'], { cwd: repo.worktree, env })).stdout)) {
    // "S <mode> <oid> <stage>\t<path>"
    if (rec[0] !== 0x53 || rec[1] !== 0x20) continue;
    const tab = rec.indexOf(0x09);
    const [mode, oid, stage] = rec.subarray(2, tab).toString('latin1').split(' ');
    if (stage !== '0') continue;
    const rel = rec.subarray(tab + 1);
    out.set(rel.toString('latin1'), Buffer.concat([Buffer.from(`${mode} ${oid}\t`, 'latin1'), rel]));
  }
  return out;
}

/**
 * Mirrors the user's sparse checkout in the private index (test: snapshot.test.ts
 * "follows a sparse checkout"): paths the user's index marks skip-worktree are
 * not in the worktree on purpose, so they keep their indexed content and the
 * flag (`git add -A` then leaves them alone, and a rollback never materialises
 * them); paths no longer flagged lose the flag and are read again.
 *
 * @param env the private index's environment.
 * @param hasUserIndex false when the user has no index (nothing is sparse).
 * @throws CkptError `GIT_FAILED`.
 */
export async function syncSkipWorktree(repo: Repo, env: GitEnv, hasUserIndex: boolean): Promise<void> {
  // Either side's listing (every path) only when its index can hold the flag at all.
  const theirs = hasUserIndex && indexMayHoldSkipWorktree(repo.userIndex, [repo.gitDir, repo.commonDir]) ? await skipWorktreeEntries(repo, realEnv(repo)) : new Map<string, Buffer>();
  const ours = indexMayHoldSkipWorktree(env.GIT_INDEX_FILE ?? privateIndexPath(repo), [shadowDir(repo)]) ? await skipWorktreeEntries(repo, env) : new Map<string, Buffer>();
  const toSet = [...theirs.keys()].filter((k) => !ours.has(k));
  const toClear = [...ours.keys()].filter((k) => !theirs.has(k));
  if (toSet.length > 0) {
    await git(['update-index', '-z', '--index-info'], { cwd: repo.worktree, env, input: joinNul(toSet.map((k) => theirs.get(k)!)) });
    await git(['update-index', '-z', '--skip-worktree', '--stdin'], { cwd: repo.worktree, env, input: joinNul(toSet.map((k) => Buffer.from(k, 'latin1'))) });
  }
  if (toClear.length > 0) {
    const paths = toClear.map((k) => Buffer.from(k, 'latin1'));
    await git(['update-index', '-z', '--no-skip-worktree', '--stdin'], { cwd: repo.worktree, env, input: joinNul(paths) });
    await gitWithPaths(['add', '-A'], paths, { cwd: repo.worktree, env, okCodes: [0, 1] });
  }
}
