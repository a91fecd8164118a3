/**
 * The daemon's start: when it is ready nothing can be missed, and what it
 * watches (issue 11's ready time and memory). Real `ckpt daemon` processes,
 * each stopped by the test file's afterEach (killed if it will not stop).
 *
 * What is shown: writes made right after `ckpt daemon start` returns are in
 * the next snapshot, and writes after that one, in every directory git reads
 * (a nested `.gitignore`'s, an ignored directory the user tracks a file in),
 * are in the one after it read in process from the events alone; the walk
 * reads each `.gitignore` it meets (a directory a nested one ignores is not
 * watched); the daemon's process runs with Node's options and environment of
 * daemon-control.ts and compacts its heap once after work; `daemon run`'s own argument reading hands anything
 * else to the full CLI (a bad duration is refused as every command refuses it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { daemonRequest } from '../src/watch/daemon-client.js';
import { DAEMON_NODE_OPTIONS } from '../src/watch/daemon-control.js';
import { ckptIn, daemonSnapshot, startTestDaemon, stopDaemonAfterTest, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { git, makeRepo, tempDir, write } from './support/repo.js';
import { until } from './support/wait.js';

afterEach(() => stopTestDaemons());

/** git's own view of the worktree: `git add -A` into a copy of the user's index (it tracks a file in an ignored directory), `write-tree`. */
function gitView(dir: string): string {
  const idx = path.join(tempDir('ckpt-view-'), 'index');
  fs.copyFileSync(path.join(dir, '.git', 'index'), idx);
  const env = { ...process.env, GIT_INDEX_FILE: idx };
  execFileSync('git', ['add', '-A'], { cwd: dir, env });
  return execFileSync('git', ['write-tree'], { cwd: dir, env, encoding: 'utf8' }).trim();
}

async function tipTree(dir: string): Promise<string> {
  const [t] = await listSteps(await openRepo(dir), { limit: 1, stats: false });
  return t!.tree;
}

/** A repository with a nested .gitignore and an ignored directory holding a tracked file. */
function layeredRepo(): string {
  const dir = makeRepo({
    'README.md': '# p\n',
    'a/one.txt': '1\n',
    'a/b/two.txt': '2\n',
    '.gitignore': 'build/\nvendor/\n',
    'sub/.gitignore': 'gen/\n',
    'sub/src/main.c': 'int main;\n',
  });
  write(dir, { 'vendor/lib/keep.txt': 'tracked though ignored\n', 'build/x.o': 'x', 'sub/gen/out.txt': 'generated\n' });
  git(dir, 'add', '-f', 'vendor/lib/keep.txt');
  git(dir, 'commit', '-q', '-m', 'vendor');
  return dir;
}

describe("the daemon's start", () => {
  it('ready means no change is missed: writes right after `daemon start` returns are in the next snapshot, later ones in every watched directory are read from the events', async () => {
    const dir = layeredRepo();
    startTestDaemon(dir);
    // Right after start returns: the daemon may still be walking; its first snapshot reads everything.
    write(dir, { 'README.md': '# right after start\n', 'a/b/c/new.txt': 'new\n', 'sub/src/main.c': 'int main(void);\n', 'vendor/lib/keep.txt': 'changed at once\n', 'top.txt': 'top\n' });
    await daemonSnapshot(dir, 'manual');
    expect(await tipTree(dir)).toBe(gitView(dir));
    // After it: every directory git reads is watched, so the next snapshot is read in process and equals git's view.
    write(dir, { 'a/one.txt': '1 again\n', 'a/b/c/new.txt': 'newer\n', 'sub/src/util.c': 'int u;\n', 'vendor/lib/keep.txt': 'changed later\n', 'sub/gen/out.txt': 'ignored, not in it\n' });
    fs.rmSync(path.join(dir, 'top.txt'));
    await daemonSnapshot(dir, 'manual');
    expect(await tipTree(dir)).toBe(gitView(dir));
    const w = testDaemonStatus(dir).status.worktrees[0]!;
    expect(w.rescans).toEqual({ 'the daemon started watching': 1 });
    expect(w.incremental).toBe(1);
  });

  it("the walk reads each .gitignore it meets: a directory a nested one ignores is not watched, an ignored one the user tracks a file in is", async () => {
    const dir = layeredRepo();
    startTestDaemon(dir);
    await daemonSnapshot(dir, 'manual');
    const w = testDaemonStatus(dir).status.worktrees[0] as unknown as { watches: number };
    // '', a, a/b, sub, sub/src, vendor, vendor/lib: not build/ (root .gitignore) nor sub/gen/ (sub/.gitignore).
    expect(w.watches).toBe(7);
    // A new directory under the nested rule is not watched either; one beside it is.
    write(dir, { 'sub/gen/more/x.txt': 'x\n', 'sub/docs/y.txt': 'y\n' });
    await daemonSnapshot(dir, 'manual');
    expect(await tipTree(dir)).toBe(gitView(dir));
    expect((testDaemonStatus(dir).status.worktrees[0] as unknown as { watches: number }).watches).toBe(8);
  });

  it("a directory with no subdirectory (not read: its link count says so) still has its .gitignore read: a directory it re-includes is watched when it appears", async () => {
    // leaf/ has files only: the walk takes it for a leaf (ext4, XFS, tmpfs: watch/dir-leaf.ts) and looks only for its .gitignore.
    const dir = makeRepo({ '.gitignore': 'build/\n', 'leaf/.gitignore': '!build/\n', 'leaf/a.txt': 'a\n', 'deep/er/b.txt': 'b\n' });
    startTestDaemon(dir);
    await daemonSnapshot(dir, 'manual');
    const watches = (): number => (testDaemonStatus(dir).status.worktrees[0] as unknown as { watches: number }).watches;
    // '', leaf, deep, deep/er.
    expect(watches()).toBe(4);
    // leaf/build: ignored by the root's rule, re-included by leaf's; watched when it appears, so a file written into it later is read from its event.
    write(dir, { 'leaf/build/x.txt': 'x\n', 'build/y.txt': 'ignored\n' });
    await daemonSnapshot(dir, 'manual');
    expect(await tipTree(dir)).toBe(gitView(dir));
    expect(watches()).toBe(5);
    write(dir, { 'leaf/build/later.txt': 'later\n', 'deep/er/c.txt': 'c\n' });
    await daemonSnapshot(dir, 'manual');
    expect(await tipTree(dir)).toBe(gitView(dir));
    expect(testDaemonStatus(dir).status.worktrees[0]!.rescans).toEqual({ 'the daemon started watching': 1 });
  });

  it("runs with Node's options for the daemon; `daemon run` hands arguments it does not read to the full CLI", () => {
    const dir = makeRepo();
    const pid = startTestDaemon(dir, ['--idle', '10m']);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const o of DAEMON_NODE_OPTIONS) expect(argv).toContain(o);
    // Compaction only in the quiet collection (daemon-heap.ts switches it on there), not in every full one V8 starts during a step.
    expect(argv).not.toContain('--compact-on-every-full-gc');
    // glibc's malloc held to one arena (daemonEnv), unless the environment says otherwise.
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '1'}`);
    expect(argv.slice(-7)).toEqual(['daemon', 'run', '--idle', '600000ms', '--verify', '600000ms', '']);
    // A bad duration: refused by the full CLI's schema (exit 2), no daemon started.
    const bad = ckptIn(dir, ['daemon', 'run', '--idle', '0s']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_DURATION|longer than zero/);
    // A second daemon through the fast path: the lock refuses it, printed as the CLI prints errors.
    const second = ckptIn(dir, ['daemon', 'run', '--verify', '1h']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/already runs/);
  });

  it("its git children run with the user's MALLOC_ARENA_MAX, not the daemon's one arena: unset unless the user set it", async () => {
    // A git on PATH that notes the value each git child of the daemon's was started with, then runs the real one.
    const bin = tempDir('ckpt-git-env-');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    fs.writeFileSync(path.join(bin, 'git'), `#!/bin/sh\necho "\${MALLOC_ARENA_MAX-unset} \${CKPT_DAEMON_SET_MALLOC_ARENA_MAX-unset}" >> "$CKPT_TEST_GIT_ENV"\nexec ${realGit} "$@"\n`, { mode: 0o755 });
    for (const user of [undefined, '2']) {
      const dir = makeRepo({ 'a.txt': 'a\n' });
      const noted = path.join(bin, `noted-${user ?? 'unset'}`);
      const env = { PATH: `${bin}:${process.env.PATH}`, CKPT_TEST_GIT_ENV: noted, MALLOC_ARENA_MAX: user };
      stopDaemonAfterTest(dir);
      const r = ckptIn(dir, ['daemon', 'start', '--json', '--verify', '10m', '--idle', '10m'], env);
      expect(r.code, r.stderr).toBe(0);
      // The daemon itself was started with one arena, or the user's value.
      expect(fs.readFileSync(`/proc/${JSON.parse(r.stdout).pid}/environ`, 'utf8').split('\0')).toContain(`MALLOC_ARENA_MAX=${user ?? '1'}`);
      fs.rmSync(noted, { force: true }); // the CLI's own git runs before the daemon's
      write(dir, { 'a.txt': 'changed\n', 'b.txt': 'b\n' });
      await daemonSnapshot(dir, 'manual');
      const lines = fs.readFileSync(noted, 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      expect(new Set(lines)).toEqual(new Set([`${user ?? 'unset'} unset`]));
    }
  });

  it('compacts its heap once after work, when quiet, and not again until more work was done', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    // Its idle stop ends the test: 5 s without a request, several of the watchdog's one-second ticks after the last compaction.
    startTestDaemon(dir, ['--idle', '5s']);
    const log = path.join(dir, '.git', 'ckpt', 'daemon', 'log');
    const logText = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    const compactions = (): number => logText().match(/heap compacted/g)?.length ?? 0;
    // The trees read ahead at start are work too.
    await until(() => compactions() === 1, 'the compaction after the start');
    write(dir, { 'a.txt': 'changed\n' });
    await daemonSnapshot(dir, 'after');
    await until(() => compactions() === 2, 'the compaction after a snapshot');
    // Quiet, with no work since, until the daemon stops itself as idle (no request is sent: each would restart the quiet time):
    // the watchdog's ticks in between (at least three, one a second) compacted nothing.
    await until(() => /stopped: idle for/.test(logText()), 'the idle stop');
    expect(compactions()).toBe(2);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/quiet: heap compacted, \d+\.\d → \d+\.\d MB in \d+ ms/);
  });

  it('compacts early only after a step that is not `before`, and a request within its quiet time delays that compaction, never drops it', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    // Any growth arms the early compaction (a small repository never grows the heap by 4 MiB): daemon-heap.ts grownBytesFromEnv.
    startTestDaemon(dir, ['--idle', '30s'], { CKPT_DAEMON_GROWN_BYTES: '0' });
    const repo = await openRepo(dir);
    const log = path.join(dir, '.git', 'ckpt', 'daemon', 'log');
    const compactions = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').split('\n').filter((l) => l.includes('heap compacted'));
    await until(() => compactions().length === 1, 'the compaction after the start');
    // A `before` step: its agent's `after` hook comes once the tool has run, so the heap waits for the quiet compaction (1 s).
    write(dir, { 'a.txt': 'before\n' });
    await daemonSnapshot(dir, 'before');
    await until(() => compactions().length === 2, 'the compaction after the before step');
    expect(compactions()[1]).toMatch(/ quiet: heap compacted/);
    // An `after` step, then a status every 20 ms for 400 ms: each restarts the 100 ms quiet; the early compaction comes once they stop.
    write(dir, { 'a.txt': 'after\n' });
    await daemonSnapshot(dir, 'after');
    const until400 = Date.now() + 400;
    while (Date.now() < until400) {
      const r = await daemonRequest(repo.commonDir, 'status', {}, { connectMs: 5000, replyMs: 5000 });
      expect(r?.ok).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(compactions()).toHaveLength(2);
    await until(() => compactions().length === 3, 'the compaction after the after step');
    expect(compactions()[2]).toMatch(/ after work: heap compacted/);
  });
});
