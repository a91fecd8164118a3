/**
 * One lock per worktree, so a watcher, agent hooks and a rollback on the same
 * worktree take turns (reliability note 18). The lock is a directory created
 * atomically by proper-lockfile; a lock whose holder died is taken over once
 * it is stale (its mtime, refreshed while held, is older than `staleMs`).
 */
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';

/** Options for {@link withWorktreeLock}. */
export interface LockOptions {
  /** Give up after about this many ms of waiting. Default 10000. */
  waitMs?: number;
  /** A held lock not refreshed for this long is considered abandoned. Default 10000 ms. */
  staleMs?: number;
}

/**
 * Runs `fn` while holding `repo`'s worktree lock.
 *
 * @throws CkptError `LOCKED` when the lock stays held for `waitMs`; whatever `fn` throws.
 */
export async function withWorktreeLock<T>(repo: Repo, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  mkdirSync(repo.stateDir, { recursive: true });
  const waitMs = opts.waitMs ?? 10_000;
  const staleMs = opts.staleMs ?? 10_000;
  const lockPath = path.join(repo.stateDir, 'lock');
  const retries = Math.max(1, Math.ceil(waitMs / 50));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(repo.stateDir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 2)),
      retries: { retries, factor: 1.2, minTimeout: 10, maxTimeout: 100, randomize: true },
      onCompromised: () => {
        // Our lock was taken over (we were stalled past staleMs). Keep going:
        // ref updates carry an expected old value, so a lost race fails cleanly.
      },
    });
  } catch (err) {
    throw new CkptError('LOCKED', `another ckpt process is working on ${repo.worktree}`, {
      cause: err,
      hint: `Wait for it to finish. If no ckpt process is running, the lock ${lockPath} is released automatically after ${Math.round(staleMs / 1000)} s.`,
      data: { lock: lockPath },
    });
  }
  try {
    // A private index lock left by a git killed mid-write can only be ours
    // (the private index is used under this lock alone), so it is stale.
    const indexLock = path.join(repo.stateDir, 'index.lock');
    if (existsSync(indexLock)) rmSync(indexLock, { force: true });
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
