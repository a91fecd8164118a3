/**
 * The record of tips, and chains checked against it (docs/reliability.md R43).
 *
 * Every time ckpt moves a chain's ref it appends one line to that chain's
 * record, `<common>/ckpt/tips/<worktree-id>.log`:
 *
 * ```
 * <ms since the epoch> <oid> <reason>
 * ```
 *
 * The record is append-only and never read on the hot path. {@link verifyChains}
 * compares each chain's ref with the last tip recorded for it: a ref that is
 * gone, or that no longer holds the recorded tip or a snapshot descending from
 * it (first parents), is put back to the recorded tip (its objects are in
 * ckpt's store) and reported.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isCkptError } from '../core/errors.js';
import { git } from '../git/exec.js';
import { readObjects } from '../git/objects.js';
import { WORKTREE_REF_PREFIX, type Repo } from '../git/repo.js';
import { shadowDir, shadowEnv } from '../git/shadow.js';
import { adoptBorrowed, listStoreRefs, updateStoreRef } from '../git/store.js';
import { snapshotFromObject } from './format.js';
import { withWorktreeLock } from './lock.js';

/** The directory of the tip records. */
export function tipsDir(repo: Repo): string {
  return path.join(repo.commonDir, 'ckpt', 'tips');
}

function tipsFile(repo: Repo, id: string): string {
  return path.join(tipsDir(repo), `${id}.log`);
}

/**
 * Appends `oid` as the new tip of chain `ref` to its record (one `write` in
 * append mode, so concurrent writers never interleave inside a line).
 * Best effort: a record that cannot be written costs the repair of a chain
 * later, never a snapshot.
 */
export function recordTip(repo: Repo, ref: string, oid: string, reason: string): void {
  if (!ref.startsWith(WORKTREE_REF_PREFIX)) return;
  try {
    mkdirSync(tipsDir(repo), { recursive: true });
    const fd = openSync(tipsFile(repo, ref.slice(WORKTREE_REF_PREFIX.length)), 'a');
    try {
      writeSync(fd, `${Date.now()} ${oid} ${reason.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200)}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // see above
  }
}

/** The last tip recorded for chain `id`, or null when there is no record. */
export function recordedTip(repo: Repo, id: string): { oid: string; time: number; reason: string } | null {
  let text: string;
  try {
    text = readFileSync(tipsFile(repo, id), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    // A line cut short by a crash does not match and is skipped.
    const m = /^(\d+) ([0-9a-f]{40}|[0-9a-f]{64}) (.*)$/.exec(lines[i]!);
    if (m && m[2]!.length === repo.zeroOid.length) return { time: Number(m[1]), oid: m[2]!, reason: m[3]! };
  }
  return null;
}

/** One chain {@link verifyChains} put back. */
export interface ChainRepair {
  /** The chain's ref (`refs/ckpt/wt/<id>`, in ckpt's store). */
  ref: string;
  /** `deleted`: the ref was gone; `rewound`: it held an older snapshot of the chain; `replaced`: it held something else. */
  why: 'deleted' | 'rewound' | 'replaced';
  /** What the ref held (null when deleted). */
  found: string | null;
  /** The recorded tip it holds again. */
  restored: string;
}

/** What {@link verifyChains} found. */
export interface VerifyResult {
  /** Chains checked. */
  checked: number;
  repaired: ChainRepair[];
  /** Chains that could not be checked or repaired, with why (a busy lock, a recorded tip whose object is missing). */
  problems: string[];
}

/**
 * Checks every chain with a tip record against it and restores each deleted
 * or rewound ref to its recorded tip, under that chain's worktree lock (so a
 * snapshot or `ckpt gc` moving the ref is never mistaken for damage): a
 * chain is read first without the lock, and only one that differs from its
 * record is read again under it, so a check that finds all well writes
 * nothing, not even a lock file. Chains
 * without a record yet get one (their current tip). Changes nothing else.
 * Where the lock cannot be written (a read-only `.git`: EACCES, EPERM,
 * EROFS), the chain is checked as it is, without the lock, and what a repair
 * would do is a problem line; nothing is written.
 *
 * @param lockWaitMs how long to wait for each chain's lock (default 5000 ms).
 * @throws CkptError `GIT_FAILED`; `FS_FAILED` (a lock that cannot be taken for another reason).
 */
export async function verifyChains(repo: Repo, lockWaitMs = 5_000): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, repaired: [], problems: [] };
  if (!existsSync(path.join(shadowDir(repo), 'HEAD'))) return result; // no store, no chain
  const ids = new Set<string>();
  if (existsSync(tipsDir(repo))) for (const f of readdirSync(tipsDir(repo))) if (f.endsWith('.log')) ids.add(f.slice(0, -4));
  const unrecorded = (await listStoreRefs(repo, WORKTREE_REF_PREFIX)).filter((r) => !ids.has(r.ref.slice(WORKTREE_REF_PREFIX.length)));
  for (const r of unrecorded) recordTip(repo, r.ref, r.oid, 'ckpt: first recorded by verify');
  for (const id of [...ids].sort()) {
    const ref = WORKTREE_REF_PREFIX + id;
    const chainRepo: Repo = { ...repo, id, ref, stateDir: path.join(repo.commonDir, 'ckpt', 'wt', id) };
    /** 'look': whether a write is due (nothing pushed but a missing tip); 'repair': under the lock; 'report': what cannot be repaired here. */
    const check = async (mode: 'look' | 'repair' | 'report'): Promise<boolean> => {
      const write = mode === 'repair';
      const recorded = recordedTip(repo, id);
      if (!recorded) return false;
      const env = shadowEnv(repo);
      const objs = await readObjects([ref, recorded.oid], { cwd: repo.worktree, env });
      const current = objs.get(ref) ?? null;
      if (!objs.get(recorded.oid)) {
        if (mode !== 'repair') result.problems.push(`${ref}: the recorded tip ${recorded.oid.slice(0, 12)} is not in ckpt's store; left as it is`);
        return false;
      }
      if (current?.oid === recorded.oid) return false;
      if (mode === 'look') return true;
      let why: ChainRepair['why'] = 'deleted';
      if (current) {
        const isSnapshot = current.type === 'commit' && snapshotFromObject(current) !== null;
        if (isSnapshot && (await isAncestor(repo, recorded.oid, current.oid))) {
          // Moved forward by a ckpt killed before it recorded the move: record it now.
          if (write) recordTip(repo, ref, current.oid, 'ckpt: recorded by verify');
          return false;
        }
        why = isSnapshot && (await isAncestor(repo, current.oid, recorded.oid)) ? 'rewound' : 'replaced';
      }
      if (!write) {
        result.problems.push(`${ref}: ${why} (its recorded tip is ${recorded.oid.slice(0, 12)}); not restored: ckpt cannot write here (run ckpt status where .git is writable)`);
        return false;
      }
      if (await updateStoreRef(repo, ref, recorded.oid, current?.oid ?? null, `ckpt: restored by verify (${why})`)) {
        recordTip(repo, ref, recorded.oid, `ckpt: restored (${why})`);
        result.repaired.push({ ref, why, found: current?.oid ?? null, restored: recorded.oid });
      } else {
        result.problems.push(`${ref}: moved while being verified; check again`);
      }
      return false;
    };
    result.checked++;
    // A chain that matches its record needs no lock (taking one is a write); one that
    // does not is looked at again under the lock, where a snapshot moving it cannot interleave.
    if (!(await check('look'))) continue;
    let locked = false;
    try {
      await withWorktreeLock(chainRepo, () => ((locked = true), check('repair')), { waitMs: lockWaitMs });
    } catch (err) {
      if (!locked && isCkptError(err, 'FS_FAILED') && READ_ONLY.has(String(err.data.errno))) await check('report');
      else if (!isCkptError(err, 'LOCKED')) throw err;
      else result.problems.push(`${ref}: busy (another ckpt process holds its lock); not verified`);
    }
  }
  return result;
}

/** The errnos of a lock that cannot be written because the file system or its modes forbid it. */
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Whether `a` is an ancestor of (or equal to) `b` along first parents. */
async function isAncestor(repo: Repo, a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const res = await git(['rev-list', '--first-parent', b], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 128] });
  return res.exitCode === 0 && res.stdout.toString('utf8').split('\n').includes(a);
}

/**
 * {@link verifyChains}, as lines for a report (nothing when all is well):
 * what was restored and what could not be checked. Never throws: a failure
 * to verify is itself a line.
 */
export async function verifyChainsReport(repo: Repo): Promise<string[]> {
  try {
    const v = await verifyChains(repo);
    return [
      ...v.repaired.map((r) => `${r.ref} was ${r.why}${r.found ? ` (it held ${r.found.slice(0, 12)})` : ''}; restored to its recorded tip ${r.restored.slice(0, 12)}`),
      ...v.problems,
    ];
  } catch (err) {
    return [`could not verify the snapshot chains: ${(err as Error).message}`];
  }
}

/**
 * {@link adoptBorrowed} as lines for a report: copies into ckpt's store what
 * its chains reach only through the user's store and no ref of the user
 * keeps alive (an attempt's commits once its branch is gone). Never throws.
 */
export async function adoptBorrowedReport(repo: Repo): Promise<string[]> {
  try {
    await adoptBorrowed(repo);
    return [];
  } catch (err) {
    return [`could not copy into ckpt's store the objects its snapshots borrow from the repository: ${(err as Error).message}`];
  }
}
