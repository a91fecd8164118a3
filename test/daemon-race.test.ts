/**
 * The repository's one daemon serving several worktrees at once: bursts that
 * settle while it cannot snapshot (the worktree lock held) each make their
 * own step, never merged; a race's attempts watched by it (`ckpt daemon
 * status` lists their worktrees, their steps come from it), and no longer
 * watched once `race clean` removed them. Every daemon started here is
 * stopped, even on failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { withWorktreeLock } from '../src/snapshot/lock.js';
import { daemonRequest } from '../src/watch/daemon-client.js';
import { watchThroughDaemon } from '../src/watch/daemon-watch.js';
import type { DaemonStatus } from '../src/watch/daemon.js';
import { startTestDaemon, stopTestDaemons } from './support/daemon.js';
import { raceRepo } from './support/race.js';
import { CLI, makeRepo, storeGit, write } from './support/repo.js';
import { until } from './support/wait.js';

afterEach(() => stopTestDaemons());

const RACE = path.join(path.dirname(CLI), 'race.js');

async function status(commonDir: string): Promise<DaemonStatus> {
  const r = await daemonRequest(commonDir, 'status', {}, { connectMs: 5000, replyMs: 30_000 });
  if (!r?.ok) throw new Error(`no status: ${JSON.stringify(r)}`);
  return r.status as DaemonStatus;
}

describe('the daemon, busy and shared', () => {
  it('bursts that settle while it cannot snapshot (the lock held) make a step each, never merged', { timeout: 180_000 }, async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n' });
    startTestDaemon(dir);
    const repo = await openRepo(dir);
    const snapshots: number[] = [];
    const w = await watchThroughDaemon([dir], { quietMs: 100, maxWaitMs: 2000, onSnapshot: (_r, res) => res.created && snapshots.push(res.snapshot.step) });
    expect(w).not.toBeNull();
    try {
      await until(() => snapshots.length === 1, 'the first snapshot');
      const busy = async (): Promise<number> => (await status(repo.commonDir)).worktrees.find((x) => x.worktree === repo.worktree)?.busy ?? 0;
      // The machine too busy to snapshot: each burst settles and waits.
      await withWorktreeLock(repo, async () => {
        for (const [i, f] of ['a.txt', 'b.txt', 'c.txt'].entries()) {
          write(dir, { [f]: `burst ${i + 1}\n` });
          await until(async () => (await busy()) >= i + 1, `burst ${i + 1} to settle`);
        }
      });
      await until(async () => snapshots.length >= 4 && (await busy()) === 0, 'the three bursts snapshotted');
      const steps = (await listSteps(repo)).slice(0, 3).reverse();
      expect(steps.map((s) => s.kind)).toEqual(['auto', 'auto', 'auto']);
      // Each step holds its own burst's change, and only it.
      let prev = (await listSteps(repo))[3]!.tree;
      for (const [i, s] of steps.entries()) {
        expect(storeGit(dir, 'diff-tree', '-r', '--name-only', prev, s.tree).trim()).toBe(['a.txt', 'b.txt', 'c.txt'][i]);
        prev = s.tree;
      }
      expect((await listSteps(repo)).length).toBe(4);
    } finally {
      await w!.close();
    }
  });

  it("a race's attempts are watched by the repository's one daemon: status lists their worktrees, their steps come from it; race clean stops watching them", { timeout: 240_000 }, async () => {
    const { dir } = raceRepo();
    startTestDaemon(dir);
    const repo = await openRepo(dir);
    const r = spawnSync(process.execPath, [RACE, 'make f() return 2', '--models', 'editor,editor', '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CKPT_DAEMON: '1' }, timeout: 180_000 });
    expect(r.status, r.stderr).toBe(0);
    const race = JSON.parse(r.stdout);
    const dirs: string[] = race.attempts.map((a: { dir: string }) => fs.realpathSync(a.dir));
    expect(dirs.length).toBe(2);
    const st = await status(repo.commonDir);
    const daemonLog = fs.readFileSync(path.join(repo.commonDir, 'ckpt/daemon/log'), 'utf8');
    expect(st.worktrees.map((x) => x.worktree)).toEqual(expect.arrayContaining(dirs));
    for (const d of dirs) {
      const w = st.worktrees.find((x) => x.worktree === d)!;
      // The editor writes in bursts: at least one settled burst is a step the daemon took.
      expect(w.snapshots).toBeGreaterThanOrEqual(1);
      const steps = await listSteps(await openRepo(d));
      expect(steps.filter((s) => s.kind === 'auto').length).toBeGreaterThanOrEqual(2); // a burst and the final
      expect(fs.readFileSync(path.join(d, 'src/lib/helper.js'), 'utf8')).toBe('export const helper = () => 42;\n');
      expect(steps[0]!.extra).toMatchObject({ Race: race.id });
      // Its first step is its base, taken by the daemon (its log's line for it): the first full read of the worktree is the base's.
      const attempt = race.attempts.find((a: { dir: string }) => fs.realpathSync(a.dir) === d);
      const base = steps.at(-1)!;
      expect([base.step, base.kind, base.extra]).toMatchObject([1, 'base', { Race: race.id, Attempt: attempt.name, Round: '1' }]);
      expect(daemonLog).toContain(`${d}: step 1 (base, 1 request), full read`);
    }
    // Only the daemon watched: the race process is gone and nothing else runs for it.
    const c = spawnSync(process.execPath, [RACE, 'clean'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(c.status, c.stderr).toBe(0);
    const after = await status(repo.commonDir);
    expect(after.worktrees.map((x) => x.worktree)).toEqual([repo.worktree]);
  });
});
