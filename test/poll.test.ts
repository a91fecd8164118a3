/**
 * `--poll`: chokidar's polling instead of inotify, for file systems without
 * it (watch/poll-watch.ts, watch/watcher.ts). Real `ckpt watch --poll` and
 * `ckpt daemon start --poll` processes see a change by polling and record a
 * snapshot equal to git's own view; every daemon started is stopped (killed
 * if it will not stop) and its files removed, even when a test fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import type { WorktreeStatus } from '../src/watch/daemon.js';
import { POLL_FULL_READ } from '../src/watch/poll-watch.js';
import { ckptIn, spawnJsonWatch, startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { CLI, gitView, makeRepo, write } from './support/repo.js';
import { until } from './support/wait.js';

/** Inotify watches process `pid` holds (`inotify wd:` lines in /proc/<pid>/fdinfo): none when it polls. */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      n += fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

afterEach(stopTestDaemons);

describe('--poll', () => {
  it('ckpt watch --poll sees a change by polling, in its own process, and records git\'s view', async () => {
    const dir = makeRepo();
    const { child: w, events, exited } = spawnJsonWatch(dir, ['--poll']);
    try {
      await until(() => events.some((e) => e.event === 'ready'), 'the watch to be ready');
      expect(events.find((e) => e.event === 'ready').daemon).toBeUndefined();
      expect(inotifyWatches(w.pid!)).toBe(0); // polling, not inotify
      await until(() => events.some((e) => e.event === 'snapshot'), 'the initial snapshot');
      const initial = events.filter((e) => e.event === 'snapshot' && e.created).length;
      write(dir, { 'polled.txt': 'seen by polling\n' });
      await until(() => events.filter((e) => e.event === 'snapshot' && e.created).length > initial, 'a snapshot after the poll saw the write');
      expect(events.filter((e) => e.event === 'snapshot' && e.created).at(-1).snapshot.tree).toBe(gitView(dir));
    } finally {
      w.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  it('ckpt daemon start --poll: status says so, a write is seen by polling, and a hook\'s snapshot reads the whole worktree (git\'s view)', async () => {
    const dir = makeRepo();
    const pid = startTestDaemon(dir, ['--poll']);
    const status = (): WorktreeStatus => testDaemonStatus(dir).status.worktrees[0]!;
    expect(status().source).toBe('poll');
    expect(inotifyWatches(pid)).toBe(0); // polling, not inotify
    expect(ckptIn(dir, ['daemon', 'status']).stdout).toContain('polled (--poll)');
    write(dir, { 'polled.txt': 'seen by polling\n', 'new/dir.txt': 'x\n' });
    await until(() => status().events > 0, 'the poll to see the write');
    const hook = spawnSync(process.execPath, [CLI, 'hook', 'claude'], {
      cwd: dir,
      input: JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'x' }, tool_use_id: 'poll-1', session_id: 's' }),
      env: { ...process.env, CKPT_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '0' },
      timeout: 60_000,
    });
    expect(hook.status).toBe(0);
    const [tip] = await listSteps(await openRepo(dir));
    expect(tip!.toolUseId).toBe('poll-1');
    expect(tip!.tree).toBe(gitView(dir));
    expect(status().rescans[POLL_FULL_READ]).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
