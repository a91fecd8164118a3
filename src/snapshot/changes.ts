/** The change summary of a new snapshot against the previous one, and the warnings it implies. */
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';

/**
 * A tree's changes against the previous snapshot's tree: a short summary
 * (`M a.txt, A b.txt`, `first snapshot`) and one warning per nested
 * repository stored as a gitlink.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function describeChanges(repo: Repo, tree: string, prevTree: string | null): Promise<{ summary: string; warnings: string[] }> {
  if (tree === prevTree) return { summary: 'no changes', warnings: [] };
  // One diff against the previous tree (or the whole tree the first time).
  const args = prevTree ? ['diff-tree', '-r', '-z', '--no-renames', prevTree, tree] : ['ls-tree', '-r', '-z', tree];
  const { stdout } = await git(args, { cwd: repo.worktree, env: shadowEnv(repo) });
  const recs = splitNul(stdout);
  const warnings: string[] = [];
  const changes: string[] = [];
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i]!.toString('utf8');
    if (prevTree) {
      // ":oldmode newmode oldoid newoid status" followed by the path record
      const p = recs[++i]?.toString('utf8') ?? '';
      const [, newMode] = rec.split(' ');
      const status = rec.slice(rec.lastIndexOf(' ') + 1);
      if (newMode === '160000') warnings.push(p);
      changes.push(`${status} ${p}`);
    } else if (rec.startsWith('160000 ')) {
      warnings.push(rec.slice(rec.indexOf('\t') + 1));
    }
  }
  let summary: string;
  if (!prevTree) summary = 'first snapshot';
  else if (changes.length <= 3) summary = changes.join(', ');
  else summary = `${changes.length} files: ${changes.slice(0, 2).join(', ')}, …`;
  return { summary, warnings: warnings.map((p) => `${p}: nested repository stored as a gitlink; its own uncommitted changes are not captured`) };
}
