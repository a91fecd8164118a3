/**
 * Removing an attempt's worktree, only once its live state is in a snapshot:
 * under the attempt's worktree lock, a snapshot is taken, then the worktree is
 * read again with no stat cache (live-tree.ts) and must equal that snapshot's
 * tree; right then, still under that lock, the directory is renamed to a
 * private sibling and read there once more (moveAside). Only then does git's
 * bookkeeping (prune, branch -D) wait for the repository's worktree lock, and
 * the renamed copy is deleted last, asynchronously, under no lock: a file
 * written at the worktree's path while that lock is awaited lands in no
 * directory being deleted. Paths where they differ are
 * dropped from the private index (the stat cache that missed them) and a
 * second snapshot reads them afresh; it must then match. Otherwise the
 * worktree and its branch stay, and the reason is returned. The branch may
 * go: the snapshot's index commit has the attempt's HEAD as its parent
 * (docs/snapshot-format.md), so its commits stay reachable; a branch whose
 * tip the snapshot does not reach stays. With `teardown`, the race's
 * teardown command runs in the worktree first; a failing one keeps it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { detectConfinement } from '../agents/confine.js';
import { processRunning } from '../core/process-alive.js';
import { runProcess } from '../agents/process.js';
import { git } from '../git/exec.js';
import { openRepo, type Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { worktreeAdmin } from '../git/worktree-admin.js';
import { withWorktreeLock } from '../snapshot/lock.js';
import { unwatchWorktree } from '../watch/daemon-control.js';
import { attemptSweep } from './sweep-target.js';
import { diffTrees } from '../git/tree-diff.js';
import { privateIndexPath, unindex } from '../snapshot/private-index.js';
import { takeSnapshotLocked } from '../snapshot/take.js';
import { attemptSnapshot } from './compare.js';
import { sweepAttemptProcesses } from '../agents/sweep.js';
import { fenced, refusalWarning, requireSandbox, worktreeFence, type Fence } from './fence.js';
import { freshLiveTree } from './live-tree.js';
import { raceDir } from './store.js';
import type { Attempt, RaceRecord } from './types.js';
import { TRAILER } from '../snapshot/format.js';

/** What became of one attempt's worktree. */
export interface WorktreeRemoval {
  attempt: string;
  dir: string;
  /** The worktree and its branch were removed (or were gone already). */
  removed: boolean;
  /** The snapshot holding the worktree's last state (the attempt's `final` from now on), null when none was taken. */
  snapshot: string | null;
  /** That snapshot's tree. */
  tree: string | null;
  /** Paths that changed since the race's final snapshot of the attempt, now kept in `snapshot`. */
  kept: string[];
  /** Why the worktree was kept (null when removed). */
  reason: string | null;
  /** PIDs of the attempt's processes that were still running and were ended first (found by their environment: agents/sweep.ts). */
  ended: number[];
  /** Why the attempt's branch was kept although its worktree went (commits no snapshot of the attempt reaches), else null. */
  branchKept: string | null;
}

/** Options for {@link removeAttemptWorktree}. */
export interface RemoveOptions {
  /** How long to wait for the attempt's worktree lock, ms (default 10000). */
  lockWaitMs?: number;
  /**
   * Run the race's `teardown` command in the worktree first (`race clean`,
   * `--clean`); when it fails, the worktree is kept and the reason says so.
   * Default false (a review's scratch worktree has none).
   */
  teardown?: boolean;
  /** Make the snapshot taken the attempt's `final` (what `race pick` takes). Default true; a race removing its own worktrees at its end keeps the final taken before the check. */
  adoptAsFinal?: boolean;
}

/**
 * Ends the attempt's processes still running (by their environment marker),
 * records attempt `a`'s live state, checks it, then removes its worktree and
 * branch; sets `a.final` to the snapshot taken (unless `o.adoptAsFinal` is false). Never throws for the attempt:
 * a failure to record (a held lock, a git error), a worktree that is not the
 * attempt's any more, a nested repository or bytes that differ from the
 * snapshot keep the worktree, with the reason.
 */
export async function removeAttemptWorktree(repo: Repo, race: RaceRecord, a: Attempt, o: RemoveOptions = {}): Promise<WorktreeRemoval> {
  const out: WorktreeRemoval = { attempt: a.name, dir: a.dir, removed: false, snapshot: null, tree: null, kept: [], reason: null, ended: [], branchKept: null };
  // The repository's daemon stops watching it first (its own snapshot in flight ends), so none runs on a worktree being removed.
  await unwatchWorktree(repo.commonDir, a.dir);
  await recoverMovedAside(a.dir);
  if (!existsSync(a.dir) || removeIfEmpty(a.dir)) {
    const last = await attemptSnapshot(repo, a).catch(() => null);
    const branchKept = await worktreeAdmin(repo, () => forget(repo, a.branch, last?.id ?? null));
    return { ...out, removed: true, snapshot: a.final, tree: last?.tree ?? null, branchKept };
  }
  let r: Repo;
  try {
    r = await openRepo(a.dir);
    if (r.worktree !== realpathSync(a.dir)) throw new Error(`it is inside ${r.worktree}, not a worktree of its own`);
  } catch (err) {
    return { ...out, reason: `not a git worktree any more (${(err as Error).message}): its files are in no snapshot` };
  }
  // Processes of the attempt still running (orphans of a race process that died) end first.
  out.ended = (await sweepAttemptProcesses({ ...attemptSweep(repo.commonDir, a.dir, { CKPT_RACE_ID: race.id, CKPT_ATTEMPT: a.name }, a.startedAt ?? 0), byCwd: false })).ended;
  if (o.teardown && race.teardown) {
    const failed = await runTeardown(repo, race, a, race.teardown);
    if (failed) return { ...out, reason: failed };
  }
  const before = await attemptSnapshot(repo, a).catch(() => null);
  let moved: string;
  try {
    const checked = await withWorktreeLock(
      r,
      async (): Promise<WorktreeRemoval | string> => {
        const input = { kind: 'auto' as const, agent: a.agent, message: 'before race clean', extra: { [TRAILER.race]: race.id, [TRAILER.attempt]: a.name } };
        let taken = (await takeSnapshotLocked(r, input)).snapshot;
        const nested = await gitlinks(r, taken.tree);
        // At the point of destruction: the bytes on disk are the bytes recorded.
        let live = await freshLiveTree(r, taken.tree);
        if (live !== taken.tree && nested.length === 0) {
          // What the stat cache called unchanged (same size and mtime) is read afresh, once.
          const missed = (await diffTrees(r, taken.tree, live)).map((e) => e.rel);
          await unindex(r, shadowEnv(r, privateIndexPath(r)), missed);
          taken = (await takeSnapshotLocked(r, input)).snapshot;
          live = await freshLiveTree(r, taken.tree);
        }
        out.snapshot = taken.id;
        out.tree = taken.tree;
        out.kept = (await diffTrees(repo, before?.tree ?? race.base.tree, taken.tree)).map((e) => e.path);
        if (o.adoptAsFinal !== false) a.final = taken.id;
        if (nested.length > 0) return { ...out, reason: `it holds nested repositories whose own uncommitted work no snapshot holds: ${nested.slice(0, 5).join(', ')}` };
        if (live !== taken.tree) {
          const differ = (await diffTrees(repo, taken.tree, live)).map((e) => e.path);
          return { ...out, reason: `its files differ from the snapshot just taken (written meanwhile, or left out of snapshots): ${differ.slice(0, 5).join(', ')}${differ.length > 5 ? ', …' : ''}` };
        }
        return moveAside(r, a.dir, taken.tree, out);
      },
      o.lockWaitMs !== undefined ? { waitMs: o.lockWaitMs } : {},
    );
    if (typeof checked !== 'string') return checked;
    moved = checked;
  } catch (err) {
    return { ...out, reason: `could not record its live state: ${(err as Error).message}` };
  }
  // The checked files are at `moved`, a name no editor or server knows: only git's bookkeeping waits for the worktree lock.
  try {
    out.branchKept = await worktreeAdmin(repo, () => forget(repo, a.branch, out.snapshot));
  } catch (err) {
    // The entry's directory is gone from its path: the next `race clean` prunes it.
    out.reason = `recorded in snapshot ${out.snapshot!.slice(0, 10)}, but forgetting its worktree and branch failed: ${(err as Error).message}`;
  }
  try {
    // Asynchronous (libuv's threads) and under no lock: a big node_modules takes seconds.
    await rm(moved, { recursive: true, force: true });
  } catch (err) {
    out.reason ??= `recorded in snapshot ${out.snapshot!.slice(0, 10)}, but deleting its files (moved to ${moved}) failed: ${(err as Error).message}`;
  }
  if (out.reason) return out;
  if (existsSync(a.dir)) return { ...out, reason: `files were written at ${a.dir} while it was removed: they are in no snapshot and stay there` };
  return { ...out, removed: true };
}

/**
 * Renames the checked worktree `dir` to a private sibling (same directory,
 * so the same file system: atomic), then reads it there afresh once more:
 * anything written between the check and the rename shows. Returns the new
 * path (renamed once more, to a `.ckpt-checked-` name: recoverMovedAside)
 * when it still holds exactly `tree`; otherwise the directory is put
 * back (or, when `dir` was made again meanwhile, kept under a `.ckpt-kept-`
 * name) and the removal that keeps it is returned. After the rename, a
 * writer using the worktree's path (an editor's autosave, a dev server)
 * meets no directory, or makes a new one that is left alone; only a process
 * with a file or directory inside it open still writes into it, the window
 * `git worktree remove` itself always had.
 */
async function moveAside(r: Repo, dir: string, tree: string, out: WorktreeRemoval): Promise<WorktreeRemoval | string> {
  const aside = (tag: string): string => path.join(path.dirname(dir), `.${path.basename(dir)}.ckpt-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const moved = aside('removing');
  try {
    renameSync(dir, moved);
  } catch (err) {
    return { ...out, reason: `recorded in snapshot ${out.snapshot!.slice(0, 10)}, but moving it aside to remove it failed: ${(err as Error).message}` };
  }
  let again: string | null = null;
  try {
    again = await freshLiveTree({ ...r, worktree: moved }, tree);
  } catch {
    // unreadable now: kept, as a difference is
  }
  if (again === tree) {
    // Named as read again and matching: a removal killed from here on leaves a copy the next one may delete.
    const checked = aside('checked');
    try {
      renameSync(moved, checked);
      return checked;
    } catch {
      return moved;
    }
  }
  let keptAt = dir;
  try {
    // rename(2) replaces an empty directory made meanwhile, never a non-empty one.
    renameSync(moved, dir);
  } catch {
    keptAt = aside('kept');
    try {
      renameSync(moved, keptAt);
    } catch {
      keptAt = moved;
    }
  }
  return { ...out, reason: `its files changed while it was being removed: kept at ${keptAt}` };
}

/**
 * What a removal killed after {@link moveAside} left beside `dir`, by
 * processes that no longer run: a `.<name>.ckpt-checked-<pid>-<hex>`
 * directory was read again after its rename and matched its snapshot: it is
 * deleted. A `.<name>.ckpt-removing-<pid>-<hex>` one was not (killed between
 * the rename and that reading, it may hold bytes written between the check
 * and the rename): it is renamed back to `dir` when `dir` is free, so this
 * removal checks it like any worktree (or keeps it, when git forgot its
 * entry meanwhile). A `.ckpt-kept-` directory is never touched.
 */
async function recoverMovedAside(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  const prefix = `.${path.basename(dir)}.ckpt-`;
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(removing|checked)-(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (!m || Number(m[2]) === process.pid || processRunning(Number(m[2]))) continue;
    const moved = path.join(parent, name);
    try {
      if (m[1] === 'checked') await rm(moved, { recursive: true, force: true });
      else if (!existsSync(dir)) renameSync(moved, dir);
    } catch {
      // left for the next clean
    }
  }
}

/**
 * Removes `dir` when it is an empty directory (no entries at all, not even
 * `.git`): what a process killed between claiming an attempt's directory
 * and `git worktree add` leaves (worktree.ts). rmdir(2) removes only an
 * empty directory, so a file written meanwhile keeps it. Returns whether it
 * was removed.
 */
function removeIfEmpty(dir: string): boolean {
  try {
    if (readdirSync(dir).length > 0) return false;
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Limit of a teardown command, ms. */
const TEARDOWN_TIMEOUT_MS = 5 * 60_000;

/**
 * Runs `command` (the race's teardown) through the shell in attempt `a`'s
 * worktree with the attempt's environment, confined like its agent; its
 * output goes to `logs/<attempt>.teardown.log`. Returns null when it exited
 * 0, else why it failed.
 */
async function runTeardown(repo: Repo, race: RaceRecord, a: Attempt, command: string): Promise<string | null> {
  const logs = path.join(raceDir(repo, race.id), 'logs');
  mkdirSync(logs, { recursive: true });
  const logFile = path.join(logs, `${a.name}.teardown.log`);
  const marker = { CKPT_RACE_ID: race.id, CKPT_ATTEMPT: a.name };
  const env = { ...process.env, ...(a.env ?? {}), ...marker, GIT_DIR: undefined, GIT_WORK_TREE: undefined, GIT_INDEX_FILE: undefined };
  let fence: Fence | null = null;
  try {
    // A fenced race's teardown is fenced too (network on: it may drop a database on another host).
    requireSandbox(race.sandbox);
    fence = race.sandbox ? await worktreeFence(repo, race.id, a.dir, a.env ?? {}, env) : null;
  } catch (err) {
    return `its teardown did not run: ${(err as Error).message}`;
  }
  const run = fenced({ argv: [command], shell: true, cwd: a.dir, env, logFile, timeoutMs: TEARDOWN_TIMEOUT_MS, confine: { mechanism: detectConfinement(), sweep: attemptSweep(repo.commonDir, a.dir, marker, Date.now()) } }, fence, true);
  const r = await runProcess(run.options).done;
  if (run.refused() > 0) race.warnings.push(refusalWarning(`${a.name}'s teardown`, run.refused(), logFile));
  if (r.exitCode === 0 && !r.stoppedBy) return null;
  const how = r.spawnError ?? (r.stoppedBy ? `stopped (${r.stoppedBy})` : `exit ${r.exitCode ?? r.signal}`);
  return `its teardown failed (${how}; log ${logFile}): ${r.outputTail.trim().split('\n').slice(-3).join(' ').slice(0, 300)}`;
}

/** Paths of the gitlinks (nested repositories) in `tree`. */
async function gitlinks(r: Repo, tree: string): Promise<string[]> {
  const { stdout } = await git(['ls-tree', '-r', '-z', tree], { cwd: r.worktree, env: shadowEnv(r) });
  return stdout
    .toString('utf8')
    .split('\0')
    .filter((rec) => rec.startsWith('160000 '))
    .map((rec) => rec.slice(rec.indexOf('\t') + 1));
}

/**
 * git's bookkeeping of a worktree whose directory is gone from its path
 * (moved aside after its check, or absent): `git worktree prune` drops its
 * entry, and its branch is deleted, unless the branch holds commits that
 * `recorded` (the attempt's last snapshot) does not reach: then the branch
 * stays and the reason is returned. Deletes no files: it runs under the
 * worktree lock (git/worktree-admin.ts), whose refresh a long deletion
 * would starve.
 */
async function forget(repo: Repo, branch: string, recorded: string | null): Promise<string | null> {
  const env = { ...realEnv(repo), GIT_WORK_TREE: undefined };
  await git(['worktree', 'prune'], { cwd: repo.worktree, env, okCodes: [0, 128] });
  const tip = await git(['rev-parse', '--verify', '-q', `refs/heads/${branch}`], { cwd: repo.worktree, env, okCodes: [0, 1] });
  if (tip.exitCode !== 0) return null;
  const oid = tip.stdout.toString('utf8').trim();
  const reached = recorded !== null && (await git(['merge-base', '--is-ancestor', oid, recorded], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 1, 128] })).exitCode === 0;
  if (!reached) return `branch ${branch} kept: its commit ${oid.slice(0, 10)} is in no snapshot of the attempt`;
  await git(['-c', 'core.hooksPath=/dev/null', 'branch', '-D', '--quiet', branch], { cwd: repo.worktree, env, okCodes: [0, 1] });
  return null;
}
