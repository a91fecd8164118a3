/**
 * `race clean`: removing a race's worktrees and branches; its snapshots stay
 * until `ckpt gc`. A worktree is removed only once its live state is in a
 * snapshot (remove-worktree.ts); what changed there after the race is kept in
 * that snapshot, which `race pick` of the attempt then takes.
 */
import { CkptError } from '../core/errors.js';
import { git } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { worktreeAdmin } from '../git/worktree-admin.js';
import { adoptBorrowedReport } from '../snapshot/chains.js';
import { countChanges } from './progress.js';
import { removeAttemptWorktree, type RemoveOptions, type WorktreeRemoval } from './remove-worktree.js';
import { saveRace } from './store.js';
import type { RaceRecord } from './types.js';
import { counted } from '../core/plural.js';

/** What {@link cleanRace} did, attempt by attempt. */
export interface CleanResult {
  race: string;
  attempts: WorktreeRemoval[];
}

/**
 * Runs the race's teardown in each attempt (a failing one keeps that
 * worktree), then removes its worktrees and branches, each only after recording and
 * checking its live state; keeps (and says why) those it could not record.
 * Paths changed after the race are reported and the attempt's `final`
 * becomes the snapshot holding them. The record is saved; `race.cleaned` is
 * true once every worktree is gone.
 *
 * Never throws for one attempt; see {@link cleanRefusal} for the error the
 * CLI reports when a worktree was kept.
 */
export async function cleanRace(repo: Repo, race: RaceRecord, o: RemoveOptions = {}): Promise<CleanResult> {
  const attempts: WorktreeRemoval[] = [];
  for (const a of race.attempts) {
    const res = await removeAttemptWorktree(repo, race, a, { teardown: true, ...o });
    attempts.push(res);
    if (res.kept.length > 0 && res.snapshot && res.tree) {
      await countChanges(repo, race, a, res.tree);
      race.warnings.push(`race clean recorded ${counted(res.kept.length, 'path')} changed in ${a.name} after the race, in snapshot ${res.snapshot.slice(0, 10)}: ${res.kept.slice(0, 5).join(', ')}${res.kept.length > 5 ? ', …' : ''}`);
    }
  }
  race.cleaned = attempts.every((x) => x.removed);
  // The attempts' branches are gone: what their snapshots borrowed through them is copied into ckpt's store.
  race.warnings.push(...(await adoptBorrowedReport(repo)));
  saveRace(repo, race);
  await worktreeAdmin(repo, () => git(['worktree', 'prune'], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_WORK_TREE: undefined }, okCodes: [0, 128] }));
  return { race: race.id, attempts };
}

/**
 * The error for a clean that kept worktrees (`WORKTREE_KEPT`, each with its
 * reason in the message, `data.kept` and the whole result in `data.attempts`), or null when every one was removed.
 */
export function cleanRefusal(res: CleanResult): CkptError | null {
  const kept = res.attempts.filter((x) => !x.removed);
  if (kept.length === 0) return null;
  return new CkptError('WORKTREE_KEPT', `kept ${counted(kept.length, 'worktree')} of race ${res.race} whose live state is not in a snapshot:\n  ${kept.map((x) => `${x.attempt} (${x.dir}): ${x.reason}`).join('\n  ')}`, {
    hint: 'Nothing in them was removed. Fix the cause (wait for the process holding the lock, say) and run `race clean` again.',
    data: { race: res.race, kept: kept.map((x) => ({ attempt: x.attempt, dir: x.dir, reason: x.reason })), attempts: res.attempts },
  });
}
