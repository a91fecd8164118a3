/**
 * Pruning old snapshots and reporting what the chains hold.
 *
 * A chain is pruned by re-writing the snapshots it keeps onto a shorter chain
 * (same trees, same trailers, same index commits; new ids, same step numbers)
 * and moving the ref with an expected old value. Dropped snapshots become
 * unreachable in ckpt's store, which is then compacted at once
 * (snapshot/compact.ts); ckpt never runs `git gc` or `git prune` on the
 * user's repository.
 */
import { CkptError, isCkptError } from '../core/errors.js';
import { DURATION_HINT, parseDuration } from '../core/duration.js';
import type { Snapshot } from '../core/types.js';
import { git, gitText } from '../git/exec.js';
import { readObjects } from '../git/objects.js';
import { WORKTREE_REF_PREFIX, type Repo } from '../git/repo.js';
import { shadowEnv, storeExists } from '../git/shadow.js';
import { storeBytes, userRefOids } from '../git/store.js';
import { listWorktreesReading } from '../git/worktree-admin.js';
import { parseCommit, snapshotFromObject } from './format.js';
import { compactStore } from './compact.js';
import { withWorktreeLock } from './lock.js';
import { listSteps } from './store.js';
import { readTip, updateRef } from './take.js';

/** Options for {@link gc}. */
export interface GcOptions {
  /** Keep at least the newest N snapshots (a whole number ≥ 1). */
  keep?: number;
  /** Drop snapshots older than this many ms (> 0); the newest `keep` stay regardless. */
  olderThanMs?: number;
  /** The same as a duration text (`7d`, `12h`; a bare number is refused, see core/duration.ts). */
  olderThan?: string;
  /** Report only. */
  dryRun?: boolean;
  /** Reference time, ms since the epoch (tests). */
  now?: number;
  /** How long compacting the store waits for each worktree's lock, in ms (default 30000). */
  lockWaitMs?: number;
}

/** What {@link gc} did. */
export interface GcResult {
  kept: number;
  dropped: number;
  /** Step numbers dropped. */
  droppedSteps: number[];
  dryRun: boolean;
  /** Why snapshots older than the cutoff were kept anyway (the tip, what `rollback --undo` needs). */
  keptBecause: string[];
  /** Bytes of ckpt's store on disk before and after (measured; 0 and 0 on a dry run). */
  storeBytesBefore: number;
  storeBytesAfter: number;
  /** `storeBytesBefore - storeBytesAfter`: what gc really freed, at once. */
  freedBytes: number;
  /** What did not happen, e.g. the store not compacted because a worktree stayed locked (the chain was pruned all the same; run gc again). */
  warnings: string[];
}

/**
 * Prunes `repo`'s snapshot chain, then compacts ckpt's store so the disk is
 * freed at once (snapshot/compact.ts: no grace period in ckpt's own store).
 *
 * Never drops the tip, nor anything from the latest `pre-rollback` snapshot
 * on (what `ckpt rollback --undo` restores, and the rollback's result).
 * Every snapshot a race record names stays in the store (compact.ts).
 *
 * @throws CkptError `INVALID_ARGUMENT` (neither `keep` nor a cutoff; `keep`
 *   not a whole number ≥ 1; a cutoff that is not a positive number of ms; a
 *   cutoff alone that every snapshot is older than, which would leave no
 *   tip: say `--keep 1` to mean it), `INVALID_DURATION`, `LOCKED`, `REF_RACE`.
 */
export async function gc(repo: Repo, opts: GcOptions): Promise<GcResult> {
  if (opts.keep === undefined && opts.olderThan === undefined && opts.olderThanMs === undefined) {
    throw new CkptError('INVALID_ARGUMENT', 'say what to prune: --keep N and/or --older-than DURATION', { hint: 'e.g. `ckpt gc --keep 200` or `ckpt gc --older-than 7d`.' });
  }
  if (opts.keep !== undefined && (!Number.isInteger(opts.keep) || opts.keep < 1)) {
    throw new CkptError('INVALID_ARGUMENT', `--keep must be a whole number ≥ 1, not ${opts.keep}`, { hint: 'e.g. `ckpt gc --keep 200`.' });
  }
  const olderThanMs = opts.olderThanMs ?? (opts.olderThan !== undefined ? parseDuration(opts.olderThan) : undefined);
  if (olderThanMs !== undefined && (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs <= 0)) {
    throw new CkptError('INVALID_ARGUMENT', `the cutoff must be a positive number of ms, not ${String(olderThanMs)}`, { hint: DURATION_HINT });
  }
  const cutoff = olderThanMs !== undefined ? (opts.now ?? Date.now()) - olderThanMs : null;
  const bytesBefore = storeBytes(repo);
  const pruned = await withWorktreeLock(repo, async () => {
    const steps = await listSteps(repo, { stats: false });
    const keptBecause: string[] = [];
    if (cutoff !== null && opts.keep === undefined && steps.length > 0 && steps[0]!.time < cutoff) {
      throw new CkptError('INVALID_ARGUMENT', `every snapshot is older than the cutoff (the newest, step ${steps[0]!.step}, is from ${new Date(steps[0]!.time).toISOString()}): that would leave no tip`, {
        hint: 'gc always keeps the newest snapshot. To keep only it, say `ckpt gc --keep 1`; or give a longer duration.',
        data: { newest: steps[0]!.time, cutoff },
      });
    }
    const keepIdx = steps.map((s, i) => {
      if (i === 0) return true; // the tip, always
      if (opts.keep !== undefined && i < opts.keep) return true;
      if (cutoff !== null) return s.time >= cutoff;
      return false;
    });
    // What `rollback --undo` needs: the latest pre-rollback snapshot and everything after it.
    const undoAt = steps.findIndex((s) => s.kind === 'pre-rollback');
    for (let i = 0; i <= undoAt; i++) {
      if (!keepIdx[i]) {
        keepIdx[i] = true;
        if (!keptBecause.length) keptBecause.push(`steps ${steps[undoAt]!.step}–${steps[0]!.step}: the latest rollback, which \`ckpt rollback --undo\` takes back`);
      }
    }
    // Keep a contiguous newest part of the chain: once one is dropped, all older go too.
    const firstDrop = keepIdx.indexOf(false);
    const kept = firstDrop < 0 ? steps : steps.slice(0, firstDrop);
    const dropped = firstDrop < 0 ? [] : steps.slice(firstDrop);
    if (dropped.length > 0 && !opts.dryRun) {
      const { tip } = await readTip(repo);
      let prev: string | null = null;
      for (const s of [...kept].reverse()) prev = await recommit(repo, s, prev);
      await updateRef(repo, prev!, tip!.id, `ckpt: gc kept ${kept.length}`);
      // The reflog kept the old chain reachable; let it go.
      await git(['reflog', 'expire', '--expire=now', repo.ref], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 1] });
    }
    return { kept: kept.length, dropped: dropped.length, droppedSteps: dropped.map((s) => s.step), dryRun: !!opts.dryRun, keptBecause };
  });
  if (opts.dryRun) return { ...pruned, storeBytesBefore: 0, storeBytesAfter: 0, freedBytes: 0, warnings: [] };
  const warnings: string[] = [];
  try {
    await compactStore(repo, opts.lockWaitMs);
  } catch (err) {
    if (!isCkptError(err, 'LOCKED')) throw err;
    warnings.push(`ckpt's store was not compacted: ${err.message}; nothing was removed from it. Run \`ckpt gc\` again to free the space.`);
  }
  const after = storeBytes(repo);
  return { ...pruned, storeBytesBefore: bytesBefore, storeBytesAfter: after, freedBytes: bytesBefore - after, warnings };
}

async function recommit(repo: Repo, s: Snapshot, prev: string | null): Promise<string> {
  const obj = (await readObjects([s.id], { cwd: repo.worktree, env: shadowEnv(repo) })).get(s.id)!;
  const raw = parseCommit(s.id, obj.content);
  const indexCommit = raw.parents[raw.parents.length - 1]!;
  const args = ['commit-tree', '--no-gpg-sign', raw.tree];
  if (prev) args.push('-p', prev);
  args.push('-p', indexCommit, '-F', '-');
  return gitText(args, { cwd: repo.worktree, env: shadowEnv(repo), input: raw.message });
}

/** One worktree with snapshots, for `ckpt status`. */
export interface ChainStatus {
  /** The worktree id (ref `refs/ckpt/wt/<id>`). */
  id: string;
  ref: string;
  /** Absolute path the worktree had at its newest snapshot. */
  worktree: string;
  /** Whether that path still exists as a worktree of this repository. */
  present: boolean;
  last: Snapshot | null;
  snapshots: number;
  /** Bytes of objects only the snapshots hold (not HEAD, branches or tags), as git stores them. */
  bytes: number | null;
}

/**
 * Lists every worktree of the repository that has snapshots.
 *
 * Reads only: no store is created where there is none (then no worktree has
 * snapshots), and no lock is taken (git/worktree-admin.ts).
 *
 * @param withSizes also measure storage (`git rev-list --disk-usage`; slower on big repos).
 */
export async function status(repo: Repo, withSizes = true): Promise<ChainStatus[]> {
  if (!storeExists(repo)) return [];
  const { stdout } = await git(['for-each-ref', '--format=%(refname) %(objectname)', WORKTREE_REF_PREFIX], { cwd: repo.worktree, env: shadowEnv(repo) });
  const lines = stdout.toString('utf8').split('\n').filter(Boolean);
  const objs = await readObjects(lines.map((l) => l.split(' ')[1]!), { cwd: repo.worktree, env: shadowEnv(repo) });
  const negatives = withSizes ? await userRefOids(repo) : [];
  const wtList = (await listWorktreesReading(repo)).stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice(9));
  const out: ChainStatus[] = [];
  for (const line of lines) {
    const [ref, oid] = line.split(' ') as [string, string];
    const obj = objs.get(oid);
    const last = snapshotFromObject(obj);
    let bytes: number | null = null;
    if (withSizes) {
      const res = await git(['rev-list', '--objects', '--disk-usage', '--stdin'], {
        cwd: repo.worktree,
        env: shadowEnv(repo),
        input: [ref, ...negatives.map((n) => `^${n}`)].join('\n') + '\n',
        okCodes: [0, 128],
      });
      if (res.exitCode === 0) bytes = Number(res.stdout.toString('utf8').trim());
    }
    const snapshots = last ? (await listSteps(repo, { ref, stats: false })).length : 0;
    const worktree = last?.worktree ?? '';
    out.push({ id: ref.slice(WORKTREE_REF_PREFIX.length), ref, worktree, present: wtList.includes(worktree), last, snapshots, bytes });
  }
  return out;
}
