/**
 * The tip of a worktree's chain: reading it (with HEAD) and moving it. Every
 * read and write of the snapshot ref goes through this module. The ref and
 * its objects are in ckpt's store (the shadow git dir, git/shadow.ts); HEAD
 * is the user's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { readLooseObject, readRefFast, readStoreRefFast } from '../git/loose.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { updateStoreRef, type RefUpdateOptions } from '../git/store.js';
import { recordedTip, recordTip } from './chains.js';
import { heldLockToken } from './lock.js';
import { snapshotFromObject } from './format.js';

/** The tip of the chain and HEAD, read in one `cat-file --batch`. */
export interface ChainTip {
  tip: Snapshot | null;
  head: string | null;
  headRef: string | null;
}

/**
 * Reads the current tip snapshot and HEAD of `repo`: from the ref files and
 * the loose object when it can (the tip was usually just written, loose), else
 * with one `git cat-file --batch`.
 *
 * @throws CkptError `INTERNAL` when the ref points at something that is not a
 *   ckpt snapshot; `GIT_FAILED`.
 */
export async function readTip(repo: Repo): Promise<ChainTip> {
  const headRef = readHeadRef(repo);
  const head = readRefFast(repo, 'HEAD');
  const tipOid = readStoreRefFast(repo, repo.ref);
  let tipRaw: { oid: string; type: string; content: Buffer } | null | undefined;
  if (tipOid === null) tipRaw = null;
  else if (tipOid !== undefined) {
    const obj = readLooseObject(repo, tipOid);
    if (obj) tipRaw = { oid: tipOid, ...obj };
  }
  let headOid = head;
  if (headOid === undefined) {
    const headObj = (await readObjects(['HEAD'], { cwd: repo.worktree, env: realEnv(repo) })).get('HEAD');
    headOid = headObj && headObj.type === 'commit' ? headObj.oid : null;
  }
  if (tipRaw === undefined) {
    tipRaw = (await readObjects([repo.ref], { cwd: repo.worktree, env: shadowEnv(repo) })).get(repo.ref) ?? null;
  }
  if (tipRaw === null) tipRaw = await restoreDeleted(repo);
  let tip: Snapshot | null = null;
  if (tipRaw && tipRaw.type === 'commit') {
    tip = snapshotFromObject(tipRaw);
    if (!tip) {
      throw new CkptError('INTERNAL', `${repo.ref} does not point at a ckpt snapshot`, {
        hint: 'The ref was written by something else, or by a newer ckpt. Inspect it with `git --git-dir="$(git rev-parse --git-common-dir)/ckpt/shadow" log ' + repo.ref + '` (ckpt\'s store).',
      });
    }
  }
  return { tip, head: headOid, headRef };
}

/**
 * A chain whose ref is gone although its record names a tip (deleted by
 * something else than ckpt): the ref is put back to the recorded tip before
 * anything builds on it, so a snapshot never starts a new chain over a
 * deleted one. Only by a process holding the worktree lock (every move of a
 * chain's ref is made under it; a reader without it, `ckpt log` or the
 * daemon's read-ahead, sees no tip, as `listSteps` does, and the next
 * snapshot puts it back). Costs one small file read, only when the ref is
 * missing.
 */
async function restoreDeleted(repo: Repo): Promise<{ oid: string; type: string; content: Buffer } | null> {
  const recorded = recordedTip(repo, repo.id);
  if (!recorded || heldLockToken(repo) === null) return null;
  const obj = (await readObjects([recorded.oid], { cwd: repo.worktree, env: shadowEnv(repo) })).get(recorded.oid);
  if (!obj || obj.type !== 'commit') return null;
  if (!(await updateStoreRef(repo, repo.ref, recorded.oid, null, 'ckpt: restored (deleted)'))) return null;
  recordTip(repo, repo.ref, recorded.oid, 'ckpt: restored (deleted), before the next snapshot');
  return obj;
}

function readHeadRef(repo: Repo): string | null {
  try {
    const text = readFileSync(path.join(repo.gitDir, 'HEAD'), 'utf8').trim();
    return text.startsWith('ref: ') ? text.slice(5) : null;
  } catch {
    return null;
  }
}

/**
 * Moves `repo.ref` (in ckpt's store) from `expected` to `next`
 * (git-update-ref(1) with an old value: all or nothing), keeping a reflog so
 * replaced chains stay reachable, then appends `next` to the chain's tip
 * record (snapshot/chains.ts, what `verifyChains` checks the ref against).
 *
 * @param opts `objects`: writes the objects `next` names, under the ref's
 *   lock and in one fsync round with it (git/store.ts).
 * @throws CkptError `REF_RACE` when the ref no longer holds `expected`
 *   (then `objects` did not run); `GIT_FAILED`, `FS_FAILED`.
 */
export async function updateRef(repo: Repo, next: string, expected: string | null, reason: string, opts: RefUpdateOptions = {}): Promise<void> {
  if (!(await updateStoreRef(repo, repo.ref, next, expected, reason, opts))) {
    throw new CkptError('REF_RACE', `${repo.ref} was changed by another process`, {
      hint: 'Run the command again.',
      data: { ref: repo.ref, expected },
    });
  }
  recordTip(repo, repo.ref, next, reason);
}
