/**
 * Pruning old snapshots and reporting what the chains hold.
 *
 * A chain is pruned by re-writing the snapshots it keeps onto a shorter chain
 * (same trees, same trailers, same index commits; new ids, same step numbers)
 * and moving the ref with an expected old value. Dropped snapshots become
 * unreachable and are freed by git's own `gc` later; ckpt never runs
 * `git gc` or `git prune` on the user's repository.
 */
import { CkptError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import type { Snapshot } from '../core/types.js';
import { git, gitText } from '../git/exec.js';
import { readObjects } from '../git/objects.js';
import { WORKTREE_REF_PREFIX, type Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { userRefOids } from '../git/store.js';
import { decodeSnapshot, parseCommit } from './format.js';
import { withWorktreeLock } from './lock.js';
import { listSteps } from './store.js';
import { readTip, updateRef } from './take.js';

/** Options for {@link gc}. */
export interface GcOptions {
  /** Keep at least the newest N snapshots. */
  keep?: number;
  /** Drop snapshots older than this duration (`7d`, `12h`); the newest `keep` stay regardless. */
  olderThan?: string;
  /** Report only. */
  dryRun?: boolean;
  /** Reference time, ms since the epoch (tests). */
  now?: number;
}

/** What {@link gc} did. */
export interface GcResult {
  kept: number;
  dropped: number;
  /** Step numbers dropped. */
  droppedSteps: number[];
  dryRun: boolean;
}

/**
 * Prunes `repo`'s snapshot chain.
 *
 * @throws CkptError `INVALID_ARGUMENT` (neither `keep` nor `olderThan`),
 *   `INVALID_DURATION`, `LOCKED`, `REF_RACE`.
 */
export async function gc(repo: Repo, opts: GcOptions): Promise<GcResult> {
  if (opts.keep === undefined && opts.olderThan === undefined) {
    throw new CkptError('INVALID_ARGUMENT', 'say what to prune: --keep N and/or --older-than DURATION', { hint: 'e.g. `ckpt gc --keep 200` or `ckpt gc --older-than 7d`.' });
  }
  if (opts.keep !== undefined && (!Number.isInteger(opts.keep) || opts.keep < 1)) {
    throw new CkptError('INVALID_ARGUMENT', `--keep must be a whole number ≥ 1, not ${opts.keep}`);
  }
  const cutoff = opts.olderThan !== undefined ? (opts.now ?? Date.now()) - parseDuration(opts.olderThan) : null;
  return withWorktreeLock(repo, async () => {
    const steps = await listSteps(repo, { stats: false });
    const keepIdx = steps.map((s, i) => {
      if (opts.keep !== undefined && i < opts.keep) return true;
      if (cutoff !== null) return s.time >= cutoff;
      return false;
    });
    // Keep a contiguous newest part of the chain: once one is dropped, all older go too.
    const firstDrop = keepIdx.indexOf(false);
    const kept = firstDrop < 0 ? steps : steps.slice(0, firstDrop);
    const dropped = firstDrop < 0 ? [] : steps.slice(firstDrop);
    const result: GcResult = { kept: kept.length, dropped: dropped.length, droppedSteps: dropped.map((s) => s.step), dryRun: !!opts.dryRun };
    if (dropped.length === 0 || opts.dryRun) return result;
    const { tip } = await readTip(repo);
    if (kept.length === 0) {
      await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '-d', repo.ref, tip!.id], { cwd: repo.worktree, env: shadowEnv(repo) });
    } else {
      let prev: string | null = null;
      for (const s of [...kept].reverse()) prev = await recommit(repo, s, prev);
      await updateRef(repo, prev!, tip!.id, `ckpt: gc kept ${kept.length}`);
    }
    // The reflog kept the old chain reachable; let it go.
    await git(['reflog', 'expire', '--expire=now', repo.ref], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 1] });
    return result;
  });
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
 * @param withSizes also measure storage (`git rev-list --disk-usage`; slower on big repos).
 */
export async function status(repo: Repo, withSizes = true): Promise<ChainStatus[]> {
  const { stdout } = await git(['for-each-ref', '--format=%(refname) %(objectname)', WORKTREE_REF_PREFIX], { cwd: repo.worktree, env: shadowEnv(repo) });
  const lines = stdout.toString('utf8').split('\n').filter(Boolean);
  const objs = await readObjects(lines.map((l) => l.split(' ')[1]!), { cwd: repo.worktree, env: shadowEnv(repo) });
  const negatives = withSizes ? await userRefOids(repo) : [];
  const wtList = (await gitText(['worktree', 'list', '--porcelain'], { cwd: repo.worktree, env: realEnv(repo) }))
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice(9));
  const out: ChainStatus[] = [];
  for (const line of lines) {
    const [ref, oid] = line.split(' ') as [string, string];
    const obj = objs.get(oid);
    const last = obj ? decodeSnapshot(parseCommit(oid, obj.content)) : null;
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
