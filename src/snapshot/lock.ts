/**
 * One lock per worktree, so a watcher, agent hooks and a rollback on the same
 * worktree take turns (test: snapshot.test.ts "serialises concurrent
 * snapshotters"): `<stateDir>/lock`, a {@link acquireOwnedLock} lock file that
 * names its holder from the moment it exists.
 *
 * When a lock whose holder is gone is taken over (docs/architecture.md,
 * "Concurrency", and docs/cli.md `LOCKED` say the same):
 * - **at once** when its record names a process of this host and PID
 *   namespace that no longer exists (or a reused pid): a holder killed with
 *   SIGKILL at any moment, even while taking or releasing the lock, cannot
 *   make every hook meanwhile wait (tests: cli.test.ts "a lock left by a
 *   killed ckpt process is taken over at once", crash.test.ts "a lock whose
 *   holder is killed at any moment…").
 * - **after `staleMs`** (10 s) without refresh in every other case: another
 *   host or PID namespace, a holder alive but stalled.
 */
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { CkptError, fsFailure, isCkptError } from '../core/errors.js';
import { acquireOwnedLock, isHeld, readLockOwner } from '../core/owned-lock.js';
import type { Repo } from '../git/repo.js';
import { shadowObjectsDir } from '../git/shadow.js';
import { placePooled } from '../git/temp-pool.js';

export { currentPidNamespace, processGone } from '../core/owned-lock.js';

/** Options for {@link withWorktreeLock}. */
export interface LockOptions {
  /** Give up after about this many ms of waiting (0: one try). Default 10000. */
  waitMs?: number;
  /** A held lock not refreshed for this long is considered abandoned. Default 10000 ms. */
  staleMs?: number;
}

/**
 * Runs `fn` while holding `repo`'s worktree lock.
 *
 * @throws CkptError `LOCKED` when the lock stays held for `waitMs`; `FS_FAILED`
 *   when the lock cannot be written (permissions, full disk); whatever `fn` throws.
 */
export async function withWorktreeLock<T>(repo: Repo, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  mkdirSync(repo.stateDir, { recursive: true });
  const staleMs = opts.staleMs ?? 10_000;
  const lockPath = path.join(repo.stateDir, 'lock');
  let lock;
  try {
    // A lost lock (this process stalled past staleMs) is not fatal: ref
    // updates carry an expected old value, so a lost race fails cleanly.
    // In the daemon, the record is a ready file of its pool renamed into place (no file created on a step's path).
    const objects = shadowObjectsDir(repo);
    lock = await acquireOwnedLock(lockPath, { waitMs: opts.waitMs ?? 10_000, staleMs, placeRecord: (file, record) => placePooled(objects, file, record, 0o644) });
  } catch (err) {
    throw fsFailure(err, 'take the worktree lock', lockPath);
  }
  if (!isHeld(lock)) {
    const who = lock.holder ? ` (pid ${lock.holder.pid}${lock.holder.host === hostname() ? '' : ` on ${lock.holder.host}`})` : '';
    throw new CkptError('LOCKED', `another ckpt process${who} is working on ${repo.worktree}`, {
      hint: `Wait for it to finish. A lock whose holder is gone is taken over at once when it names a process of this machine, else after ${Math.round(staleMs / 1000)} s without refresh (${lockPath}).`,
      data: { lock: lockPath, pid: lock.holder?.pid ?? null },
    });
  }
  try {
    // The owner record an older ckpt wrote beside its lock directory.
    rmSync(path.join(repo.stateDir, 'lock-owner'), { force: true });
    // A private index lock left by a git killed mid-write can only be ours
    // (the private index is used under this lock alone), so it is stale.
    const indexLock = path.join(repo.stateDir, 'index.lock');
    if (existsSync(indexLock)) rmSync(indexLock, { force: true });
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * The token of the worktree lock this process holds on `repo` (from the
 * lock's owner record), or null when it holds none. A process that does
 * work for the holder (the daemon reading the worktree for a rollback) is
 * handed the token and checks it with {@link lockHeldWith}.
 */
export function heldLockToken(repo: Repo): string | null {
  const o = readLockOwner(path.join(repo.stateDir, 'lock'));
  return o && o.pid === process.pid && o.host === hostname() ? o.token : null;
}

/** True when `repo`'s worktree lock is held with `token` (see {@link heldLockToken}). */
export function lockHeldWith(repo: Repo, token: string): boolean {
  return token !== '' && readLockOwner(path.join(repo.stateDir, 'lock'))?.token === token;
}

/** How many times {@link retryOnRefRace} runs a snapshot that lost a race on its ref. */
export const REF_RACE_TRIES = 3;

/**
 * Runs `attempt` (one snapshot, taking the worktree lock itself) again when
 * it failed with `REF_RACE`: the ref moved between the snapshot's read of
 * the tip and its compare-and-swap, which under the worktree lock means its
 * lock was taken over (this process stalled past the stale time) and
 * another process recorded meanwhile. Nothing was written then (the swap is
 * all or nothing), and a snapshot records the worktree as it is, so taking it
 * again, under the lock again, is always right: a race ckpt resolves itself
 * is never the user's error.
 *
 * @param tries at most this many runs ({@link REF_RACE_TRIES}).
 * @throws what `attempt` throws; `REF_RACE` only when every run lost.
 */
export async function retryOnRefRace<T>(attempt: () => Promise<T>, tries = REF_RACE_TRIES): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= tries || !isCkptError(err, 'REF_RACE')) throw err;
    }
  }
}
