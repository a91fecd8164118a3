/** After a race: did the user's own worktree change while it ran (the user, or an agent writing outside its attempt)? */
import type { Repo } from '../git/repo.js';
import { withWorktreeLock } from '../snapshot/lock.js';
import { diffTrees } from '../git/tree-diff.js';
import { captureTree } from '../snapshot/capture.js';
import { counted } from '../core/plural.js';

/**
 * Warnings (zero or one line) when the user's worktree differs from `baseTree`,
 * naming up to 5 paths. Never throws: a failure to look is itself the warning.
 */
export async function mainCheckoutChanges(repo: Repo, baseTree: string): Promise<string[]> {
  try {
    const now = await withWorktreeLock(repo, () => captureTree(repo));
    if (now === baseTree) return [];
    const d = await diffTrees(repo, baseTree, now);
    const shown = d.slice(0, 5).map((e) => e.path).join(', ');
    return [`your worktree ${repo.worktree} changed during the race (${counted(d.length, 'path')}: ${shown}${d.length > 5 ? ', …' : ''}): by you, or by an agent writing outside its attempt`];
  } catch (err) {
    return [`could not check your worktree after the race: ${(err as Error).message}`];
  }
}
