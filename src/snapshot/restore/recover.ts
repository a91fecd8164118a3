/**
 * Recovery of a restore that did not end: killed (SIGKILL, power loss) or
 * failed part-way without being able to put everything back. Its journal is
 * still there; the next rollback (or race pick) first removes the temporary
 * files it left, records the live state, then either finishes it or, for
 * `--undo` and after a failure, puts back the state before it.
 */
import { CkptError } from '../../core/errors.js';
import type { Repo } from '../../git/repo.js';
import { readSnapshot } from '../store.js';
import { restoreTree, type RestoreResult } from '../restore.js';
import { readJournal, removeJournal, removeLeftovers, type Journal } from './journal.js';

/** What {@link recoverInterrupted} did. */
export interface Recovery {
  /** True when it put back the state before the interrupted restore; false when it finished it. */
  undone: boolean;
  /** The snapshot holding the state before the interrupted restore. */
  undoSnapshot: string;
  /** What the interrupted restore was (`rollback to step 3`). */
  label: string;
  result: RestoreResult;
}

/**
 * Ends an interrupted restore, if its journal is there. The caller holds the
 * worktree lock.
 *
 * @param want `finish`: bring the worktree to the interrupted restore's
 *   target (unless it had failed: then put back); `undo`: put back the state
 *   before it, byte for byte.
 * @returns null when there was nothing to recover (also when the journal
 *   says the restore was stopped before it recorded, so changed, anything:
 *   the journal is then removed).
 * @throws as {@link restoreTree}; `NOTHING_TO_UNDO` for `undo` of a restore
 *   stopped before it changed anything (its journal removed); `SNAPSHOT_NOT_FOUND` when a first-version journal names a snapshot that is gone.
 */
export async function recoverInterrupted(repo: Repo, want: 'finish' | 'undo'): Promise<Recovery | null> {
  const j = await readInterrupted(repo);
  if (!j) return null;
  if (j.recorded === false) {
    // Stopped before it recorded anything, so before it changed any byte.
    removeJournal(repo);
    if (want === 'undo') throw stoppedBeforeChange(j, true);
    return null;
  }
  // ckpt's temporary files go first: they must never be recorded.
  removeLeftovers(repo, j.writes);
  const undo = want === 'undo' || !!j.failed;
  const result = await restoreTree(repo, undo ? j.undoTo.tree : j.tree, recoveryOptions(j, undo));
  removeJournal(repo);
  return { undone: undo, undoSnapshot: j.undoTo.snapshot, label: j.label, result };
}

/** What {@link pendingInterrupted} finds. */
export interface PendingRecovery {
  /** What the interrupted restore was (`rollback to step 3`). */
  label: string;
  /** What the next real command does first: `finish` it, or `undo` it (put back the state before it; also after a failure). */
  action: 'finish' | 'undo';
  /** The snapshot holding the state before the interrupted restore. */
  undoSnapshot: string;
  /** What that first part would change (planned only: nothing was changed). */
  result: RestoreResult;
}

/**
 * For a dry run: the interrupted restore that a real run would end first, and
 * what ending it would change, without changing anything (no leftover is
 * removed, nothing is recorded). The caller holds the worktree lock.
 *
 * @returns null when no journal is there.
 * @throws as {@link recoverInterrupted}.
 */
export async function pendingInterrupted(repo: Repo, want: 'finish' | 'undo'): Promise<PendingRecovery | null> {
  const j = await readInterrupted(repo);
  if (!j) return null;
  if (j.recorded === false) {
    if (want === 'undo') throw stoppedBeforeChange(j, false);
    return null;
  }
  const undo = want === 'undo' || !!j.failed;
  const result = await restoreTree(repo, undo ? j.undoTo.tree : j.tree, { ...recoveryOptions(j, undo), dryRun: true });
  return { label: j.label, action: undo ? 'undo' : 'finish', undoSnapshot: j.undoTo.snapshot, result };
}

/** `--undo` of a restore stopped before it changed anything: refused, naming it, so an older rollback is never undone instead. */
function stoppedBeforeChange(j: Journal, dropped: boolean): CkptError {
  return new CkptError('NOTHING_TO_UNDO', `the last ${j.label} was stopped before it changed anything: nothing to undo`, {
    hint: `Nothing was changed.${dropped ? ' Its journal is removed: `ckpt rollback --undo` again undoes the rollback before it.' : ' The real `ckpt rollback --undo` says so too and removes its journal.'}`,
  });
}

function recoveryOptions(j: Journal, undo: boolean): Parameters<typeof restoreTree>[2] {
  return {
    label: undo ? `undo of the interrupted ${j.label}` : `the interrupted ${j.label}`,
    resultMessage: undo ? `put back the state before the interrupted ${j.label}` : `finished the interrupted ${j.label}`,
    paths: j.paths,
    target: undo ? j.undoTo.snapshot : j.target,
    undoTo: j.undoTo,
  };
}

/** The journal of an interrupted restore, a first-version one converted; null when none. */
async function readInterrupted(repo: Repo): Promise<Journal | null> {
  const raw = readJournal(repo);
  if (!raw) return null;
  let j: Journal;
  if (raw.version === 1) {
    const [target, pre] = [await readSnapshot(repo, raw.target), await readSnapshot(repo, raw.preRollback)];
    if (!target || !pre) {
      throw new CkptError('SNAPSHOT_NOT_FOUND', 'an interrupted rollback names a snapshot that no longer exists', {
        hint: `Its journal is ${repo.stateDir}/journal.json; the worktree may be half rolled back. Inspect with \`ckpt diff\`, then remove the journal.`,
      });
    }
    j = { version: 2, label: `rollback to step ${target.step}`, tree: target.tree, target: target.id, preRollback: pre.id, undoTo: { tree: pre.tree, snapshot: pre.id }, paths: raw.paths, writes: [], startedAt: 0 };
  } else j = raw;
  return j;
}
