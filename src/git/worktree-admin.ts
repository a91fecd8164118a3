/**
 * git's worktree administration of one repository (`git worktree add`,
 * `prune`, `list`, `branch -D` of an attempt's branch), one at a time across
 * every ckpt process. No files are deleted under it (race/remove-worktree.ts
 * deletes a removed worktree's files after, under no lock).
 *
 * `git worktree add` writes its entry `<common>/worktrees/<name>/` file by
 * file (git 2.39 builtin/worktree.c `add_worktree`): the directory, a
 * `locked` file ("initializing"), `gitdir`, the worktree's `.git`, `HEAD`,
 * then `commondir`; `locked` is removed once the worktree is set up. Every
 * git command that lists the worktrees meanwhile (those above: each checks
 * that no worktree has the branch out) and meets `commondir` made but still
 * empty dies, `failed to read …/commondir` (setup.c `get_common_dir_noenv`:
 * a missing `commondir` is read as none, only an empty one is fatal).
 * `prune` never removes a locked entry; only in the instant between the
 * entry's mkdir and its `locked` file could it take the entry (no `gitdir`
 * yet), failing that add. The entry is half-made for
 * microseconds, much longer when its writer is descheduled on a loaded
 * machine: two races started together on one repository lost attempts so.
 * Git takes no lock of its own for this; ckpt's processes take
 * `<common>/ckpt/worktrees.lock` (git/store.ts `withStoreLock`), and within
 * one process they queue first (a process's own attempts do not poll the
 * lock file against each other). The user's own `git worktree` or
 * `git checkout` at the same moment can still meet one of ckpt's entries
 * half-made: git gives no way to prevent that.
 *
 * A command that only lists the worktrees (`ckpt status`, `ckpt agents`)
 * takes no lock: it must write nothing and work on a read-only `.git`, and
 * the lock file is a write (its directory created, the file made and
 * removed). It lists with {@link listWorktreesReading}, which retries the
 * listing on git's failure at a half-made entry, the one failure the lock
 * would have spared it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isCkptError } from '../core/errors.js';
import { git, type GitResult } from './exec.js';
import { withStoreLock } from './store.js';
import type { Repo } from './repo.js';
import { realEnv } from './shadow.js';

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` (git commands that make, remove or list `repo`'s worktrees)
 * after every such `fn` started before it in this process, holding the
 * repository's worktree lock (waiting up to 60 s for another process's).
 *
 * @throws CkptError `LOCKED` (another process held the lock 60 s),
 *   `FS_FAILED` (the lock cannot be written); whatever `fn` throws.
 */
export function worktreeAdmin<T>(repo: Repo, fn: () => Promise<T>): Promise<T> {
  const locked = (): Promise<T> => withStoreLock(repo, 'worktrees', fn);
  const prev = queues.get(repo.commonDir) ?? Promise.resolve();
  const next = prev.then(locked, locked);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(repo.commonDir, settled);
  void settled.then(() => {
    if (queues.get(repo.commonDir) === settled) queues.delete(repo.commonDir);
  });
  return next;
}

/** Pauses before each retry of a listing that met a half-made entry, in ms (about 1.5 s in all). */
const LIST_BACKOFF_MS = [10, 20, 40, 80, 160, 320, 400, 400];

/**
 * `git worktree list --porcelain [-z]` of `repo`, without the worktree lock
 * and writing nothing, for commands that only read. git dies when it reads
 * an entry another process's `git worktree add` is still writing: its
 * `commondir` made but still empty (`fatal: failed to read
 * …/worktrees/<name>/commondir`, git 2.39 `get_common_dir_noenv`; the
 * pattern also takes `…/gitdir`, which git 2.39 reads as no worktree when
 * empty, without failing); that failure, and only that
 * one, is retried after a short pause ({@link LIST_BACKOFF_MS}), since the
 * entry is complete moments later.
 *
 * @param nul `-z`: NUL-terminated fields.
 * @param pause waits the given ms before a retry (a test's hook: it makes the entry whole there).
 * @throws CkptError `GIT_FAILED` or `FS_FAILED` (another failure, or an entry still
 *   half-made after every retry: a writer killed mid-add leaves one until
 *   `git worktree prune`).
 */
export async function listWorktreesReading(repo: Repo, nul = false, pause: (ms: number) => Promise<unknown> = sleep): Promise<GitResult> {
  const args = ['worktree', 'list', '--porcelain', ...(nul ? ['-z'] : [])];
  for (let attempt = 0; ; attempt++) {
    try {
      return await git(args, { cwd: repo.worktree, env: realEnv(repo) });
    } catch (err) {
      const ms = LIST_BACKOFF_MS[attempt];
      if (ms === undefined || !halfMadeEntry(err)) throw err;
      await pause(ms);
    }
  }
}

/** Whether `err` is git dying at a worktree entry it could not read whole. */
function halfMadeEntry(err: unknown): boolean {
  if (!isCkptError(err) || (err.code !== 'GIT_FAILED' && err.code !== 'FS_FAILED')) return false;
  const stderr = err.data.stderr;
  const text = typeof stderr === 'string' ? stderr : err.message;
  return /failed to read .*worktrees\/[^\n]*\/(commondir|gitdir)\b/.test(text);
}
