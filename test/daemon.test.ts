/**
 * The daemon as users run it: real `ckpt daemon` processes and real
 * `ckpt hook claude` processes talking to it over its socket. Each test
 * starts its own daemon and stops it (killing it if it will not stop) and
 * removes its files, even when the test fails.
 *
 * What is shown: start / status / stop, a second daemon refused, a daemon
 * killed with SIGKILL replaced at once, another version refused, idle stop;
 * every kind of change a watcher can miss or misreport ends in a snapshot
 * equal to git's own view of the worktree; a daemon killed while a hook waits
 * for its snapshot makes the hook take it directly (nothing lost); parallel
 * hooks; two worktrees; the hook starting a daemon for the next hooks;
 * `ckpt watch` through the daemon and on by itself when it dies; a 30k-write
 * burst the kernel's queue cannot hold; a change no event reports (a write
 * through a hard link elsewhere) found by the idle check.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { readAgentState } from '../src/agents/state.js';
import { FOLD_AT_PACKS, storePacks } from '../src/git/pack-fold.js';
import { withWorktreeLock } from '../src/snapshot/lock.js';
import { daemonRequest } from '../src/watch/daemon-client.js';
import { DAEMON_PROTOCOL, socketPath } from '../src/watch/daemon-paths.js';
import { ckptIn as ckpt, daemonSnapshot, spawnJsonWatch, startTestDaemon as startDaemon, stopDaemonAfterTest, stopTestDaemons, testDaemonStatus as status } from './support/daemon.js';
import { daemonsWith } from './support/daemons.js';
import { alive } from './support/procs.js';
import { CLI, HOOK, git, gitView, indexBytes, makeRepo, picture, storeDir, storeGit, tempDir, write } from './support/repo.js';
import { until } from './support/wait.js';

afterEach(stopTestDaemons);

/** Runs the hook (`ckpt-hook.cjs claude`, as installed) as Claude Code would, through the daemon. */
function hook(dir: string, event: 'PreToolUse' | 'PostToolUse', id: string, env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [HOOK, 'claude'], { cwd: dir, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, CKPT_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '0', ...env } });
    p.on('error', reject);
    p.on('close', (code) => resolve(code ?? -1));
    p.stdin.end(JSON.stringify({ hook_event_name: event, cwd: dir, tool_name: 'Bash', tool_input: { command: `step ${id}` }, tool_use_id: id, session_id: 's' }));
  });
}

async function tip(dir: string): Promise<{ tree: string; step: number; toolUseIds: string[]; toolUseId: string | null; kind: string }> {
  const steps = await listSteps(await openRepo(dir));
  return steps[0]! as never;
}

describe('ckpt daemon', () => {
  it('starts once per repository, reports its status, refuses a second daemon and another version, stops', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    expect(alive(pid)).toBe(true);
    const s = status(dir);
    expect(s.running).toBe(true);
    expect(s.status.pid).toBe(pid);
    expect(s.status.worktrees.map((w: any) => w.worktree)).toEqual([fs.realpathSync(dir)]);
    expect(s.status.worktrees[0]!.watches).toBeGreaterThan(0);
    // A second daemon: `start` finds the first; `run` is refused by the lock.
    expect(JSON.parse(ckpt(dir, ['daemon', 'start', '--json']).stdout)).toEqual({ pid, started: false });
    const second = ckpt(dir, ['daemon', 'run']);
    expect(second.code).not.toBe(0);
    expect(second.stderr + second.stdout).toMatch(/DAEMON_RUNNING|already runs/);
    // A client of another version gets no service.
    const reply = await new Promise<any>((resolve) => {
      const sock = net.connect(socketPath(path.join(dir, '.git')));
      sock.on('connect', () => sock.write(JSON.stringify({ v: DAEMON_PROTOCOL, version: '0.0.0-other', cmd: 'status' }) + '\n'));
      sock.setEncoding('utf8');
      let buf = '';
      sock.on('data', (c: string) => (buf += c));
      sock.on('end', () => resolve(JSON.parse(buf)));
    });
    expect(reply).toMatchObject({ ok: false, code: 'VERSION' });
    expect(ckpt(dir, ['daemon', 'stop']).code).toBe(0);
    await until(() => !alive(pid), 'the daemon to exit');
    expect(status(dir).running).toBe(false);
    expect(fs.existsSync(socketPath(path.join(dir, '.git')))).toBe(false);
    expect(fs.existsSync(path.join(dir, '.git/ckpt/daemon/daemon.json'))).toBe(false);
    expect(ckpt(dir, ['daemon', 'stop']).code).not.toBe(0);
  });

  it('ckpt daemon stop stops a daemon of another version (one left running by an upgrade)', async () => {
    const dir = makeRepo();
    // The earlier install: this build under another version (its bin, dist and package.json; the same node_modules).
    const root = path.resolve(path.dirname(CLI), '..');
    const old = tempDir('ckpt-old-install-');
    for (const d of ['bin', 'dist']) fs.cpSync(path.join(root, d), path.join(old, d), { recursive: true });
    fs.copyFileSync(path.join(root, 'package.json'), path.join(old, 'package.json'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(old, 'node_modules'));
    let patched = 0;
    for (const f of fs.readdirSync(path.join(old, 'dist'), { recursive: true }) as string[]) {
      const file = path.join(old, 'dist', f);
      if (!/\.c?js$/.test(f)) continue;
      const text = fs.readFileSync(file, 'utf8');
      const next = text.replace(/(var DAEMON_VERSION = `\$\{[^`]*: )"[^"]*"(\}\+p)/, '$1"0.0.9-old"$2');
      if (next !== text) (fs.writeFileSync(file, next), patched++);
    }
    expect(patched).toBeGreaterThan(0);
    stopDaemonAfterTest(dir);
    const up = spawnSync(process.execPath, [path.join(old, 'bin', 'ckpt.js'), 'daemon', 'start', '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(up.status, up.stderr).toBe(0);
    const pid = JSON.parse(up.stdout).pid as number;
    expect(ckpt(dir, ['daemon', 'status', '--json']).stdout).toContain('0.0.9-old');
    const r = ckpt(dir, ['daemon', 'stop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stopped: true, pid });
    await until(() => !alive(pid), 'the daemon to exit');
  });

  it('a daemon killed with SIGKILL leaves a stale lock and socket that the next one takes over at once', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 'the daemon to die');
    expect(fs.existsSync(socketPath(path.join(dir, '.git')))).toBe(true);
    const pid2 = startDaemon(dir);
    expect(pid2).not.toBe(pid);
    expect(status(dir).status.pid).toBe(pid2);
  });

  it('stops by itself, its socket removed, when its repository is removed; a removed worktree is no longer watched', { timeout: 120_000 }, async () => {
    const dir = makeRepo();
    const wt = path.join(tempDir('ckpt-wt-'), 'linked');
    git(dir, 'worktree', 'add', '-q', wt);
    const common = git(dir, 'rev-parse', '--path-format=absolute', '--git-common-dir').trim();
    // Not through startDaemon: its repository will be gone for stopTestDaemons; this test ends it itself.
    const r = ckpt(dir, ['daemon', 'start', '--json', '--verify', '10m']);
    expect(r.code, r.stderr).toBe(0);
    const pid = JSON.parse(r.stdout).pid as number;
    try {
      const watched = (): number => (status(dir).status?.worktrees ?? []).length;
      expect((await daemonRequest(common, 'watch', { cwd: wt }, { connectMs: 5000, replyMs: 30_000 }))?.ok).toBe(true);
      expect(watched()).toBe(2);
      fs.rmSync(wt, { recursive: true, force: true });
      await until(() => watched() === 1, 'the removed worktree unwatched', 60_000);
      fs.rmSync(dir, { recursive: true, force: true });
      await until(() => !alive(pid), 'the daemon to stop', 60_000);
      expect(fs.existsSync(socketPath(common))).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      fs.rmSync(socketPath(common), { force: true });
      fs.rmSync(path.dirname(wt), { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops by itself after its idle time', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir, ['--idle', '1s']);
    await until(() => !alive(pid), 'the idle stop');
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8')).toMatch(/stopped: idle/);
  });

  it('every kind of change a watcher can miss or misreport ends in a snapshot equal to git\'s own view', async () => {
    const dir = makeRepo({ 'README.md': '# p\n', 'a/one.txt': '1\n', 'a/b/two.txt': '2\n', 'run.sh': '#!/bin/sh\n', '.gitignore': 'build/\n*.log\n' });
    fs.symlinkSync('README.md', path.join(dir, 'link'));
    startDaemon(dir);
    const edits: [string, () => void][] = [
      ['edit a file', () => write(dir, { 'README.md': '# changed\n' })],
      ['mkdir -p with files', () => write(dir, { 'n/m/o/p.txt': 'p\n', 'n/m/q.txt': 'q\n' })],
      ['rename a directory', () => fs.renameSync(path.join(dir, 'a'), path.join(dir, 'z'))],
      ['rename it back', () => fs.renameSync(path.join(dir, 'z'), path.join(dir, 'a'))],
      ['move a directory into another', () => fs.renameSync(path.join(dir, 'n'), path.join(dir, 'a/b/n'))],
      ['write into the moved directory', () => write(dir, { 'a/b/n/m/new.txt': 'new\n' })],
      ['exec bit only', () => fs.chmodSync(path.join(dir, 'run.sh'), 0o755)],
      ['symlink retargeted', () => {
        fs.rmSync(path.join(dir, 'link'));
        fs.symlinkSync('a/one.txt', path.join(dir, 'link'));
      }],
      ['temp file + rename', () => {
        fs.writeFileSync(path.join(dir, 'a/one.txt.tmp'), 'one, atomically\n');
        fs.renameSync(path.join(dir, 'a/one.txt.tmp'), path.join(dir, 'a/one.txt'));
      }],
      ['same-size rewrite, same mtime', () => {
        const p = path.join(dir, 'a/b/two.txt');
        const st = fs.statSync(p);
        fs.writeFileSync(p, '3\n');
        fs.utimesSync(p, st.atime, st.mtime);
      }],
      ['ignored files', () => write(dir, { 'build/out.o': 'x', 'debug.log': 'x' })],
      ['remove a directory', () => fs.rmSync(path.join(dir, 'a/b'), { recursive: true })],
      ['file replaced by a directory', () => {
        fs.rmSync(path.join(dir, 'README.md'));
        write(dir, { 'README.md/inner.txt': 'inner\n' });
      }],
    ];
    let n = 0;
    for (const [what, edit] of edits) {
      n++;
      expect(await hook(dir, 'PreToolUse', `t${n}`), what).toBe(0);
      edit();
      expect(await hook(dir, 'PostToolUse', `t${n}`), what).toBe(0);
      const t = await tip(dir);
      expect([t.kind, t.toolUseId, t.step], what).toEqual(['after', `t${n}`, 2 * n]);
      expect(t.tree, what).toBe(gitView(dir));
    }
    const w = status(dir).status.worktrees[0]!;
    console.log(`daemon: ${w.incremental} of ${w.snapshots} snapshots in process; full reads: ${JSON.stringify(w.rescans)}`);
    expect(w.snapshots).toBe(2 * edits.length);
    // Most were read in process; the first (start) and any the daemon was unsure of were full reads.
    expect(w.incremental).toBeGreaterThan(edits.length);
    git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
  });

  it('a daemon killed after its step is written and before it replies: the hook falls back and records no second step (the pair stays exact)', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir, [], { CKPT_DAEMON_TEST_KILL_AFTER_STEP: '1' });
    write(dir, { 'work.txt': 'the agent wrote this\n' });
    expect(await hook(dir, 'PreToolUse', 'd1')).toBe(0);
    await until(() => !alive(pid), 'the daemon to die');
    const repo = await openRepo(dir);
    const steps = await listSteps(repo);
    expect(steps.filter((s) => s.toolUseIds.includes('d1')).map((s) => s.kind)).toEqual(['before']);
    expect((await tip(dir)).tree).toBe(gitView(dir));
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/hook.log'), 'utf8')).toMatch(/d1: the daemon recorded the step and did not answer: not recorded again/);
    // With no daemon, the next call's steps are taken directly, one each.
    write(dir, { 'work.txt': 'the next call\n' });
    expect(await hook(dir, 'PostToolUse', 'd1')).toBe(0);
    expect(await hook(dir, 'PreToolUse', 'd2')).toBe(0);
    const after = await listSteps(repo);
    expect(after.filter((s) => s.toolUseIds.includes('d1')).map((s) => s.kind)).toEqual(['after', 'before']);
    expect(after.filter((s) => s.toolUseIds.includes('d2')).map((s) => s.kind)).toEqual(['before']);
    expect((await tip(dir)).tree).toBe(gitView(dir));
  });

  it('a daemon killed while a hook waits for its snapshot: the hook takes it directly, nothing lost', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    expect(await hook(dir, 'PreToolUse', 'k1')).toBe(0);
    write(dir, { 'work.txt': 'the agent wrote this\n' });
    const repo = await openRepo(dir);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Hold the worktree lock so the daemon's snapshot waits inside it.
    const holder = withWorktreeLock(repo, async () => {
      locked();
      await held;
    });
    await isLocked;
    const post = hook(dir, 'PostToolUse', 'k1', { CKPT_HOOK_WAIT: '30s' });
    await until(() => (status(dir).status?.worktrees[0]?.busy ?? 0) > 0, 'the daemon to be serving the hook');
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 'the daemon to die');
    release();
    await holder;
    expect(await post).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId]).toEqual(['after', 'k1']);
    expect(t.tree).toBe(gitView(dir));
    const steps = await listSteps(repo);
    expect(steps.filter((s) => s.toolUseId === 'k1').map((s) => s.kind).sort()).toEqual(['after', 'before']);
  });

  it('parallel hooks are served by one snapshot per kind naming every tool-use id', async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    expect(await Promise.all(ids.map((id) => hook(dir, 'PreToolUse', id)))).toEqual(ids.map(() => 0));
    for (const id of ids) write(dir, { [`gen/${id}.txt`]: id });
    expect(await Promise.all(ids.map((id) => hook(dir, 'PostToolUse', id)))).toEqual(ids.map(() => 0));
    const steps = await listSteps(await openRepo(dir));
    for (const kind of ['before', 'after']) {
      const named = steps.filter((s) => s.kind === kind).flatMap((s) => (s.toolUseIds.length > 0 ? s.toolUseIds : [s.toolUseId]));
      // The whole chain in the message: a failure here must say which hook was recorded twice or not at all.
      expect(named.sort(), `${kind}: ${JSON.stringify(steps.map((x) => [x.step, x.kind, x.toolUseId, x.toolUseIds]))}; daemon log: ${fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8')}`).toEqual(ids);
    }
    expect(steps[0]!.tree).toBe(gitView(dir));
  });

  it("'snapshot' of kind base records a race's trailers (Race, Attempt, Round, validated); any other trailer or a bad value is refused (BAD_REQUEST), nothing recorded, as by 'subscribe'", async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const repo = await openRepo(dir);
    const ask = (cmd: string, extra: unknown): ReturnType<typeof daemonRequest> => daemonRequest(repo.commonDir, cmd, { cwd: repo.worktree, kind: 'base', message: 'base of race', extra }, { connectMs: 5000, replyMs: 60_000 });
    const trailers = { Race: '20261202-131500-a1b2', Attempt: 'claude-2', Round: '1' };
    const ok = await ask('snapshot', trailers);
    expect(ok?.ok, JSON.stringify(ok)).toBe(true);
    const steps = await listSteps(repo);
    expect([steps[0]!.kind, steps[0]!.extra]).toEqual(['base', trailers]);
    const bad = [{ Kind: 'manual' }, { Head: '0'.repeat(40) }, { ...trailers, Extra: 'x' }, { Race: 'x\nKind: manual' }, { Attempt: '-x' }, { Attempt: 'a b' }, { Round: '0' }, { Round: 1 }, ['Race'], 'Race'];
    for (const extra of bad) {
      for (const cmd of ['snapshot', 'subscribe']) {
        const r = await ask(cmd, extra);
        expect([r?.ok, r?.code], `${cmd} ${JSON.stringify(extra)}`).toEqual([false, 'BAD_REQUEST']);
      }
    }
    expect((await listSteps(repo)).map((s) => s.id)).toEqual(steps.map((s) => s.id));
  });

  it("a hook's race (CKPT_RACE_ID, CKPT_ATTEMPT, CKPT_ROUND) is validated as 'snapshot' validates its trailers: a bad race id or attempt name is refused (BAD_REQUEST), nothing recorded, not even the agent's state", async () => {
    const dir = makeRepo({ 'a.txt': 'a0\n' });
    startDaemon(dir);
    const repo = await openRepo(dir);
    const stdin = (id: string): string => JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: `step ${id}` }, tool_use_id: id, session_id: 's' });
    const ask = (id: string, race: unknown): ReturnType<typeof daemonRequest> => daemonRequest(repo.commonDir, 'hook', { agent: 'claude', stdin: stdin(id), cwd: dir, ppid: process.pid, race }, { connectMs: 5000, replyMs: 60_000 });
    const good = { CKPT_RACE_ID: '20261202-131500-a1b2', CKPT_ATTEMPT: 'claude-2', CKPT_ROUND: '2' };
    const bad = [
      { ...good, CKPT_RACE_ID: 'x\nKind: manual' },
      { ...good, CKPT_RACE_ID: '20261202-131500-a1b2\nHead: x' },
      { ...good, CKPT_ATTEMPT: '-x' },
      { ...good, CKPT_ATTEMPT: 'a b' },
      { ...good, CKPT_ATTEMPT: 'claude\nKind: manual' },
    ];
    const before = (await listSteps(repo)).map((s) => s.id);
    expect(readAgentState(repo)).toBeNull();
    for (const [i, race] of bad.entries()) {
      const r = await ask(`bad${i}`, race);
      expect([r?.ok, r?.code], JSON.stringify(race)).toEqual([false, 'BAD_REQUEST']);
    }
    expect((await listSteps(repo)).map((s) => s.id)).toEqual(before);
    expect(readAgentState(repo)).toBeNull();
    // The same hook with a good race is served, its trailers on the step.
    const ok = await ask('good', good);
    expect(ok?.ok, JSON.stringify(ok)).toBe(true);
    const [t] = await listSteps(repo);
    expect([t!.kind, t!.toolUseId, t!.extra]).toEqual(['before', 'good', { Race: good.CKPT_RACE_ID, Attempt: good.CKPT_ATTEMPT, Round: '2' }]);
    expect(readAgentState(repo)).not.toBeNull();
  });

  it("the store's packs (one a step) are folded once the daemon is quiet: every step's tree still whole, fsck clean", async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const repo = await openRepo(dir);
    // Five new files in a directory of their own a step: enough objects for the step to write a pack (snapshot/object-writer.ts).
    const files = (i: number): Record<string, string> => Object.fromEntries([0, 1, 2, 3, 4].map((j) => [`d${i}/f${j}.txt`, `${i}.${j}\n`.repeat(i + 1)]));
    for (let i = 0; i < FOLD_AT_PACKS + 2; i++) {
      write(dir, files(i));
      await daemonSnapshot(dir, 'auto');
    }
    expect(fs.readdirSync(path.join(storeDir(dir), 'objects/pack')).filter((n) => n.endsWith('.pack')).length).toBeGreaterThanOrEqual(FOLD_AT_PACKS);
    const log = (): string => fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8');
    await until(() => storePacks(repo).length < FOLD_AT_PACKS && /folded \d+ packs into pack-/.test(log()), 'the packs folded');
    const steps = await listSteps(repo);
    // The steps' objects read back from the folded pack: the last tree is git's view and holds every file's bytes.
    expect(steps[0]!.tree).toBe(gitView(dir));
    for (let i = 0; i < FOLD_AT_PACKS + 2; i++) {
      for (const [name, bytes] of Object.entries(files(i))) expect(storeGit(dir, 'show', `${steps[0]!.tree}:${name}`), `${name} in the last step`).toBe(bytes);
    }
    const fsck = spawnSync('git', [`--git-dir=${storeDir(dir)}`, 'fsck', '--strict', '--no-dangling', '--no-progress'], { cwd: dir, encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    expect(fsck.stdout + fsck.stderr).not.toMatch(/error|missing|broken|corrupt/i);
  });

  it('serves two worktrees of one repository', async () => {
    const dir = makeRepo();
    const wt2 = path.join(tempDir('ckpt-wt2-'), 'second');
    git(dir, 'worktree', 'add', '-q', wt2);
    startDaemon(dir);
    for (const d of [dir, wt2]) {
      expect(await hook(d, 'PreToolUse', `w-${path.basename(d)}`)).toBe(0);
      write(d, { 'mine.txt': d });
      expect(await hook(d, 'PostToolUse', `w-${path.basename(d)}`)).toBe(0);
    }
    const s = status(dir).status;
    expect(s.worktrees.map((w: any) => w.worktree).sort()).toEqual([fs.realpathSync(dir), fs.realpathSync(wt2)].sort());
    for (const d of [dir, wt2]) {
      const t = await tip(d);
      expect([t.kind, t.toolUseId]).toEqual(['after', `w-${path.basename(d)}`]);
      expect(t.tree).toBe(gitView(d));
    }
  });

  it('a hook with none running takes its snapshot directly and starts one for the next hooks; CKPT_NO_DAEMON=1 does not', async () => {
    const dir = makeRepo();
    stopDaemonAfterTest(dir);
    expect(await hook(dir, 'PreToolUse', 'n1', { CKPT_NO_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '1' })).toBe(0);
    expect(status(dir).running).toBe(false);
    expect(await hook(dir, 'PreToolUse', 'a1', { CKPT_DAEMON_AUTOSTART: '1' })).toBe(0);
    expect((await tip(dir)).toolUseId).toBe('a1');
    await until(() => status(dir).running === true, 'the daemon the hook started');
    write(dir, { 'x.txt': 'x' });
    expect(await hook(dir, 'PostToolUse', 'a1')).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId]).toEqual(['after', 'a1']);
    expect(t.tree).toBe(gitView(dir));
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1);
  });

  it('ckpt watch goes through a running daemon, and goes on by itself when the daemon is killed', async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    const { child: w, events, exited } = spawnJsonWatch(dir);
    try {
      await until(() => events.some((e) => e.event === 'ready'), 'the watch to be ready');
      expect(events.find((e) => e.event === 'ready').daemon).toBe(true);
      await until(() => events.some((e) => e.event === 'snapshot'), 'the initial snapshot');
      const initial = events.filter((e) => e.event === 'snapshot' && e.created).length;
      write(dir, { 'watched.txt': 'one\n' });
      await until(() => events.filter((e) => e.event === 'snapshot' && e.created).length > initial, 'a snapshot of the burst');
      expect(events.filter((e) => e.event === 'snapshot' && e.created).at(-1).snapshot.tree).toBe(gitView(dir));
      expect(status(dir).status.worktrees[0]!.snapshots).toBeGreaterThanOrEqual(2);
      process.kill(pid, 'SIGKILL');
      await until(() => events.some((e) => e.event === 'error' && e.error.code === 'DAEMON_FAILED'), 'the watch to notice');
      write(dir, { 'watched.txt': 'two\n', 'more/file.txt': 'x' });
      // A catch-up snapshot the watch began when the daemon went may still land after the
      // write, holding the state before it: wait for the one of this write, not the next one.
      const want = gitView(dir);
      await until(() => events.some((e) => e.event === 'snapshot' && e.created && e.snapshot.tree === want), 'a snapshot taken by the watch itself');
      expect((await tip(dir)).tree).toBe(gitView(dir));
    } finally {
      w.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  it('a burst of 30k writes while the daemon cannot read its events: the next snapshot reads everything and equals git\'s view', { timeout: 300_000 }, async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    expect(await hook(dir, 'PreToolUse', 'b1')).toBe(0);
    // Stopped, the daemon reads no events: the kernel's queue (16384 by default) overflows and drops the rest.
    process.kill(pid, 'SIGSTOP');
    try {
      // Into a directory the daemon watches (src/): ~33k events.
      for (let i = 0; i < 10_000; i++) fs.writeFileSync(path.join(dir, 'src', `f${i}.txt`), `${i}\n`);
      for (let i = 0; i < 10_000; i += 2) fs.writeFileSync(path.join(dir, 'src', `f${i}.txt`), `${i} again\n`);
      for (let i = 0; i < 10_000; i += 3) fs.rmSync(path.join(dir, 'src', `f${i}.txt`));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await hook(dir, 'PostToolUse', 'b1', { CKPT_HOOK_WAIT: '60s' })).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId]).toEqual(['after', 'b1']);
    expect(t.tree).toBe(gitView(dir));
    const w = status(dir).status.worktrees[0]!;
    expect(Object.keys(w.rescans).join('; ')).toMatch(/a burst of \d+ events/);
  });

  it('daemon status of a daemon that does not answer names its pid instead of saying none runs (exit 1)', { timeout: 120_000 }, async () => {
    const dir = makeRepo();
    // Stopped longer than the run's CKPT_DAEMON_IDLE (test/support/setup.ts), it would stop itself as soon as it runs again.
    const pid = startDaemon(dir, ['--idle', '10m']);
    process.kill(pid, 'SIGSTOP');
    let r: ReturnType<typeof ckpt>;
    try {
      r = ckpt(dir, ['daemon', 'status', '--json']);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ running: false, silentPid: pid });
    expect(status(dir).status.pid).toBe(pid);
  });

  it('the idle check finds a change no event reported (a write through a hard link outside the worktree), and the next snapshot reads everything', async () => {
    const dir = makeRepo({ 'README.md': '# p\n', 'linked.txt': 'before\n' });
    const outside = path.join(tempDir('ckpt-link-'), 'same-inode.txt');
    fs.linkSync(path.join(dir, 'linked.txt'), outside);
    startDaemon(dir, ['--verify', '1s']);
    expect(await hook(dir, 'PreToolUse', 'h1')).toBe(0);
    // inotify reports a write to the directory it happens through: this one, in no watched directory.
    fs.writeFileSync(outside, 'changed behind the watcher\n');
    const logFile = path.join(dir, '.git/ckpt/daemon/log');
    // Wait without asking the daemon anything (a request counts as activity and defers the idle check).
    await until(() => /the idle check found changes no event reported/.test(fs.readFileSync(logFile, 'utf8')), 'the idle check', 30_000);
    const w = status(dir).status.worktrees[0]!;
    expect(w.missed).toBeGreaterThanOrEqual(1);
    expect(await hook(dir, 'PostToolUse', 'h1')).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId]).toEqual(['after', 'h1']);
    expect(t.tree).toBe(gitView(dir));
    expect(Object.keys(status(dir).status.worktrees[0]!.rescans)).toContain('the idle check found changes the events missed');
  });

  it('ckpt rollback reads the worktree through the daemon (its dirty set after a sync point), byte for byte, undoably; by git once no daemon runs', async () => {
    const dir = makeRepo({ '.gitignore': '*.log\n', 'a.txt': 'a\n', 'd/b.txt': 'b\n', 'run.sh': '#!/bin/sh\n' });
    write(dir, { 'keep.log': 'ignored\n', 'staged.txt': 's\n' });
    git(dir, 'add', 'staged.txt');
    const index0 = indexBytes(dir).toString('base64');
    startDaemon(dir);
    const before = picture(dir);
    expect(await hook(dir, 'PreToolUse', 't1')).toBe(0);
    write(dir, { 'a.txt': 'agent\n', 'd/new.txt': 'n\n', 'd/b.txt': null, 'keep.log': 'changed, ignored\n' });
    fs.chmodSync(path.join(dir, 'run.sh'), 0o755);
    expect(await hook(dir, 'PostToolUse', 't1')).toBe(0);
    // A file written after the last hook, unrecorded: the daemon's read must see it (the rollback deletes it, --undo brings it back).
    write(dir, { 'late.txt': 'written after the hook\n' });
    const after = picture(dir);
    const r = ckpt(dir, ['rollback', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.readBy).toBe('daemon');
    expect(picture(dir)).toEqual({ ...before, 'keep.log': after['keep.log'] });
    expect(indexBytes(dir).toString('base64')).toBe(index0);
    const w = status(dir).status.worktrees[0]!;
    expect(w.reads).toBeGreaterThanOrEqual(2); // the plan's read and the result's
    expect((await tip(dir)).tree).toBe(gitView(dir));
    // The result of this whole-tree restore wrote its commit alone (snapshot/restore.ts storedAlready): its tree and
    // everything it names must be in the store already, which fsck checks from every ref.
    storeGit(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
    expect(ckpt(dir, ['rollback', '--undo']).code).toBe(0);
    expect(picture(dir)).toEqual(after);
    expect((await tip(dir)).tree).toBe(gitView(dir));
    // No daemon: the same command, read by git.
    expect(ckpt(dir, ['daemon', 'stop']).code).toBe(0);
    const again = JSON.parse(ckpt(dir, ['rollback', '--json']).stdout);
    expect(again.readBy).toBe('git');
    expect(picture(dir)).toEqual({ ...before, 'keep.log': after['keep.log'] });
    expect(indexBytes(dir).toString('base64')).toBe(index0);
  });

  it('a hook served by the daemon logs what it could not use of its stdin, as the direct path does', async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const stdin = JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 5, tool_use_id: 'bad1' });
    const r = spawnSync(process.execPath, [HOOK, 'claude'], { cwd: dir, input: stdin, encoding: 'utf8', env: { ...process.env, CKPT_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '0' } });
    expect([r.status, r.stdout]).toEqual([0, '']);
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/hook.log'), 'utf8')).toMatch(/tool_name is number, not a string: ignored/);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId]).toEqual(['before', 'bad1']);
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1);
  });
  it("hooks served by the daemon record the agent's state as the direct path does: a tool call running, a permission request waiting, the hook's parent as the agent", async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const env = { ...process.env, CKPT_DAEMON: '1', CKPT_DAEMON_AUTOSTART: '0' };
    const run = (payload: object): void => {
      const r = spawnSync(process.execPath, [HOOK, 'claude'], { cwd: dir, input: JSON.stringify({ cwd: dir, session_id: 'sess', ...payload }), encoding: 'utf8', env });
      expect([r.status, r.stdout]).toEqual([0, '']);
    };
    run({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' }, tool_use_id: 'st1' });
    let st = readAgentState(await openRepo(dir));
    expect(st).toMatchObject({ agent: 'claude', sessionId: 'sess', activity: 'tool', tool: 'Bash', toolUseId: 'st1', pid: process.pid });
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1); // the step came from the daemon
    run({ hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' });
    st = readAgentState(await openRepo(dir));
    expect(st).toMatchObject({ activity: 'waiting', reason: 'permission' });
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1); // a notification is no step
    expect(fs.existsSync(path.join(dir, '.git/ckpt/hook.log'))).toBe(false);
  });

  it.skipIf(!fs.existsSync('/proc/self/cwd'))("the daemon's cwd is / and it holds no file of the worktree open, whatever directory started it; it still serves the worktree", async () => {
    const dir = makeRepo({ 'sub/a.txt': 'a\n' });
    stopDaemonAfterTest(dir);
    // Started from a subdirectory: the daemon must leave it too.
    const r = ckpt(path.join(dir, 'sub'), ['daemon', 'start', '--json', '--verify', '10m']);
    expect(r.code, r.stderr).toBe(0);
    const pid = JSON.parse(r.stdout).pid as number;
    const worktree = fs.realpathSync(dir);
    const inWorktree = (p: string): boolean => p.startsWith(worktree + path.sep) && !p.startsWith(path.join(worktree, '.git') + path.sep);
    const look = (): { cwd: string; open: string[] } => ({
      cwd: fs.readlinkSync(`/proc/${pid}/cwd`),
      open: fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          return [fs.readlinkSync(`/proc/${pid}/fd/${fd}`)];
        } catch {
          return []; // closed meanwhile
        }
      }).filter((p) => p === worktree || inWorktree(p)),
    });
    expect(look()).toEqual({ cwd: '/', open: [] });
    // It works from there: a hook pair through it, the tree equal to git's view.
    expect(await hook(dir, 'PreToolUse', 'c1')).toBe(0);
    write(dir, { 'sub/b.txt': 'b\n' });
    expect(await hook(dir, 'PostToolUse', 'c1')).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId, t.tree]).toEqual(['after', 'c1', gitView(dir)]);
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(2);
    expect(look()).toEqual({ cwd: '/', open: [] });
  });

  it('a hook inside a race attempt or behind its relay never starts a daemon (the race starts it from outside); one a hook starts carries none of the attempt\'s variables', async () => {
    const dir = makeRepo();
    stopDaemonAfterTest(dir);
    const mark = `m-${process.pid}-${Math.random().toString(36).slice(2)}`;
    // The daemon a hook spawns exists once the hook has exited (spawn returns after exec): looked for then, no wait.
    const spawned = (): number[] => daemonsWith(`CKPT_TEST_MARK=${mark}`);
    const autostart = { CKPT_DAEMON_AUTOSTART: undefined, CKPT_TEST_MARK: mark };
    expect(await hook(dir, 'PreToolUse', 'in1', { ...autostart, CKPT_RACE_ID: 'r-1', CKPT_ATTEMPT: 'a1' })).toBe(0);
    expect(spawned()).toEqual([]);
    expect((await tip(dir)).toolUseId).toBe('in1'); // taken directly
    expect(await hook(dir, 'PostToolUse', 'in1', { ...autostart, CKPT_HOOK_SOCKET: path.join(dir, 'no-relay.sock') })).toBe(0);
    expect(spawned()).toEqual([]);
    expect(status(dir).running).toBe(false);
    // Outside an attempt it starts one, without the race's variables (the sweep reads them in /proc).
    expect(await hook(dir, 'PreToolUse', 'out1', { ...autostart, CKPT_ROUND: '2' })).toBe(0);
    const [pid] = spawned();
    expect(pid).toBeGreaterThan(0);
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ.filter((e) => /^(CKPT_RACE_ID|CKPT_ATTEMPT|CKPT_ROUND|CKPT_HOOK_SOCKET|NODE_EXTRA_CA_CERTS)=/.test(e))).toEqual([]);
    await until(() => status(dir).running === true, 'the daemon the hook started');
  });

  it('quiet, it holds nothing open in the repository (its temporary files closed and removed, its git children ended), and serves the next hook again', { timeout: 120_000 }, async () => {
    const dir = makeRepo();
    const pid = startDaemon(dir);
    const log = path.join(dir, '.git/ckpt/daemon/log');
    expect(await hook(dir, 'PreToolUse', 'q1')).toBe(0);
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1);
    const held = (): string[] => {
      const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      const kids = fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
      return [...fds.filter((f) => f.startsWith(dir + '/')), ...kids.map((k) => `child ${k}: ${fs.readFileSync(`/proc/${k}/cmdline`, 'utf8').replace(/\0/g, ' ')}`)];
    };
    expect(held().length).toBeGreaterThan(0); // busy: its pool and its git children
    await until(() => fs.readFileSync(log, 'utf8').includes('temporary files and git children released'), 'the daemon to go quiet', 60_000);
    expect(held()).toEqual([]);
    expect(fs.readdirSync(path.join(dir, '.git/ckpt/shadow/tmp-pool')).filter((n) => n.startsWith(`${pid}-`))).toEqual([]);
    write(dir, { 'after-quiet.txt': 'x\n' });
    expect(await hook(dir, 'PostToolUse', 'q1')).toBe(0);
    const t = await tip(dir);
    expect([t.kind, t.toolUseId, t.tree]).toEqual(['after', 'q1', gitView(dir)]);
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(2);
  });

  it('CKPT_DAEMON_IDLE sets the idle stop of every daemon started, with a unit; a bad value is refused and starts nothing', async () => {
    const dir = makeRepo();
    stopDaemonAfterTest(dir);
    for (const bad of ['10', 'soon', '-1s']) {
      const r = ckpt(dir, ['daemon', 'start', '--json'], { CKPT_DAEMON_IDLE: bad });
      expect(r.code, r.stderr).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe('INVALID_DURATION');
      expect(r.stdout).toContain('CKPT_DAEMON_IDLE');
      expect(status(dir).running).toBe(false);
    }
    const pid = JSON.parse(ckpt(dir, ['daemon', 'start', '--json'], { CKPT_DAEMON_IDLE: '1s' }).stdout).pid as number;
    await until(() => !alive(pid), 'the idle stop');
    expect(fs.readFileSync(path.join(dir, '.git/ckpt/daemon/log'), 'utf8')).toMatch(/stopped: idle for 1 s/);
  });

  it("a hook served by the daemon inside a race attempt carries the race's trailers (Race, Attempt, Round) exactly as the direct path does", async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const race = { CKPT_RACE_ID: '20261202-131500-0a2b', CKPT_ATTEMPT: 'a2', CKPT_ROUND: '3' };
    expect(await hook(dir, 'PreToolUse', 't1', race)).toBe(0);
    const viaDaemon = (await listSteps(await openRepo(dir)))[0]!;
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1); // the daemon took it
    expect(await hook(dir, 'PostToolUse', 't1', { ...race, CKPT_NO_DAEMON: '1' })).toBe(0);
    const direct = (await listSteps(await openRepo(dir)))[0]!;
    expect(status(dir).status.worktrees[0]!.snapshots).toBe(1); // this one it did not
    expect([viaDaemon.kind, direct.kind]).toEqual(['before', 'after']);
    expect(viaDaemon.extra).toEqual({ Race: race.CKPT_RACE_ID, Attempt: 'a2', Round: '3' });
    expect(viaDaemon.extra).toEqual(direct.extra);
    // Outside a race: no trailers, on both paths.
    expect(await hook(dir, 'PreToolUse', 't2')).toBe(0);
    expect((await listSteps(await openRepo(dir)))[0]!.extra).toEqual({});
  });
  it("a hook's reply says where the daemon's answer went: its phases in ms, each a part of the total", async () => {
    const dir = makeRepo({ 'a.txt': 'a0\n' });
    startDaemon(dir);
    const repo = await openRepo(dir);
    write(dir, { 'a.txt': 'a1\n' });
    const stdin = JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'step p1' }, tool_use_id: 'p1', session_id: 's' });
    const r = await daemonRequest(repo.commonDir, 'hook', { agent: 'claude', stdin, cwd: dir, ppid: process.pid, race: {} }, { connectMs: 5000, replyMs: 60_000 });
    expect(r?.ok, JSON.stringify(r)).toBe(true);
    const phases = r!.phases as Record<string, number>;
    expect(Object.keys(phases).sort()).toEqual(['lock', 'state', 'step', 'sync', 'total']);
    for (const k of ['state', 'lock', 'sync', 'step', 'total']) expect(phases[k], k).toBeGreaterThanOrEqual(0);
    const parts = phases.state! + phases.lock! + phases.sync! + phases.step!;
    expect(Math.abs(parts - phases.total!)).toBeLessThan(0.05); // rounded to 0.01 ms each
    // The step it timed is the one recorded, with the write made before the hook.
    const t = await tip(dir);
    expect([t.step, t.kind, t.toolUseId]).toEqual([r!.step, 'before', 'p1']);
    expect(t.tree).toBe(gitView(dir));
  });
  it('a rollback waiting for the lock gets its turn while the daemon snapshots without pause (a stream of requests and writes)', async () => {
    const dir = makeRepo({ 'a.txt': 'a0\n', 'w.txt': 'w0\n' });
    startDaemon(dir);
    const repo = await openRepo(dir);
    expect(await hook(dir, 'PreToolUse', 't1')).toBe(0);
    write(dir, { 'a.txt': 'agent\n' });
    expect(await hook(dir, 'PostToolUse', 't1')).toBe(0);
    const agentA = picture(dir)['a.txt'];
    const target = (await listSteps(repo, { stats: false })).find((s) => s.kind === 'before' && s.toolUseIds.includes('t1'))!.step;
    // The writer: a client asking the daemon for a snapshot without pause, each after a write, so
    // the daemon has requests pending whenever it releases the worktree lock and takes it again at once.
    let writing = true;
    let snapshots = 0;
    const ask = async (k: number, n: number): Promise<void> => {
      write(dir, { 'w.txt': `w ${k} ${n}\n` });
      const r = await daemonRequest(repo.commonDir, 'snapshot', { cwd: repo.worktree, kind: 'manual' }, { connectMs: 5000, replyMs: 60_000 });
      if (r?.ok) snapshots++;
    };
    // A new request every few ms whatever the replies (at most 20 waiting): some arrive while each snapshot runs.
    const waiting = new Set<Promise<void>>();
    const loops = [
      (async () => {
        for (let n = 0; writing; n++) {
          if (waiting.size < 20) {
            const p: Promise<void> = ask(0, n).finally(() => waiting.delete(p));
            waiting.add(p);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        await Promise.all(waiting);
      })(),
    ];
    try {
      await until(() => snapshots >= 6, 'the daemon snapshotting without pause', 60_000);
      // The rollback of a.txt to the step before the tool call: it waits for the lock (up to 10 s) and must get it.
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'rollback', String(target), '--json', '--', 'a.txt'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c) => (stdout += c));
        p.stderr.on('data', (c) => (stderr += c));
        p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
      expect({ code: r.code, out: r.code === 0 ? '' : r.stdout + r.stderr }).toEqual({ code: 0, out: '' });
      expect(picture(dir)['a.txt']).not.toEqual(agentA);
      expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a0\n');
    } finally {
      writing = false;
      await Promise.all(loops);
    }
    // Every write of the loops was recorded in the unbroken chain, and the last one is the tip's.
    expect((await tip(dir)).tree).toBe(gitView(dir));
  }, 180_000);

  it('a request whose client hung up while it waited is answered (to no one), nothing recorded, and the daemon goes quiet after it (its files released)', { timeout: 120_000 }, async () => {
    const dir = makeRepo();
    startDaemon(dir);
    const repo = await openRepo(dir);
    await daemonSnapshot(dir, 'manual');
    const log = path.join(dir, '.git/ckpt/daemon/log');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // The worktree lock held here: the daemon's step waits for it while its client gives up (its reply timed out) and hangs up.
    const holder = withWorktreeLock(repo, async () => {
      locked();
      await held;
    });
    await isLocked;
    expect(await daemonRequest(repo.commonDir, 'snapshot', { cwd: repo.worktree, kind: 'manual' }, { connectMs: 5000, replyMs: 500 })).toBeNull();
    const from = fs.readFileSync(log, 'utf8').length;
    release();
    await holder;
    await until(() => status(dir).status.worktrees[0]!.busy === 0, 'the daemon to drop the request');
    expect((await listSteps(repo)).length).toBe(1);
    // Quiet once nothing is in flight: an unanswered request counted as in flight for good kept it busy (no release, no fold, no compaction).
    await until(() => fs.readFileSync(log, 'utf8').slice(from).includes('temporary files and git children released'), 'the daemon to go quiet', 60_000);
  });
});
