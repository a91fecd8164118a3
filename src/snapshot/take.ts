/**
 * Taking a snapshot: the worktree as it is (tracked and untracked files,
 * ignore rules respected, raw bytes, executable bits, symlinks as links) into a
 * commit on the worktree's hidden ref. The user's index, HEAD, branches, stash
 * and files are never touched.
 *
 * How (native git plumbing, one commit object written in process; see
 * docs/architecture.md for the measurements behind each choice):
 * 1. capture.ts: `git add -A` into a private index that persists per
 *    worktree, so git's stat cache makes a re-snapshot cost a `stat` per file
 *    plus hashing only what changed. On first use it is seeded from a copy of
 *    the user's index, which already holds fresh stat data
 *    (pingdotgg/t3code#3646); ignore-sync.ts and sparse.ts keep it in line
 *    with the ignore rules and the user's sparse checkout. Then
 *    `git write-tree`; if the tree, HEAD and index equal the last snapshot's,
 *    nothing new is recorded.
 * 2. index-commit.ts: the user's index and HEAD as the snapshot's last parent.
 * 3. The commit object is written in process (git/loose.ts: no git process
 *    for one small object), then tip.ts moves the ref with
 *    `git update-ref REF NEW OLD` (fails if another process moved the ref: no
 *    lost update).
 */
import { CkptError } from '../core/errors.js';
import type { NotCaptured, Snapshot, SnapshotInput } from '../core/types.js';
import { commitContent } from '../git/loose.js';
import type { Repo } from '../git/repo.js';
import { captureTreeReporting, type Capture } from './capture.js';
import { ObjectWriter } from './object-writer.js';
import { describeChanges, summariseChanges } from './changes.js';
import { decodeSnapshot, encodeMessage } from './format.js';
import { indexCommit } from './index-commit.js';
import { leftOutWarnings, maxFileSize } from './left-out.js';
import { retryOnRefRace, withWorktreeLock, type LockOptions } from './lock.js';
import { readTip, updateRef } from './tip.js';

// Kept here for the modules that import them from take.ts.
export { captureTree } from './capture.js';
export { readTip, updateRef, type ChainTip } from './tip.js';

/** What {@link takeSnapshot} returns. */
export interface TakeResult {
  /** The snapshot now at the tip of the chain. */
  snapshot: Snapshot;
  /** False when nothing changed since the last snapshot and none was recorded. */
  created: boolean;
  /** What was not captured, one line each: untracked files over the size cap, unreadable files, FIFOs, sockets and devices (all also in `snapshot.notCaptured` when a snapshot was recorded), nested repositories stored as gitlinks (their own uncommitted changes are not). */
  warnings: string[];
  /** Set when ckpt's private index named missing objects and was rebuilt (also in `warnings`). */
  rebuilt?: string;
}

/**
 * Takes a snapshot of `repo`'s worktree under its worktree lock.
 *
 * @param lock how long to wait for the worktree lock (default 10 s).
 * @returns the new snapshot, or the previous one with `created: false` when the
 *   worktree, HEAD and the user's index are unchanged (unless `input.force`).
 * @throws CkptError `LOCKED`, `REF_RACE` (another process moved the ref, in
 *   each of {@link retryOnRefRace}'s tries), `GIT_FAILED` (git refused to read the worktree: a nested repository with no
 *   commit), `FS_FAILED`.
 */
export async function takeSnapshot(repo: Repo, input: SnapshotInput, lock: LockOptions = {}): Promise<TakeResult> {
  return retryOnRefRace(() => withWorktreeLock(repo, () => takeSnapshotLocked(repo, input), lock));
}

/**
 * {@link takeSnapshot} for a caller that already holds the worktree lock
 * (rollback records its `pre-rollback` snapshot this way).
 *
 * @param internal `onlyPaths`: see {@link captureTree}; `capture`: reads the
 *   worktree's tree instead of `git add -A` (given the tip read under the
 *   lock; the daemon's in-process read, snapshot/incremental.ts).
 */
export async function takeSnapshotLocked(repo: Repo, input: SnapshotInput, internal: { onlyPaths?: readonly (string | Buffer)[]; capture?: (tip: Snapshot | null) => Promise<Capture> } = {}): Promise<TakeResult> {
  const { tip, head, headRef } = await readTip(repo);
  const { tree, notCaptured, rebuilt, changes, writer } = internal.capture ? await internal.capture(tip) : await captureTreeReporting(repo, internal.onlyPaths);
  const notes = rebuilt ? { rebuilt } : {};
  const leftOut = notCaptured.length > 0 ? leftOutWarnings(notCaptured, maxFileSize(repo)) : [];
  const idx = await indexCommit(repo, head);
  const newlyLeftOut = tip ? leftOutSince(tip, notCaptured) : [];
  const leftOutSame = tip !== null && newlyLeftOut.length === 0 && tip.notCapturedCount === notCaptured.length;
  if (tip && !input.force && tip.tree === tree && tip.head === head && tip.indexTree === idx.tree && leftOutSame) {
    return { snapshot: tip, created: false, warnings: [...(rebuilt ? [rebuilt] : []), ...leftOut], ...notes };
  }
  // A tool-named snapshot (a hook's) has its message already: no diff needed for a summary.
  const leftOutPaths = (): Set<string> => new Set(notCaptured.map((n) => n.path));
  let { summary, warnings } =
    (input.tool && !input.message) || internal.onlyPaths
      ? { summary: '', warnings: [] as string[] }
      : changes && tip
        ? summariseChanges(changes, tip.tree, leftOutPaths())
        : await describeChanges(repo, tree, tip?.tree ?? null, leftOutPaths());
  // The tree is the same but a file appeared that was left out (an untracked
  // file over the size cap, say): that is a change to record and to show.
  if (tip && tip.tree === tree && newlyLeftOut.length > 0 && summary === 'no changes') {
    summary = `not captured: ${newlyLeftOut.slice(0, 3).join(', ')}${newlyLeftOut.length > 3 ? ', …' : ''}`;
  }
  const time = Date.now();
  const record = {
    step: (tip?.step ?? 0) + 1,
    kind: input.kind,
    message: input.message ?? defaultMessage(input, summary),
    agent: input.agent ?? null,
    tool: input.tool ?? null,
    target: input.target ?? null,
    toolUseId: input.toolUseId ?? null,
    toolUseIds: input.toolUseIds ?? [],
    notCaptured,
    head,
    headRef,
    indexTree: idx.tree,
    time,
    worktree: repo.worktree,
    extra: input.extra ?? {},
  };
  const message = encodeMessage(record);
  const parents = tip ? [tip.id, idx.commit] : [idx.commit];
  // The tree's new objects (a reader's writer; git's capture wrote its own) and the commit written together, under
  // the ref's lock and in one fsync round with it: a commit written and fsynced first, then the ref, was two rounds
  // (a pre-rollback snapshot of a clean worktree: 1.5 ms of its 3.3 under load).
  const out = writer ?? new ObjectWriter(repo);
  const id = out.add('commit', commitContent(tree, parents, message, time));
  await updateRef(repo, id, tip?.id ?? null, `ckpt: ${record.kind} step ${record.step}`, { objects: () => out.flush() });
  const snapshot = decodeSnapshot({ id, tree, parents: tip ? [tip.id, idx.commit] : [idx.commit], message });
  if (!snapshot) throw new CkptError('INTERNAL', 'a snapshot just written could not be read back');
  return { snapshot, created: true, warnings: [...(rebuilt ? [rebuilt] : []), ...leftOut, ...warnings], ...notes };
}

/**
 * The paths left out now that `tip` did not leave out (by path and reason;
 * a left-out file that only changed size is not news). When `tip` lists only
 * some of its left-out paths (over NOT_CAPTURED_LISTED), only the count can
 * be compared, and the caller does that.
 */
function leftOutSince(tip: Snapshot, now: readonly NotCaptured[]): string[] {
  if (tip.notCaptured.length < tip.notCapturedCount) return [];
  const before = new Set(tip.notCaptured.map((n) => `${n.reason}\0${n.path}`));
  return now.filter((n) => !before.has(`${n.reason}\0${n.path}`)).map((n) => n.path);
}

function defaultMessage(input: SnapshotInput, summary: string): string {
  if (input.tool) return [input.kind, input.tool, input.target].filter(Boolean).join(' ');
  return summary;
}
