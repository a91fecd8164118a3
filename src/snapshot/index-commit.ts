/**
 * The index commit: the user's index tree with HEAD as parent, the last
 * parent of every snapshot (docs/snapshot-format.md), so the user's staged
 * state and HEAD stay reachable from the chain.
 */
import { copyFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { CkptError, fsFailure } from '../core/errors.js';
import { git } from '../git/exec.js';
import { isLooseInStore, writeCommit } from '../git/loose.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowObjectsDir } from '../git/shadow.js';
import { encodeIndexMessage } from './format.js';
import { readState, writeState } from './state.js';
import { EMPTY_TREE } from '../git/tree-diff.js';

/** mtime, ctime, size and inode of the user's index, or null when it does not exist. */
export function userIndexSig(repo: Repo): string | null {
  try {
    const s = statSync(repo.userIndex, { bigint: true });
    return `${s.mtimeNs}:${s.ctimeNs}:${s.size}:${s.ino}`;
  } catch {
    return null;
  }
}

/**
 * The index commit for the user's index and HEAD as they are now (reused from
 * state.json when neither changed and the commit is still stored loose in
 * ckpt's store). The user's index is read through a copy
 * (`git write-tree` may refresh the file it reads).
 *
 * @param head HEAD's commit id, or null (no commits yet).
 * @returns the commit id and the index tree (null: the index is unmerged).
 * @throws CkptError `GIT_FAILED`, `FS_FAILED`.
 */
export async function indexCommit(repo: Repo, head: string | null): Promise<{ commit: string; tree: string | null }> {
  const sig = userIndexSig(repo);
  const state = readState(repo);
  // The cache is a hint: the commit it names must still be in ckpt's store
  // (a gc in another worktree may have pruned it before any snapshot named
  // it; packed by a gc, it is simply written again, once).
  if (state.indexCommit && state.userIndexSig === sig && state.head === head && sig !== null && isLooseInStore(repo, state.indexCommit)) {
    return { commit: state.indexCommit, tree: state.indexTree ?? null };
  }
  let tree: string | null = EMPTY_TREE[repo.objectFormat];
  if (sig !== null) {
    const copy = path.join(repo.stateDir, 'user-index.copy');
    try {
      copyFileSync(repo.userIndex, copy);
    } catch (err) {
      rmSync(copy, { force: true });
      throw fsFailure(err, "copy the user's index", copy);
    }
    try {
      // The user's git dir (a split index names its shared index there), but
      // objects into ckpt's store: the tree must live as long as the snapshots naming it.
      const env = { ...realEnv(repo), GIT_INDEX_FILE: copy, GIT_OBJECT_DIRECTORY: shadowObjectsDir(repo) };
      const res = await git(['write-tree'], { cwd: repo.worktree, env, okCodes: [0, 128] });
      if (res.exitCode === 0) tree = res.stdout.toString('utf8').trim();
      else if (/unmerged|conflict/i.test(res.stderr)) tree = null;
      else throw new CkptError('GIT_FAILED', `git write-tree of the user's index failed: ${res.stderr.trim()}`, { data: { stderr: res.stderr } });
    } finally {
      rmSync(copy, { force: true });
    }
  }
  const commit = writeCommit(repo, tree ?? EMPTY_TREE[repo.objectFormat], head ? [head] : [], encodeIndexMessage(repo.worktree));
  await writeState(repo, { ...state, userIndexSig: sig ?? undefined, head, indexTree: tree, indexCommit: commit, worktree: repo.worktree });
  return { commit, tree };
}
