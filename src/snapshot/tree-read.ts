/**
 * Reading what snapshots hold, for views: the entries of a snapshot's tree,
 * blob sizes, and the bytes of small blobs. The viewer reads through here
 * instead of running git plumbing itself; changes between trees are
 * git/tree-diff.ts's {@link diffTrees}.
 */
import { git, splitNul } from '../git/exec.js';
import { objectSizes, readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';

export { diffTrees, type TreeChange } from '../git/tree-diff.js';

/** One entry of a tree listing. */
export interface TreeListing {
  /** Repository-relative path (UTF-8 text). */
  path: string;
  /** git mode (`100644`, `120000`, `160000`, `040000`). */
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  /** Blob size in bytes, null for trees and gitlinks. */
  size: number | null;
}

/**
 * The entries of `tree` (`git ls-tree -l`): every file, recursively; or, with
 * `path`, only the entry at that exact path (taken literally).
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function listTree(repo: Repo, tree: string, path?: string): Promise<TreeListing[]> {
  const args = path === undefined ? ['ls-tree', '-r', '-z', '-l', '--full-tree', tree] : ['ls-tree', '-z', '-l', '--full-tree', tree, '--', path];
  const { stdout } = await git(args, { cwd: repo.worktree, env: { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' } });
  const out: TreeListing[] = [];
  for (const rec of splitNul(stdout)) {
    const s = rec.toString('utf8');
    const tab = s.indexOf('\t');
    const [mode, type, oid, size] = s.slice(0, tab).split(/\s+/);
    const p = s.slice(tab + 1);
    if (path !== undefined && p !== path) continue;
    out.push({ path: p, mode: mode!, type: type as TreeListing['type'], oid: oid!, size: size === '-' || size === undefined ? null : Number(size) });
  }
  return out;
}

/**
 * The sizes in bytes of the given blobs (one `git cat-file --batch-check`);
 * ids git does not have are left out.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export function blobSizes(repo: Repo, oids: readonly string[]): Promise<Map<string, number>> {
  return objectSizes(oids, { cwd: repo.worktree, env: shadowEnv(repo) });
}

/**
 * The bytes of the given blobs, whole, in one `git cat-file --batch`: for
 * small ones only (check {@link blobSizes} first); a missing one is left out.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function readBlobs(repo: Repo, oids: readonly string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [oid, obj] of await readObjects([...new Set(oids)], { cwd: repo.worktree, env: shadowEnv(repo) })) if (obj && obj.type === 'blob') out.set(oid, obj.content);
  return out;
}
