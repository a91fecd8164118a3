/**
 * git's worktree administration of one repository (`git worktree add`,
 * `remove`, `prune`, `list`, `branch -D` of an attempt's branch), one at a
 * time across every ckpt process.
 *
 * `git worktree add` writes its entry `<common>/worktrees/<name>/` file by
 * file (`gitdir`, then `commondir`, then `HEAD`). Every git command that
 * lists the worktrees meanwhile (those above: each checks that no worktree
 * has the branch out) reads the half-made entry and dies, `failed to read
 * …/commondir` (git 2.39's `get_common_dir_noenv`), and a `prune` may
 * remove an entry before it is locked. The entry is half-made for
 * microseconds, much longer when its writer is descheduled on a loaded
 * machine: two races started together on one repository lost attempts so.
 * Git takes no lock of its own for this; ckpt's processes take
 * `<common>/ckpt/worktrees.lock` (git/store.ts `withStoreLock`), and within
 * one process they queue first (a process's own attempts do not poll the
 * lock file against each other). The user's own `git worktree` or
 * `git checkout` at the same moment can still meet one of ckpt's entries
 * half-made: git gives no way to prevent that.
 */
import { withStoreLock } from './store.js';
import type { Repo } from './repo.js';

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
