/**
 * Picking the winner of a race.
 *
 * - `apply` (default): the winner's changes (base → attempt) are applied to
 *   the user's worktree as uncommitted changes. First a `pre-rollback`
 *   checkpoint of the user's worktree is recorded, so `ckpt rollback --undo`
 *   takes the pick back. Refused (nothing changed) where a path the winner
 *   changed was also changed by the user since the base differently, or where
 *   an ignored or untracked file would be overwritten.
 * - `branch NAME`: a branch at a commit holding the attempt (on top of the
 *   base); the worktree is not touched.
 * - `merge` / `squash`: that commit merged (`git merge --no-ff`) or squashed
 *   (`git merge --squash` + commit) into the current branch, after a checkpoint;
 *   git refuses on its own where local changes would be overwritten.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError, isCkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { git, gitText } from '../git/exec.js';
import { openRepo, type Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { diffTrees, type TreeChange } from '../git/tree-diff.js';
import { TRAILER } from '../snapshot/format.js';
import { copyToRepository } from '../git/store.js';
import { withWorktreeLock } from '../snapshot/lock.js';
import { restoreTree, type FileChange } from '../snapshot/restore.js';
import { recoverInterrupted } from '../snapshot/restore/recover.js';
import { captureTree, takeSnapshotLocked } from '../snapshot/take.js';
import { attemptSnapshot, findAttempt } from './compare.js';
import { saveRace } from './store.js';
import type { RaceRecord } from './types.js';

/** How to take the winner. */
export type PickMode = { mode: 'apply' } | { mode: 'squash' } | { mode: 'merge' } | { mode: 'branch'; branch: string };

/** What {@link pickAttempt} did. */
export interface PickResult {
  race: string;
  attempt: string;
  mode: PickMode['mode'];
  /** Files changed in the user's worktree (apply). */
  changes: FileChange[];
  /** The checkpoint recorded before (undo with `ckpt rollback --undo` for apply). */
  preSnapshot: string | null;
  /** The commit holding the attempt (branch, merge, squash). */
  commit: string | null;
  /** The commit the merge or squash made on the current branch (HEAD after it); null for apply and branch. */
  merged: string | null;
  branch: string | null;
}

/**
 * Takes attempt `name` of `race` into the user's repository.
 *
 * @param dryRun plan and check only (apply mode).
 * @throws CkptError `ATTEMPT_NOT_FOUND`, `PICK_WOULD_CLOBBER` (data.paths),
 *   `INVALID_ARGUMENT` (bad branch name, branch exists, attempt has no changes),
 *   `LOCKED`, `GIT_FAILED` (git merge refused).
 */
export async function pickAttempt(race: RaceRecord, name: string, how: PickMode = { mode: 'apply' }, opts: { dryRun?: boolean; saveTo?: Repo } = {}): Promise<PickResult> {
  const attempt = findAttempt(race, name);
  const repo = await openRepo(race.worktree);
  const snap = await attemptSnapshot(repo, attempt);
  if (!snap) {
    throw new CkptError('INVALID_ARGUMENT', `attempt ${name} has no snapshot to pick`, { hint: 'It never started, or its worktree was removed before any snapshot.' });
  }
  let result: PickResult;
  if (how.mode === 'apply') result = await apply(repo, race, name, snap, !!opts.dryRun);
  else result = await viaCommit(repo, race, name, snap, how);
  if (!opts.dryRun) {
    race.picked = { attempt: name, mode: how.mode, at: Date.now(), preSnapshot: result.preSnapshot, branch: result.branch };
    saveRace(opts.saveTo ?? repo, race);
  }
  return result;
}

async function apply(repo: Repo, race: RaceRecord, name: string, winner: Snapshot, dryRun: boolean): Promise<PickResult> {
  return withWorktreeLock(repo, async () => {
    if (!dryRun) await recoverInterrupted(repo, 'finish');
    const changes = await diffTrees(repo, race.base.tree, winner.tree);
    if (changes.length === 0) {
      return { race: race.id, attempt: name, mode: 'apply' as const, changes: [], preSnapshot: null, commit: null, merged: null, branch: null };
    }
    // The user's state now: recorded first (kind pre-rollback: `ckpt rollback --undo` restores it).
    const label = `pick ${name} of race ${race.id}`;
    const preExtra = { [TRAILER.race]: race.id, [TRAILER.attempt]: name };
    const pre = dryRun
      ? null
      : (
          await takeSnapshotLocked(repo, {
            kind: 'pre-rollback',
            force: true,
            agent: 'race',
            message: `before ${label}`,
            extra: { [TRAILER.rollbackTarget]: winner.id, [TRAILER.rollbackPaths]: 'null', ...preExtra },
          })
        ).snapshot;
    const currentTree = pre ? pre.tree : await captureTree(repo);
    // Paths the user changed since the base, among those the winner changed.
    const paths = changes.map((e) => e.path);
    const userChanged = await diffTrees(repo, race.base.tree, currentTree, paths);
    const winnerBy = new Map(changes.map((e) => [e.path, e]));
    const conflicts: string[] = [];
    for (const u of userChanged) {
      const w = winnerBy.get(u.path);
      if (!w) continue;
      if (u.dstMode === w.dstMode && u.dstOid === w.dstOid) continue; // the same change: fine
      conflicts.push(u.srcMode === '000000' ? `${u.path} (untracked in your worktree, the attempt writes it too)` : `${u.path} (you changed it since the race started)`);
    }
    if (conflicts.length > 0) {
      throw new CkptError('PICK_WOULD_CLOBBER', `picking ${name} would overwrite your newer changes:\n  ${conflicts.join('\n  ')}`, {
        hint: 'Nothing was changed. Commit or move those changes aside, or take the attempt as a branch: `race pick ' + name + ' --branch NAME`.',
        data: { paths: conflicts },
      });
    }
    const target = await overlay(repo, currentTree, changes);
    try {
      const res = await restoreTree(repo, target, {
        label,
        resultMessage: `picked ${name} of race ${race.id}`,
        dryRun,
        agent: 'race',
        target: winner.id,
        preExtra,
        ...(pre ? { preRollback: pre } : {}),
      });
      return { race: race.id, attempt: name, mode: 'apply' as const, changes: res.changes, preSnapshot: res.preRollback?.id ?? pre?.id ?? null, commit: null, merged: null, branch: null };
    } catch (err) {
      if (isCkptError(err, 'ROLLBACK_WOULD_CLOBBER')) {
        throw new CkptError('PICK_WOULD_CLOBBER', err.message.replace('rollback refused', `picking ${name} refused`), { hint: err.hint ?? '', data: err.data, cause: err });
      }
      throw err;
    }
  });
}

/** The tree `base` with the given changes applied (deletions first). */
async function overlay(repo: Repo, baseTree: string, entries: TreeChange[]): Promise<string> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-pick-'));
  const env = shadowEnv(repo, path.join(tmp, 'index'));
  try {
    await git(['read-tree', baseTree], { cwd: repo.worktree, env });
    const zero = repo.zeroOid;
    const recs: Buffer[] = [];
    for (const e of entries) if (e.dstMode === '000000') recs.push(Buffer.from(`0 ${zero}\t`), e.rel, Buffer.from([0]));
    for (const e of entries) if (e.dstMode !== '000000') recs.push(Buffer.from(`${e.dstMode} ${e.dstOid}\t`), e.rel, Buffer.from([0]));
    await git(['update-index', '-z', '--index-info'], { cwd: repo.worktree, env, input: Buffer.concat(recs) });
    return await gitText(['write-tree'], { cwd: repo.worktree, env });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A commit holding the attempt: HEAD (or none) → the base state (if it differs) → the attempt. */
async function attemptCommit(repo: Repo, race: RaceRecord, name: string, winner: Snapshot): Promise<string> {
  const env = { ...realEnv(repo), GIT_INDEX_FILE: undefined };
  // The trees are in ckpt's store; the user's repository has no way to it: copy what it lacks.
  await copyToRepository(repo, [race.base.tree, winner.tree]);
  const ident = await identity(repo);
  let parent = race.base.head;
  if (parent) {
    const headTree = await gitText(['rev-parse', `${parent}^{tree}`], { cwd: repo.worktree, env });
    if (headTree !== race.base.tree) {
      parent = await gitText(['-c', 'commit.gpgSign=false', 'commit-tree', race.base.tree, '-p', parent, '-m', `race ${race.id}: base (uncommitted changes at the start)`], { cwd: repo.worktree, env: { ...env, ...ident } });
    }
  } else {
    parent = await gitText(['-c', 'commit.gpgSign=false', 'commit-tree', race.base.tree, '-m', `race ${race.id}: base`], { cwd: repo.worktree, env: { ...env, ...ident } });
  }
  const msg = `${oneLineTask(race.task)}\n\n${TRAILER.race}: ${race.id}\n${TRAILER.attempt}: ${name}\n`;
  return gitText(['-c', 'commit.gpgSign=false', 'commit-tree', winner.tree, '-p', parent, '-F', '-'], { cwd: repo.worktree, env: { ...env, ...ident }, input: msg });
}

async function viaCommit(repo: Repo, race: RaceRecord, name: string, winner: Snapshot, how: Exclude<PickMode, { mode: 'apply' }>): Promise<PickResult> {
  const commit = await attemptCommit(repo, race, name, winner);
  const env = realEnv(repo);
  if (how.mode === 'branch') {
    const check = await git(['check-ref-format', '--branch', how.branch], { cwd: repo.worktree, env, okCodes: [0, 1, 128] });
    if (check.exitCode !== 0 || how.branch.startsWith('-')) {
      throw new CkptError('INVALID_ARGUMENT', `not a valid branch name: ${JSON.stringify(how.branch)}`, { hint: 'See git-check-ref-format(1).' });
    }
    const res = await git(['update-ref', `refs/heads/${how.branch}`, commit, repo.zeroOid], { cwd: repo.worktree, env, okCodes: [0, 1, 128] });
    if (res.exitCode !== 0) throw new CkptError('INVALID_ARGUMENT', `branch ${how.branch} already exists`, { hint: 'Choose another name.' });
    return { race: race.id, attempt: name, mode: 'branch', changes: [], preSnapshot: null, commit, merged: null, branch: how.branch };
  }
  const pre = await withWorktreeLock(repo, () => takeSnapshotLocked(repo, { kind: 'manual', force: true, agent: 'race', message: `before ${how.mode} of ${name} (race ${race.id})` }));
  const ident = await identity(repo);
  if (how.mode === 'merge') {
    await git(['merge', '--no-ff', '--no-edit', '-m', `Merge ${name} of race ${race.id}: ${oneLineTask(race.task)}`, commit], { cwd: repo.worktree, env: { ...env, ...ident } });
  } else {
    await git(['merge', '--squash', commit], { cwd: repo.worktree, env: { ...env, ...ident } });
    await git(['commit', '-q', '--no-edit', '-m', `${oneLineTask(race.task)}\n\n${TRAILER.race}: ${race.id}\n${TRAILER.attempt}: ${name}`], { cwd: repo.worktree, env: { ...env, ...ident } });
  }
  const merged = await gitText(['rev-parse', '--verify', 'HEAD'], { cwd: repo.worktree, env });
  return { race: race.id, attempt: name, mode: how.mode, changes: [], preSnapshot: pre.snapshot.id, commit, merged, branch: null };
}

/** The user's identity if configured, else ckpt's (so commit-tree never fails for want of one). */
async function identity(repo: Repo): Promise<Record<string, string>> {
  const res = await git(['var', 'GIT_COMMITTER_IDENT'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 128] });
  if (res.exitCode === 0) return {};
  return { GIT_AUTHOR_NAME: 'ckpt', GIT_AUTHOR_EMAIL: 'ckpt@localhost', GIT_COMMITTER_NAME: 'ckpt', GIT_COMMITTER_EMAIL: 'ckpt@localhost' };
}

function oneLineTask(task: string): string {
  const line = task.replace(/\s+/g, ' ').trim();
  return line.length > 72 ? line.slice(0, 71) + '…' : line || 'race';
}
