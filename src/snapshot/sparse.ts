/**
 * The user's sparse checkout, mirrored in the private index: paths the
 * user's index marks skip-worktree are absent from the worktree on purpose.
 */
import { git, gitWithPaths, joinNul, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import type { GitEnv } from './private-index.js';

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
  const theirs = hasUserIndex ? await skipWorktreeEntries(repo, realEnv(repo)) : new Map<string, Buffer>();
  const ours = await skipWorktreeEntries(repo, env);
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
