/**
 * The daemon as a rollback's reader (snapshot/reader.ts): the process
 * holding the worktree lock asks the repository's daemon for the worktree's
 * tree, which the daemon reads in process from the tip and its dirty set
 * after a sync point, so a rollback of a few files reads a few files, not
 * the whole worktree. No daemon, another version, a refusal (it was not
 * sure), a timeout: null, and the rollback reads with git.
 */
import type { NotCaptured } from '../core/types.js';
import type { Repo } from '../git/repo.js';
import type { WorktreeReader } from '../snapshot/reader.js';
import { heldLockToken } from '../snapshot/lock.js';
import { daemonRequest } from './daemon-client.js';

/** How long a read may take once connected, in ms (a sync point plus reading the changed paths; past it git reads instead). */
const READ_REPLY_MS = 20_000;

/**
 * A reader asking `repo`'s daemon, or null when `CKPT_NO_DAEMON=1`. It never
 * starts a daemon: one that is not running answers nothing, at the cost of
 * one failed connect.
 */
export function daemonReader(repo: Repo, env: NodeJS.ProcessEnv = process.env): WorktreeReader | null {
  if (env.CKPT_NO_DAEMON === '1') return null;
  return {
    name: 'daemon',
    async read(tip, only) {
      const token = heldLockToken(repo);
      if (!token) return null;
      const base = { tree: tip.tree, notCaptured: tip.notCaptured, notCapturedCount: tip.notCapturedCount };
      const r = await daemonRequest(repo.commonDir, 'read', { cwd: repo.worktree, token, base, ...(only ? { only: only.map((p) => p.toString('base64')) } : {}) }, { connectMs: 1000, replyMs: READ_REPLY_MS });
      if (!r?.ok || typeof r.tree !== 'string' || !Array.isArray(r.notCaptured)) return null;
      return { tree: r.tree, notCaptured: r.notCaptured as NotCaptured[] };
    },
  };
}
