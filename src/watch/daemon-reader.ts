/**
 * The daemon as a rollback's reader (snapshot/reader.ts): the process
 * holding the worktree lock asks the repository's daemon for the worktree's
 * tree, which the daemon reads in process from the tip and its dirty set
 * after a sync point, so a rollback of a few files reads a few files, not
 * the whole worktree; and the plan's tree diff, from the daemon's trees. No daemon, another version, a refusal (it was not
 * sure), a timeout: null, and the rollback reads with git.
 */
import type { NotCaptured } from '../core/types.js';
import type { ChangeStatus, TreeChange } from '../git/tree-diff.js';
import type { Repo } from '../git/repo.js';
import type { WorktreeReader } from '../snapshot/reader.js';
import { heldLockToken } from '../snapshot/lock.js';
import { daemonRequest } from './daemon-client.js';
import { daemonWanted } from './daemon-paths.js';

/** How long a read may take once connected, in ms (a sync point plus reading the changed paths; past it git reads instead). */
const READ_REPLY_MS = 20_000;

/** A reader asking the daemon, and whether a request of it found no daemon to answer. */
export type DaemonReader = WorktreeReader & {
  /** True once a read found no daemon answering (none runs, a stale socket, a timeout): the caller may start one for the next time. */
  unanswered: boolean;
};

/**
 * A reader asking `repo`'s daemon, or null when the daemon is not wanted
 * (`CKPT_NO_DAEMON=1`, `CKPT_DAEMON=0`, `ckpt.daemon = false`:
 * daemon-paths.ts daemonWanted). It never starts a daemon: one that is not
 * running answers nothing, at the cost of one failed connect, and says so
 * (`unanswered`).
 */
export function daemonReader(repo: Repo, env: NodeJS.ProcessEnv = process.env): DaemonReader | null {
  if (!daemonWanted(repo.commonDir, env)) return null;
  const reader: DaemonReader = {
    name: 'daemon',
    unanswered: false,
    async read(tip, only) {
      const token = heldLockToken(repo);
      if (!token) return null;
      const base = { tree: tip.tree, notCaptured: tip.notCaptured, notCapturedCount: tip.notCapturedCount };
      const r = await daemonRequest(repo.commonDir, 'read', { cwd: repo.worktree, token, base, ...(only ? { only: only.map((p) => p.toString('base64')) } : {}) }, { connectMs: 1000, replyMs: READ_REPLY_MS });
      if (r === null) reader.unanswered = true;
      if (!r?.ok || typeof r.tree !== 'string' || !Array.isArray(r.notCaptured)) return null;
      const changes = parseChanges(r.changes);
      return { tree: r.tree, notCaptured: r.notCaptured as NotCaptured[], ...(changes ? { changes } : {}) };
    },
    async diff(from, to) {
      const r = await daemonRequest(repo.commonDir, 'diff', { cwd: repo.worktree, from, to }, { connectMs: 1000, replyMs: READ_REPLY_MS });
      return (r?.ok && parseChanges(r.changes)) || null;
    },
  };
  return reader;
}

/** The changes of a read's reply (`rel` in base64), or undefined when any entry is malformed (the snapshot then diffs the trees itself). */
function parseChanges(v: unknown): TreeChange[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: TreeChange[] = [];
  const mode = /^[0-7]{6}$/;
  const oid = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
  for (const c of v as Record<string, unknown>[]) {
    if (!c || typeof c !== 'object' || typeof c.rel !== 'string' || typeof c.srcMode !== 'string' || typeof c.dstMode !== 'string' || typeof c.srcOid !== 'string' || typeof c.dstOid !== 'string' || typeof c.status !== 'string') return undefined;
    if (!mode.test(c.srcMode) || !mode.test(c.dstMode) || !oid.test(c.srcOid) || !oid.test(c.dstOid) || !['A', 'D', 'M', 'T'].includes(c.status)) return undefined;
    const rel = Buffer.from(c.rel, 'base64');
    out.push({ rel, path: rel.toString('utf8'), srcMode: c.srcMode, dstMode: c.dstMode, srcOid: c.srcOid, dstOid: c.dstOid, status: c.status as ChangeStatus });
  }
  return out;
}
