/**
 * The base every attempt starts from: a fresh snapshot of the user's worktree
 * (uncommitted and untracked work included), or what `--base` names, a
 * snapshot (step, id) or else a git revision.
 */
import { gitText } from '../git/exec.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { resolveSnapshot } from '../snapshot/store.js';
import { takeSnapshot } from '../snapshot/take.js';
import type { Base } from './worktree.js';

/** A base with the snapshot (or commit) id it was read from. */
export type ResolvedBase = Base & { snapshot: string };

/**
 * Resolves `--base SPEC`: a snapshot of the user's chain (step or id), else a
 * git revision (its commit and tree; the index is taken to be the tree).
 *
 * @throws CkptError `SNAPSHOT_NOT_FOUND` when SPEC is neither (the snapshot lookup's error).
 */
export async function resolveBase(repo: Repo, spec: string): Promise<ResolvedBase> {
  try {
    const s = await resolveSnapshot(repo, spec);
    return { tree: s.tree, head: s.head, indexTree: s.indexTree, snapshot: s.id };
  } catch (err) {
    // Not a snapshot: a git revision.
    const name = `${spec}^{commit}`;
    const obj = spec.startsWith('-') ? null : (await readObjects([name], { cwd: repo.worktree, env: realEnv(repo) })).get(name);
    if (!obj) throw err;
    const tree = await gitText(['rev-parse', `${obj.oid}^{tree}`], { cwd: repo.worktree, env: realEnv(repo) });
    return { tree, head: obj.oid, indexTree: tree, snapshot: obj.oid };
  }
}

/**
 * The worktree as the user sees it now, recorded as a `manual` snapshot in
 * the user's chain.
 *
 * @throws CkptError what `takeSnapshot` throws (`LOCKED`, `GIT_FAILED`, `FS_FAILED`).
 */
export async function snapshotBase(repo: Repo, raceId: string): Promise<ResolvedBase> {
  const taken = await takeSnapshot(repo, { kind: 'manual', agent: 'race', message: `base of race ${raceId}` });
  return { tree: taken.snapshot.tree, head: taken.snapshot.head, indexTree: taken.snapshot.indexTree, snapshot: taken.snapshot.id };
}
