/**
 * Daemons started by tests: real `ckpt daemon` processes, one per
 * repository, every one stopped (killed if it will not stop) and its files
 * removed by {@link stopTestDaemons}, which a test file calls in afterEach,
 * even when the test failed.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { openRepo } from '../../src/index.js';
import { daemonRequest } from '../../src/watch/daemon-client.js';
import { socketPath } from '../../src/watch/daemon-paths.js';
import type { DaemonStatus } from '../../src/watch/daemon.js';
import { alive } from './procs.js';
import { runCli, type CliResult } from './cli.js';
import { CLI, git } from './repo.js';

/** Common git dir → the daemon's pid (null: read from its daemon.json when stopping). */
const started = new Map<string, number | null>();

/** `ckpt ARGS` in `dir`: exit code and output. */
export function ckptIn(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  return runCli(dir, args, { env });
}

function commonDir(dir: string): string {
  return git(dir, 'rev-parse', '--path-format=absolute', '--git-common-dir').trim();
}

/** Starts the daemon of `dir`'s repository (`ckpt daemon start`, idle check far off; `env` added to the CLI's, so the daemon's); returns its pid. */
export function startTestDaemon(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): number {
  const common = commonDir(dir);
  const r = ckptIn(dir, ['daemon', 'start', '--json', '--verify', '10m', ...extra], env);
  if (r.code !== 0) throw new Error(`ckpt daemon start failed (${r.code}): ${r.stderr}`);
  const pid = JSON.parse(r.stdout).pid as number;
  started.set(common, pid);
  return pid;
}

/** `ckpt daemon status --json` of `dir`'s repository (`status` absent when none runs). */
export function testDaemonStatus(dir: string): { running: boolean; status: DaemonStatus } {
  return JSON.parse(ckptIn(dir, ['daemon', 'status', '--json']).stdout);
}

/** How many `ckpt rollback` command lines the daemon of `dir` has run for its rollback client (its log's lines). */
export function servedByDaemon(dir: string): number {
  const log = path.join(dir, '.git', 'ckpt', 'daemon', 'log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('run for its client')).length : 0;
}

/** A snapshot of `kind` taken by the daemon (its `snapshot` request); returns its step. */
export async function daemonSnapshot(dir: string, kind: 'before' | 'after' | 'auto' | 'manual'): Promise<number> {
  const repo = await openRepo(dir);
  const r = await daemonRequest(repo.commonDir, 'snapshot', { cwd: repo.worktree, kind }, { connectMs: 5000, replyMs: 60_000 });
  if (!r?.ok) throw new Error(`the daemon took no snapshot: ${JSON.stringify(r)}`);
  return r.step as number;
}

/**
 * Has {@link stopTestDaemons} stop the daemon of `dir`'s repository however it
 * is started (by a hook, a watch, a rollback: its pid read from its
 * `daemon.json` then).
 */
export function stopDaemonAfterTest(dir: string): void {
  const common = commonDir(dir);
  if (!started.has(common)) started.set(common, null);
}

/** Stops every daemon started by {@link startTestDaemon} or named by {@link stopDaemonAfterTest} (SIGKILL if it will not stop) and removes its files. */
export function stopTestDaemons(): void {
  for (const [common, known] of [...started]) {
    started.delete(common);
    const ddir = path.join(common, 'ckpt', 'daemon');
    let pid = known;
    try {
      pid ??= JSON.parse(fs.readFileSync(path.join(ddir, 'daemon.json'), 'utf8')).pid as number;
    } catch {
      // none was started
    }
    const worktree = path.dirname(common);
    if (fs.existsSync(worktree)) ckptIn(worktree, ['daemon', 'stop']);
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(ddir, { recursive: true, force: true });
    fs.rmSync(socketPath(common), { force: true });
  }
}

/**
 * Spawns `ckpt watch <args> --json --quiet 100ms` in `dir` and collects its
 * JSON lines into `events` as they arrive. `exited` resolves to its exit code
 * (-1 when killed by a signal). The caller stops it (`child.kill('SIGINT')`).
 */
export function spawnJsonWatch(dir: string, args: string[] = []): { child: ChildProcessByStdio<null, Readable, Readable>; events: any[]; exited: Promise<number> } {
  const child = spawn(process.execPath, [CLI, 'watch', ...args, '--json', '--quiet', '100ms'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: any[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    buf += c;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, events, exited };
}
