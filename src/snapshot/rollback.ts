/**
 * Rollback: choose the snapshot the user names (a step, `-N`, an id, a time,
 * `--undo`, or by default the state before the last agent step) and restore
 * it (snapshot/restore.ts does the work, recording first what it replaces,
 * so the rollback itself can be undone). An interrupted rollback is ended
 * first (snapshot/restore/recover.ts), except by a dry run, which only says
 * what ending it would change. When the target was taken on another
 * branch or HEAD, the result says so.
 */
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import type { Repo } from '../git/repo.js';
import { rollbackPathsOf } from './format.js';
import { withWorktreeLock } from './lock.js';
import type { WorktreeReader } from './reader.js';
import { restoreTree, type FileChange, type RestoreResult } from './restore.js';
import { pendingInterrupted, recoverInterrupted } from './restore/recover.js';
import { listSteps, noSnapshots, readSnapshot, resolveSnapshot, resolveTime } from './store.js';
import { readTip } from './take.js';

export type { FileChange } from './restore.js';

/** Options for {@link rollback}. */
export interface RollbackOptions {
  /** Step number, `-N`, or snapshot id (see resolveSnapshot). Default: undo the last agent step. */
  target?: string;
  /** A time instead of a target: `10 minutes ago`, an ISO date. */
  to?: string;
  /** Undo the most recent rollback (restore its `pre-rollback` snapshot). */
  undo?: boolean;
  /** Repository-relative paths (literal, directories match what is under them; `.` is the whole tree). Default: the whole tree. */
  paths?: string[];
  /** Plan and check only; change nothing and record nothing. */
  dryRun?: boolean;
  /** Agent to record on the pre-rollback snapshot. */
  reason?: string;
  /**
   * Reads the worktree from the paths changed since the tip instead of git's
   * full read (the daemon's: watch/daemon-reader.ts); null or absent: git.
   * Falls back to git whenever it cannot answer.
   */
  reader?: WorktreeReader | null;
}

/** An interrupted rollback a dry run found pending (see {@link RollbackResult.interrupted}). */
export interface PendingInterrupted {
  /** What it was (`rollback to step 3`). */
  label: string;
  /** What the real command does first: `finish` it, or `undo` it (put back the state before it). */
  action: 'finish' | 'undo';
  /** What that would change. */
  changes: FileChange[];
}

/** HEAD and branch when the target was taken, against now (see {@link RollbackResult.otherHead}). */
export interface HeadDifference {
  /** HEAD commit id when the target was taken (null: no commit yet). */
  targetHead: string | null;
  /** Branch when the target was taken (`refs/heads/a`), null when detached. */
  targetBranch: string | null;
  /** HEAD commit id now. */
  head: string | null;
  /** Branch now, null when detached. */
  branch: string | null;
}

/** What {@link rollback} did (or would do, with `dryRun`). */
export interface RollbackResult extends RestoreResult {
  /** The snapshot restored. */
  target: Snapshot;
  /** True when an interrupted rollback was ended first (finished, or with `--undo` put back). */
  recovered: boolean;
  /**
   * Dry run only: the interrupted rollback (its journal is there) that the
   * real command would end first, left as it is; null when none or not a dry
   * run. With `--undo`, ending it is the whole command: `changes` is then
   * this result's own `changes`.
   */
  interrupted: PendingInterrupted | null;
  /** Set when the target was taken on another branch or another HEAD commit than the current one: its files now sit on this HEAD. */
  otherHead: HeadDifference | null;
  /** Lines the CLI prints as warnings (the other branch, paths left alone). */
  warnings: string[];
}

/**
 * Restores `repo`'s worktree, or `opts.paths` of it, to a snapshot.
 *
 * @throws CkptError `NO_SNAPSHOTS`, `SNAPSHOT_NOT_FOUND`, `NOTHING_TO_UNDO`,
 *   `INVALID_DURATION`, `INVALID_ARGUMENT` (a path outside the worktree),
 *   `PATH_NOT_FOUND` (a path in neither tree), `HOSTILE_TREE`,
 *   `ROLLBACK_WOULD_CLOBBER` (data: paths; nothing changed), `LOCKED`,
 *   `REF_RACE`, `FS_FAILED` (data: path; what was changed is put back first;
 *   what could not be, the next rollback puts back automatically).
 */
export async function rollback(repo: Repo, opts: RollbackOptions = {}): Promise<RollbackResult> {
  return withWorktreeLock(repo, async () => {
    let interrupted: PendingInterrupted | null = null;
    let rec: Awaited<ReturnType<typeof recoverInterrupted>> = null;
    if (opts.dryRun) {
      // A dry run never ends an interrupted rollback: it says what the real command would do first.
      const pending = await pendingInterrupted(repo, opts.undo ? 'undo' : 'finish');
      if (pending) interrupted = { label: pending.label, action: pending.action, changes: pending.result.changes };
      if (pending && opts.undo) {
        const target = (await readSnapshot(repo, pending.undoSnapshot))!;
        return finish(repo, target, pending.result, false, interrupted);
      }
    } else {
      rec = await recoverInterrupted(repo, opts.undo ? 'undo' : 'finish');
      if (rec && rec.undone && opts.undo) {
        // `--undo` of a rollback that was interrupted: putting back its pre-rollback state was the undo.
        const target = (await readSnapshot(repo, rec.undoSnapshot))!;
        return finish(repo, target, rec.result, true);
      }
    }
    const { target, paths } = await chooseTarget(repo, opts);
    const scope = paths ? paths : null;
    const res = await restoreTree(repo, target.tree, {
      label: opts.undo ? `undo of the rollback recorded in step ${target.step}` : `rollback to step ${target.step}`,
      resultMessage: opts.undo ? `undid the rollback recorded in step ${target.step}` : `rolled back to step ${target.step}`,
      paths: scope,
      dryRun: !!opts.dryRun,
      agent: opts.reason ?? 'ckpt',
      target: target.id,
      reader: opts.reader ?? null,
    });
    return finish(repo, target, res, !!rec, interrupted);
  });
}

async function finish(repo: Repo, target: Snapshot, res: RestoreResult, recovered: boolean, interrupted: PendingInterrupted | null = null): Promise<RollbackResult> {
  const { head, headRef } = await readTip(repo);
  const warnings: string[] = [];
  let otherHead: HeadDifference | null = null;
  if (target.head !== head || target.headRef !== headRef) {
    otherHead = { targetHead: target.head, targetBranch: target.headRef, head, branch: headRef };
    const name = (ref: string | null, oid: string | null): string => `${ref ? `branch ${ref.replace(/^refs\/heads\//, '')}` : 'a detached HEAD'} (${oid ? oid.slice(0, 10) : 'no commit'})`;
    const what = target.headRef !== headRef ? 'on another branch' : 'at another HEAD commit';
    warnings.push(`step ${target.step} was taken ${what}: ${name(target.headRef, target.head)}; you are on ${name(headRef, head)}. Its files now sit on this HEAD: \`git commit -a\` would record them here.`);
  }
  for (const l of res.leftAlone) warnings.push(`left as it is: ${l}`);
  if (res.recordedDuring.length > 0) warnings.push(`changed while the rollback ran, recorded first (step ${res.preRollback?.step}, \`ckpt rollback --undo\` brings them back): ${res.recordedDuring.join(', ')}`);
  return { ...res, target, recovered, interrupted, otherHead, warnings };
}

async function chooseTarget(repo: Repo, opts: RollbackOptions): Promise<{ target: Snapshot; paths: string[] | null }> {
  const paths = normalizePaths(opts.paths);
  if (opts.undo) {
    const steps = await listSteps(repo, { stats: false });
    const last = steps.find((s) => s.kind === 'pre-rollback');
    if (!last) throw new CkptError('NOTHING_TO_UNDO', 'no rollback to undo in this worktree', { hint: 'See the steps with `ckpt log`.' });
    return { target: last, paths: paths ?? rollbackPathsOf(last) };
  }
  if (opts.to) return { target: await resolveTime(repo, opts.to), paths };
  if (opts.target) return { target: await resolveSnapshot(repo, opts.target), paths };
  // No target: undo the last agent step, i.e. restore the snapshot before it.
  const steps = await listSteps(repo, { stats: false });
  if (steps.length === 0) throw noSnapshots(repo);
  const idx = steps.findIndex((s) => (s.kind === 'after' || s.kind === 'auto' || s.kind === 'manual') && s.agent !== 'ckpt');
  const before = idx >= 0 ? steps[idx + 1] : undefined;
  if (!before) throw new CkptError('NOTHING_TO_UNDO', 'no agent step with a snapshot before it', { hint: 'Name a step: `ckpt rollback <step>` (see `ckpt log`).' });
  return { target: before, paths };
}

/** Repository-relative paths, normalised; null for the whole tree (none given, or one of them is `.`). */
function normalizePaths(given: string[] | undefined): string[] | null {
  if (!given || given.length === 0) return null;
  const out = given.map((p) => normalizeRel(p));
  return out.includes('.') ? null : out;
}

function normalizeRel(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (norm === '' || norm === '.') return '.';
  if (norm.startsWith('../') || norm === '..' || path.posix.isAbsolute(norm)) {
    throw new CkptError('INVALID_ARGUMENT', `path outside the worktree: ${JSON.stringify(p)}`, { hint: 'Give paths inside the worktree.' });
  }
  return norm;
}
