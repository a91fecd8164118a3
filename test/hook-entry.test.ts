/**
 * The installed hook command (bin/ckpt-hook.cjs → dist/hook.cjs) as an agent
 * runs it: the command line `ckpt hooks install claude` writes, through `sh -c`.
 *
 * What is shown: when the daemon serves the hook, the process loads nothing
 * but the entry and Node's built-ins (every module it resolves is recorded by
 * a loader hook); in every other case (no daemon, the daemon turned off by
 * the environment or by git config, a daemon of another version, an error
 * answer, a stale socket, a daemon that never answers, one killed while the
 * hook waits) the hook loads the CLI's hook and records the step itself: the
 * step is there with its kind and tool-use id and its tree is git's own view
 * of the worktree (nothing lost). An install made with the command line of
 * earlier versions (`node …/ckpt.js hook AGENT`) is found and replaced by
 * `hooks install`, and removed by `hooks uninstall`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { HOOK_STDIN_MS } from '../src/hook/client.js';
import { DAEMON_PROTOCOL, DAEMON_VERSION, socketPath } from '../src/watch/daemon-paths.js';
import { startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { ckptModules, runTraced, type TracedRun } from './support/hook-run.js';
import { CLI, HOOK, git, gitView, makeRepo, write } from './support/repo.js';

/** Servers and processes a test started, closed and killed after it (even when it fails). */
const servers: net.Server[] = [];
const children: number[] = [];
afterEach(async () => {
  await stopTestDaemons();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const pid of children.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

/** The hook command line of `ckpt hooks install claude` in `dir`, from the settings file it wrote. */
function installedCommand(dir: string): string {
  const r = spawnSync(process.execPath, [CLI, 'hooks', 'install', 'claude'], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const settings = JSON.parse(fs.readFileSync(path.join(dir, '.claude', 'settings.local.json'), 'utf8'));
  return settings.hooks.PreToolUse[0].hooks[0].command as string;
}

/**
 * Runs `command` through `sh -c` in `dir` as Claude Code does, with a Claude
 * Code payload for `event` of tool call `id` on stdin; resolves with its exit
 * code, stdout and the module URLs it resolved.
 */
function runHook(dir: string, command: string, event: 'PreToolUse' | 'PostToolUse', id: string, env: NodeJS.ProcessEnv = {}): Promise<TracedRun> {
  return runTraced(command, dir, JSON.stringify({ hook_event_name: event, cwd: dir, tool_name: 'Bash', tool_input: { command: `step ${id}` }, tool_use_id: id, session_id: 's' }), env);
}

/**
 * Runs `command` through `sh -c` in `dir` with the pieces of `stdin` written
 * to it 200 ms apart and the pipe left open (an agent that never closes its end of it) until the
 * process exits or `boundMs` passes (then it is killed): its exit code
 * (null: still running at the bound), whether stdin was still open when it
 * exited, and how long it ran in ms.
 */
function runKeepingStdinOpen(dir: string, command: string, stdin: string[], env: NodeJS.ProcessEnv, boundMs: number): Promise<{ code: number | null; open: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn('sh', ['-c', command], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, CKPT_DAEMON_AUTOSTART: '0', ...env } });
    children.push(p.pid!);
    p.stdin.on('error', () => undefined);
    stdin.forEach((piece, i) => setTimeout(() => p.stdin.write(piece), i * 200));
    const bound = setTimeout(() => p.kill('SIGKILL'), boundMs);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(bound);
      const open = !p.stdin.writableEnded;
      p.stdin.end();
      resolve({ code, open, ms: Date.now() - t0 });
    });
  });
}

/** The newest step of `dir`'s chain. */
async function tip(dir: string): Promise<{ kind: string; toolUseId: string | null; tree: string; step: number }> {
  return (await listSteps(await openRepo(dir)))[0]! as never;
}

/** A server on the socket of `dir`'s repository answering every request with `reply` (null: accepting and never answering). */
async function fakeDaemon(dir: string, reply: Record<string, unknown> | null): Promise<string[]> {
  const sock = socketPath(path.join(dir, '.git'));
  fs.mkdirSync(path.dirname(sock), { recursive: true });
  const seen: string[] = [];
  const server = net.createServer((c) => {
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      seen.push(d);
      if (reply) c.end(JSON.stringify(reply) + '\n');
    });
    c.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  return seen;
}

/**
 * A process listening on the socket of `dir`'s repository that SIGKILLs itself
 * when `when` comes: `listening` (a stale socket: the file stays, connect is
 * refused) or `request` (a daemon killed while the hook waits for its answer).
 */
async function dyingDaemon(dir: string, when: 'listening' | 'request'): Promise<void> {
  const sock = socketPath(path.join(dir, '.git'));
  fs.mkdirSync(path.dirname(sock), { recursive: true });
  const code = `const s = require('net').createServer((c) => c.on('data', () => process.kill(process.pid, 'SIGKILL'))); s.listen(${JSON.stringify(sock)}, () => { console.log('up'); if (${JSON.stringify(when)} === 'listening') process.kill(process.pid, 'SIGKILL'); });`;
  const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p.pid!);
  await new Promise<void>((resolve, reject) => {
    p.stdout.once('data', () => resolve());
    p.on('error', reject);
    if (when === 'listening') p.on('exit', () => resolve());
  });
  if (when === 'listening') await new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.on('exit', () => resolve())));
}

/** Asserts the hook recorded its step itself (the CLI's hook loaded), named and complete. */
async function recordedDirectly(dir: string, r: { code: number; stdout: string; modules: string[] }, kind: string, id: string): Promise<void> {
  expect([r.code, r.stdout]).toEqual([0, '']);
  expect(ckptModules(r.modules)).toContain('dist/cli.js');
  const t = await tip(dir);
  expect([t.kind, t.toolUseId]).toEqual([kind, id]);
  expect(t.tree).toBe(gitView(dir));
}

describe('the installed hook entry', () => {
  it('served by the daemon, it loads nothing but itself and Node built-ins; the daemon records the pair', async () => {
    const dir = makeRepo();
    const command = installedCommand(dir);
    expect(command).toMatch(/^NODE_EXTRA_CA_CERTS= \S+ \S*\/bin\/ckpt-hook\.cjs claude$/);
    startTestDaemon(dir);
    const pre = await runHook(dir, command, 'PreToolUse', 'd1', { CKPT_DAEMON: '1' });
    write(dir, { 'work.txt': 'the agent wrote this\n' });
    const post = await runHook(dir, command, 'PostToolUse', 'd1', { CKPT_DAEMON: '1' });
    for (const r of [pre, post]) {
      expect([r.code, r.stdout]).toEqual([0, '']);
      expect(ckptModules(r.modules)).toEqual(['bin/ckpt-hook.cjs', 'dist/hook.cjs']);
      expect(r.modules).toContain('node:net'); // the tracer sees CommonJS requires of built-ins too
      expect(r.modules.filter((u) => !u.startsWith('file:') && !u.startsWith('node:'))).toEqual([]);
    }
    expect(testDaemonStatus(dir).status.worktrees[0]!.snapshots).toBe(2);
    const steps = await listSteps(await openRepo(dir));
    expect(steps.filter((s) => s.toolUseId === 'd1').map((s) => s.kind).sort()).toEqual(['after', 'before']);
    expect(steps[0]!.tree).toBe(gitView(dir));
  });

  it('`ckpt hook claude` (the command line of earlier installs) takes the same entry: served by the daemon, no CLI module loaded', async () => {
    const dir = makeRepo();
    startTestDaemon(dir);
    const r = await runHook(dir, `${process.execPath} ${CLI} hook claude`, 'PreToolUse', 'o1', { CKPT_DAEMON: '1' });
    expect([r.code, r.stdout]).toEqual([0, '']);
    expect(ckptModules(r.modules)).toEqual(['bin/ckpt.js', 'dist/hook.cjs']);
    expect([(await tip(dir)).toolUseId, testDaemonStatus(dir).status.worktrees[0]!.snapshots]).toEqual(['o1', 1]);
  });

  it('with no daemon running, or the daemon turned off by CKPT_NO_DAEMON=1 or by `ckpt.daemon false`, the hook records the step itself', async () => {
    const dir = makeRepo();
    const command = installedCommand(dir);
    await recordedDirectly(dir, await runHook(dir, command, 'PreToolUse', 'n1', { CKPT_DAEMON: '1' }), 'before', 'n1');
    startTestDaemon(dir);
    write(dir, { 'a.txt': 'off by env\n' });
    await recordedDirectly(dir, await runHook(dir, command, 'PostToolUse', 'n1', { CKPT_DAEMON: '1', CKPT_NO_DAEMON: '1' }), 'after', 'n1');
    git(dir, 'config', 'ckpt.daemon', 'false');
    write(dir, { 'b.txt': 'off by config\n' });
    await recordedDirectly(dir, await runHook(dir, command, 'PreToolUse', 'n2', { CKPT_DAEMON: undefined }), 'before', 'n2');
    expect(testDaemonStatus(dir).status.worktrees[0]!.snapshots).toBe(0);
  });

  it('a daemon of another version, or one answering an error: the hook records the step itself and logs the answer', async () => {
    const dir = makeRepo();
    const command = installedCommand(dir);
    const seen = await fakeDaemon(dir, { ok: false, version: '0.0.0-other+p1', code: 'VERSION', message: 'another ckpt' });
    await recordedDirectly(dir, await runHook(dir, command, 'PreToolUse', 'v1', { CKPT_DAEMON: '1' }), 'before', 'v1');
    // The request names its agent and the protocol that knows it (a daemon of protocol 1 would read any payload as Claude Code's).
    expect(JSON.parse(seen[0]!)).toMatchObject({ v: DAEMON_PROTOCOL, cmd: 'hook', version: DAEMON_VERSION, agent: 'claude' });
    expect(DAEMON_PROTOCOL).toBeGreaterThanOrEqual(2);
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await fakeDaemon(dir, { ok: false, version: DAEMON_VERSION, code: 'INTERNAL', message: 'it broke' });
    write(dir, { 'a.txt': 'x\n' });
    await recordedDirectly(dir, await runHook(dir, command, 'PostToolUse', 'v1', { CKPT_DAEMON: '1' }), 'after', 'v1');
    const log = fs.readFileSync(path.join(dir, '.git', 'ckpt', 'hook.log'), 'utf8');
    expect(log).toMatch(/the daemon answered VERSION .*snapshot taken directly/);
    expect(log).toMatch(/the daemon answered INTERNAL it broke: snapshot taken directly/);
  });

  it('a stale socket (its daemon gone), a daemon that never answers, one killed while the hook waits: the hook records the step itself', async () => {
    const dir = makeRepo();
    const command = installedCommand(dir);
    await dyingDaemon(dir, 'listening');
    expect(fs.existsSync(socketPath(path.join(dir, '.git')))).toBe(true);
    await recordedDirectly(dir, await runHook(dir, command, 'PreToolUse', 's1', { CKPT_DAEMON: '1' }), 'before', 's1');
    fs.rmSync(socketPath(path.join(dir, '.git')), { force: true });
    const seen = await fakeDaemon(dir, null);
    write(dir, { 'a.txt': 'silent daemon\n' });
    await recordedDirectly(dir, await runHook(dir, command, 'PostToolUse', 's1', { CKPT_DAEMON: '1', CKPT_HOOK_WAIT: '1s' }), 'after', 's1');
    expect(seen.length).toBe(1);
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await dyingDaemon(dir, 'request');
    write(dir, { 'b.txt': 'killed daemon\n' });
    await recordedDirectly(dir, await runHook(dir, command, 'PreToolUse', 's2', { CKPT_DAEMON: '1' }), 'before', 's2');
  });

  it('an agent that keeps stdin open after its payload: the hook ends once the payload is whole (served, the step recorded once), and after its read bound when it never is (it records directly, it does not linger)', async () => {
    const dir = makeRepo();
    const command = installedCommand(dir);
    startTestDaemon(dir);
    // Written in two pieces, the first ending inside a string with a brace in it: the object is whole only with the second.
    const payload = JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'echo "{ }" }' }, tool_use_id: 'k1', session_id: 's' });
    const brace = payload.indexOf('{ }') + 1;
    const whole = await runKeepingStdinOpen(dir, command, [payload.slice(0, brace), payload.slice(brace)], { CKPT_DAEMON: '1' }, 60_000);
    expect(whole).toMatchObject({ code: 0, open: true });
    // It did not wait for the read bound (it used to wait for it, then stay until the agent closed stdin).
    expect(whole.ms).toBeLessThan(HOOK_STDIN_MS);
    const steps = await listSteps(await openRepo(dir));
    expect(steps.filter((s) => s.toolUseId === 'k1').map((s) => s.kind)).toEqual(['before']);
    expect(testDaemonStatus(dir).status.worktrees[0]!.snapshots).toBe(1);
    // A payload that never becomes a whole object: read until the bound, then the direct path reports it; the process ends.
    const cut = await runKeepingStdinOpen(dir, command, [payload.slice(0, -5)], { CKPT_DAEMON: '1' }, 60_000);
    expect(cut).toMatchObject({ code: 0, open: true });
    expect(cut.ms).toBeGreaterThanOrEqual(HOOK_STDIN_MS);
    expect(fs.readFileSync(path.join(dir, '.git', 'ckpt', 'hook.log'), 'utf8')).toMatch(/stdin is not JSON/);
    expect(testDaemonStatus(dir).status.worktrees[0]!.snapshots).toBe(1);
    expect((await listSteps(await openRepo(dir))).filter((s) => s.toolUseId === 'k1')).toHaveLength(1);
  });

  it('an install made with the earlier command line (`node …/ckpt.js hook AGENT`) is found: install replaces it, uninstall removes it', () => {
    const old = `NODE_EXTRA_CA_CERTS= ${process.execPath} /opt/old/node_modules/ckpt/bin/ckpt.js hook`;
    const cases: { agent: string; file: string; doc: (cmd: string) => unknown; commands: (doc: any) => string[] }[] = [
      {
        agent: 'claude',
        file: '.claude/settings.local.json',
        doc: (cmd) => ({ hooks: { PreToolUse: [{ matcher: 'Bash|Write|Edit|MultiEdit|NotebookEdit', hooks: [{ type: 'command', command: cmd, timeout: 30 }] }] } }),
        commands: (doc) => Object.values(doc.hooks ?? {}).flatMap((l: any) => l.flatMap((m: any) => m.hooks.map((h: any) => h.command))),
      },
      {
        agent: 'cursor',
        file: '.cursor/hooks.json',
        doc: (cmd) => ({ version: 1, hooks: { preToolUse: [{ command: cmd }] } }),
        commands: (doc) => Object.values(doc.hooks ?? {}).flatMap((l: any) => l.map((h: any) => h.command)),
      },
    ];
    for (const c of cases) {
      const dir = makeRepo();
      write(dir, { [c.file]: JSON.stringify(c.doc(`${old} ${c.agent}`), null, 2) });
      const ins = spawnSync(process.execPath, [CLI, 'hooks', 'install', c.agent], { cwd: dir, encoding: 'utf8' });
      expect(ins.status, ins.stderr).toBe(0);
      const commands = c.commands(JSON.parse(fs.readFileSync(path.join(dir, c.file), 'utf8')));
      expect(commands.length, c.agent).toBeGreaterThan(0);
      expect(commands.filter((x) => x.includes('/opt/old/')), c.agent).toEqual([]);
      expect(new Set(commands), c.agent).toEqual(new Set([`NODE_EXTRA_CA_CERTS= ${process.execPath} ${HOOK} ${c.agent}`]));
      // Uninstall finds the earlier command line too: put one back beside ours, then remove both.
      const doc = JSON.parse(fs.readFileSync(path.join(dir, c.file), 'utf8'));
      const withOld = c.doc(`${old} ${c.agent}`) as any;
      for (const [event, list] of Object.entries(withOld.hooks)) doc.hooks[event] = [...(doc.hooks[event] ?? []), ...(list as unknown[])];
      fs.writeFileSync(path.join(dir, c.file), JSON.stringify(doc, null, 2));
      const un = spawnSync(process.execPath, [CLI, 'hooks', 'uninstall', c.agent], { cwd: dir, encoding: 'utf8' });
      expect(un.status, un.stderr).toBe(0);
      const left = fs.existsSync(path.join(dir, c.file)) ? c.commands(JSON.parse(fs.readFileSync(path.join(dir, c.file), 'utf8'))) : [];
      expect(left, c.agent).toEqual([]);
    }
  });
});
