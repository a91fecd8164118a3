/** The change summary of a new snapshot against the previous one, and the warnings it implies. */
import type { Repo } from '../git/repo.js';
import { diffTrees, gitlinkPaths, type TreeChange } from '../git/tree-diff.js';

/**
 * A tree's changes against the previous snapshot's tree: a short summary
 * (`M a.txt, A b.txt`, `first snapshot`) and one warning per nested
 * repository stored as a gitlink. A path that left the tree because the
 * snapshot left it out (`leftOut`: over the size cap, unreadable) is
 * summarised as `not captured`, not as deleted: it is still in the worktree.
 *
 * @param leftOut worktree-relative paths this snapshot left out.
 * @throws CkptError `GIT_FAILED`.
 */
export async function describeChanges(repo: Repo, tree: string, prevTree: string | null, leftOut: ReadonlySet<string> = new Set()): Promise<{ summary: string; warnings: string[] }> {
  if (tree === prevTree) return { summary: 'no changes', warnings: [] };
  // The first time the summary is fixed and only the gitlinks are wanted: no diff
  // against the empty tree (a record per file, to find none of them a gitlink).
  if (!prevTree) return { summary: 'first snapshot', warnings: (await gitlinkPaths(repo, tree)).map(gitlinkWarning) };
  return summariseChanges(await diffTrees(repo, prevTree, tree), prevTree, leftOut);
}

const gitlinkWarning = (p: string): string => `${p}: nested repository stored as a gitlink; its own uncommitted changes are not captured`;

/**
 * {@link describeChanges} from changes already known (the daemon's in-process
 * read lists them, snapshot/incremental.ts): no git process.
 *
 * @param changes the paths that differ from `prevTree`, in git's order (diff-tree's).
 */
export function summariseChanges(changes: readonly TreeChange[], prevTree: string | null, leftOut: ReadonlySet<string> = new Set()): { summary: string; warnings: string[] } {
  const gitlinks = changes.filter((c) => c.dstMode === '160000').map((c) => c.path);
  const lines = changes.map((c) => (c.status === 'D' && leftOut.has(c.path) ? `${c.path} not captured` : `${c.status} ${c.path}`));
  let summary: string;
  if (!prevTree) summary = 'first snapshot';
  else if (lines.length === 0) summary = 'no changes';
  else if (lines.length <= 3) summary = lines.join(', ');
  else summary = `${lines.length} files: ${lines.slice(0, 2).join(', ')}, …`;
  return { summary, warnings: gitlinks.map(gitlinkWarning) };
}
