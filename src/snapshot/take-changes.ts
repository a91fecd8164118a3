/**
 * A snapshot from the paths known to have changed (the daemon's): the tree
 * read in process from the previous snapshot's (incremental.ts), then the
 * same commit, compare-and-swap ref update and tip as every snapshot
 * (take.ts). When the in-process read is unsure, or there is no previous
 * snapshot, the whole worktree is read with git, as the direct path does.
 */
import type { SnapshotInput } from '../core/types.js';
import type { Repo } from '../git/repo.js';
import { captureTreeReporting } from './capture.js';
import { treeWithChanges, type IncrementalContext } from './incremental.js';
import { ObjectWriter } from './object-writer.js';
import { withWorktreeLock, type LockOptions } from './lock.js';
import { takeSnapshotLocked, type TakeResult } from './take.js';

/** What {@link takeSnapshotOfChangesLocked} returns. */
export interface ChangesResult extends TakeResult {
  /** Why the whole worktree was read with git instead (null: read in process). */
  fullRead: string | null;
  /** Files and links read in process. */
  read: number;
}

/**
 * Takes a snapshot of `repo` given every path changed since the tip's tree
 * was read (a superset is fine). Caller holds the worktree lock.
 *
 * @param changed worktree-relative `/`-separated paths.
 * @param trusted whether the tip's tree is one `changed` is relative to
 *   (the daemon knows the trees it read; a tip recorded from any other tree,
 *   a forged or rewound chain, is read whole with git). Default: every tip.
 * @throws CkptError as {@link takeSnapshotLocked}.
 */
export async function takeSnapshotOfChangesLocked(repo: Repo, input: SnapshotInput, ctx: IncrementalContext, changed: Iterable<string>, trusted: (tree: string) => boolean = () => true): Promise<ChangesResult> {
  let fullRead: string | null = null;
  let read = 0;
  const res = await takeSnapshotLocked(repo, input, {
    capture: async (tip) => {
      if (tip && !trusted(tip.tree)) fullRead = "the tip's tree is not one this process read";
      else if (tip) {
        const writer = new ObjectWriter(repo);
        const inc = await treeWithChanges(ctx, tip, changed, { writer });
        if (!('unsure' in inc)) {
          read = inc.read;
          return { tree: inc.tree, notCaptured: inc.notCaptured, changes: inc.changes, writer };
        }
        fullRead = inc.unsure;
      } else fullRead = 'no previous snapshot';
      return captureTreeReporting(repo);
    },
  });
  return { ...res, fullRead, read };
}

/**
 * {@link takeSnapshotOfChangesLocked} under the worktree lock: for a
 * long-lived process that keeps `ctx` and the changed paths itself (the
 * daemon, a benchmark).
 *
 * @throws CkptError `LOCKED`, and as {@link takeSnapshotLocked}.
 */
export async function takeSnapshotOfChanges(repo: Repo, input: SnapshotInput, ctx: IncrementalContext, changed: Iterable<string>, lock: LockOptions = {}): Promise<ChangesResult> {
  return withWorktreeLock(repo, () => takeSnapshotOfChangesLocked(repo, input, ctx, changed), lock);
}
