/**
 * The tip of a worktree's chain: reading it (with HEAD) and moving it. Every
 * read and write of the snapshot ref goes through this module.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { git } from '../git/exec.js';
import { readLooseObject, readRefFast } from '../git/loose.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
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
  const tipOid = readRefFast(repo, repo.ref);
  let tipRaw: { oid: string; type: string; content: Buffer } | null | undefined;
  if (tipOid === null) tipRaw = null;
  else if (tipOid !== undefined) {
    const obj = readLooseObject(repo, tipOid);
    if (obj) tipRaw = { oid: tipOid, ...obj };
  }
  let headOid = head;
  if (tipRaw === undefined || headOid === undefined) {
    const objs = await readObjects(['HEAD', repo.ref], { cwd: repo.worktree, env: realEnv(repo) });
    const headObj = objs.get('HEAD');
    headOid = headObj && headObj.type === 'commit' ? headObj.oid : null;
    tipRaw = objs.get(repo.ref) ?? null;
  }
  let tip: Snapshot | null = null;
  if (tipRaw && tipRaw.type === 'commit') {
    tip = snapshotFromObject(tipRaw);
    if (!tip) {
      throw new CkptError('INTERNAL', `${repo.ref} does not point at a ckpt snapshot`, {
        hint: 'The ref was written by something else, or by a newer ckpt. Inspect it with `git log ' + repo.ref + '`.',
      });
    }
  }
  return { tip, head: headOid, headRef };
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
 * Moves `repo.ref` from `expected` to `next` (git-update-ref(1) with an old
 * value: all or nothing), keeping a reflog so replaced chains stay reachable.
 *
 * @throws CkptError `REF_RACE` when the ref no longer holds `expected`.
 */
export async function updateRef(repo: Repo, next: string, expected: string | null, reason: string): Promise<void> {
  // core.hooksPath=/dev/null: update-ref runs the reference-transaction hook, and no hook may run (note 21).
  const res = await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '--create-reflog', '-m', reason, repo.ref, next, expected ?? repo.zeroOid], {
    cwd: repo.worktree,
    env: realEnv(repo),
    okCodes: [0, 1, 128],
  });
  if (res.exitCode !== 0 && !/expected|cannot lock ref|is at .* but/i.test(res.stderr)) {
    throw new CkptError('GIT_FAILED', `git update-ref ${repo.ref} failed: ${res.stderr.trim()}`, { data: { stderr: res.stderr } });
  }
  if (res.exitCode !== 0) {
    throw new CkptError('REF_RACE', `${repo.ref} was changed by another process`, {
      hint: 'Run the command again.',
      data: { ref: repo.ref, expected, stderr: res.stderr.trim() },
    });
  }
}
