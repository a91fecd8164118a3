/**
 * Starting, stopping and asking the daemon (daemon.ts) from another process:
 * what `ckpt daemon start | stop | status` and the hook's auto-start call.
 */
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { daemonRequest } from './daemon-client.js';
import { idleFromEnv } from './daemon-idle.js';
import { daemonEnv } from './daemon-env.js';
import { daemonDir, runningDaemonPid } from './daemon-paths.js';
import type { DaemonStatus } from './daemon.js';

export { daemonEnv } from './daemon-env.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Node's options for the daemon's process. `--max-semi-space-size=1` (MiB):
 * V8's young generation is two semi-spaces that Node 20 grows to 16 MiB
 * each, 33.6 MB of the daemon's heap at 100k files against ~20 MB of live
 * objects; at 1 MiB its RSS is ~25-30 MB lower at 10k and 100k files, with
 * more (shorter) scavenges, measured not to lengthen a step above the noise
 * (benchmarks/results.md, the daemon's rows; V8's flag, `node --v8-options`).
 * `--expose-gc`: the daemon compacts its heap once after work, when quiet,
 * and gives its free pages back (daemon-heap.ts, which switches compaction
 * on for that one collection: not `--compact-on-every-full-gc` here, which
 * would compact in every full collection V8 starts in the middle of a step).
 */
export const DAEMON_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];

/**
 * The argv (after Node's own path) that starts the daemon: Node's options
 * for it, then `BIN daemon run ARGS` (cli/daemon-run.ts reads ARGS without
 * the full CLI).
 */
export function daemonArgv(bin: string, args: readonly string[] = []): string[] {
  return [...DAEMON_NODE_OPTIONS, bin, 'daemon', 'run', ...args];
}

/** How long `daemonStatus` waits for a connected daemon's answer, in ms: a daemon reading a whole worktree after an overflow can be seconds behind on a loaded machine, and "none runs" would be false. */
const STATUS_REPLY_MS = 30_000;

/**
 * The running daemon's status, or null when none answers (or it is another
 * version: `other` then says which; or its process lives but did not answer
 * within {@link STATUS_REPLY_MS}: `silentPid` then names it).
 */
export async function daemonStatus(repo: Repo): Promise<{ status: DaemonStatus | null; other?: string; silentPid?: number }> {
  const r = await daemonRequest(repo.commonDir, 'status', {}, { connectMs: 1000, replyMs: STATUS_REPLY_MS });
  if (!r) {
    const pid = runningDaemonPid(repo.commonDir);
    return pid === null ? { status: null } : { status: null, silentPid: pid };
  }
  if (!r.ok) return { status: null, other: String(r.daemon ?? r.message ?? r.code) };
  return { status: r.status as DaemonStatus };
}

/**
 * Starts the daemon of `repo`'s repository as a detached process
 * (`node BIN daemon run`), unless one of this version answers already, and
 * waits until it answers.
 *
 * @param bin the ckpt bin script to run.
 * @param args extra arguments of `daemon run` (`--idle 10m`).
 * @param waitMs how long to wait for it to answer, in ms.
 * @returns its pid, and whether this call started it.
 * Calls of one process for the same repository and arguments while a start
 * is under way share it (the attempts of a race start together): one
 * `daemon run` is spawned, not one per call, of which all but one would
 * start Node (~20 MB PSS each) only to lose the daemon's lock.
 *
 * @param bin the ckpt bin script to run.
 * @param args extra arguments of `daemon run` (`--idle 10m`).
 * @param waitMs how long to wait for it to answer, in ms.
 * @returns its pid, and whether this call (or the start it shared) started it.
 * @throws CkptError `DAEMON_FAILED` (data: log, the end of its log) when it
 *   did not answer in time; `INVALID_DURATION` when `CKPT_DAEMON_IDLE` is
 *   not a duration and `args` give no `--idle` (nothing is started).
 */
export function startDaemon(repo: Repo, bin: string, args: string[] = [], waitMs = 10_000): Promise<{ pid: number; started: boolean }> {
  const key = JSON.stringify([repo.commonDir, bin, args]);
  const running = starting.get(key);
  if (running) return running;
  const p = startDaemonOnce(repo, bin, args, waitMs).finally(() => starting.delete(key));
  starting.set(key, p);
  return p;
}

/** The starts under way in this process ({@link startDaemon}), by repository, bin and arguments. */
const starting = new Map<string, Promise<{ pid: number; started: boolean }>>();

/** {@link startDaemon}'s one start. */
async function startDaemonOnce(repo: Repo, bin: string, args: string[], waitMs: number): Promise<{ pid: number; started: boolean }> {
  if (!args.includes('--idle')) idleFromEnv();
  const hello = await daemonRequest(repo.commonDir, 'hello', {}, { connectMs: 1000, replyMs: 3000 });
  if (hello?.ok) return { pid: Number(hello.pid), started: false };
  if (hello && hello.code === 'VERSION') {
    // Another version's daemon: ask it to stop (it does, whatever its version) and wait for it to go.
    await stopDaemon(repo).catch(() => undefined);
    for (const end = Date.now() + waitMs; Date.now() < end && (await daemonRequest(repo.commonDir, 'hello', {}, { connectMs: 300, replyMs: 1000 })); ) await sleep(50);
  }
  const logPath = path.join(daemonDir(repo.commonDir), 'log');
  let exited: number | null = null;
  // No descriptor of the repository's file system is handed down: the daemon
  // writes its log itself, opening it per line (a user's unmount or `rm -rf`
  // is never kept busy by an idle daemon's stdout).
  const child = spawn(process.execPath, daemonArgv(bin, args), { cwd: repo.worktree, detached: true, stdio: 'ignore', env: daemonEnv() });
  child.on('exit', (code) => {
    exited = code ?? -1;
  });
  child.unref();
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const r = await daemonRequest(repo.commonDir, 'hello', {}, { connectMs: 500, replyMs: 2000 });
    if (r?.ok) return { pid: Number(r.pid), started: true };
    if (exited !== null) break;
    await sleep(50);
  }
  const tail = readTail(logPath);
  throw new CkptError('DAEMON_FAILED', `the ckpt daemon did not start${exited !== null ? ` (it exited with ${exited})` : ` within ${waitMs} ms`}`, {
    hint: `See ${logPath}.`,
    data: { log: tail },
  });
}

/**
 * Asks the daemon to stop and waits until its socket is gone.
 *
 * @returns the stopped daemon's pid.
 * @throws CkptError `DAEMON_NOT_RUNNING`; `DAEMON_FAILED` when it does not stop within `waitMs`.
 */
export async function stopDaemon(repo: Repo, waitMs = 10_000): Promise<{ pid: number }> {
  const before = runningDaemonPid(repo.commonDir);
  let r = await daemonRequest(repo.commonDir, 'stop', {}, { connectMs: 1000, replyMs: 3000 });
  // `stop` means the same to every version (watch/daemon.ts): one of another
  // version (left running by an upgrade of ckpt) obeys it too, and answers
  // with its own version, which the client does not take as an answer.
  if (r && !r.ok && r.code === 'VERSION' && before !== null) r = { ok: true, pid: before };
  if (!r?.ok) {
    throw new CkptError('DAEMON_NOT_RUNNING', `no ckpt daemon${r ? ' of this version' : ''} answers for ${repo.commonDir}`, {
      hint: r ? `It is ckpt ${String(r.daemon)}; stop it with that version's \`ckpt daemon stop\`, or end its process.` : 'Start one with `ckpt daemon start`.',
      data: { commonDir: repo.commonDir },
    });
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (!(await daemonRequest(repo.commonDir, 'hello', {}, { connectMs: 300, replyMs: 1000 }))) return { pid: Number(r.pid) };
    await sleep(50);
  }
  throw new CkptError('DAEMON_FAILED', `the ckpt daemon (pid ${String(r.pid)}) did not stop within ${waitMs} ms`, { hint: 'End its process (kill PID).', data: { pid: r.pid } });
}

/**
 * Whether a daemon may be started from this process on its own initiative
 * (a hook, `ckpt watch`, a rollback, a race that found none): not when
 * `CKPT_DAEMON_AUTOSTART=0`, and never from inside a race's attempt
 * (`CKPT_RACE_ID` and `CKPT_ATTEMPT` set: the race starts the repository's
 * daemon from outside before its agents run, and a daemon started in the
 * attempt would be one of the agent's processes, ended with it or inside
 * its PID namespace) nor from behind a race's hook relay (`CKPT_HOOK_SOCKET`:
 * a sandbox, whose store is read-only).
 */
export function autoStartAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CKPT_DAEMON_AUTOSTART === '0') return false;
  if ((env.CKPT_RACE_ID && env.CKPT_ATTEMPT) || env.CKPT_HOOK_SOCKET) return false;
  return true;
}

/**
 * Starts `node BIN daemon run` in `cwd`, detached, without waiting (a hook
 * that found no daemon, for the hooks after it; a second daemon exits at once
 * because of the daemon's lock), unless {@link autoStartAllowed} says no.
 * Never throws.
 *
 * @param bin the ckpt bin script (default: the one running).
 */
export function startDaemonDetached(cwd: string, bin: string | undefined = process.argv[1]): void {
  if (!bin || !autoStartAllowed()) return;
  try {
    spawn(process.execPath, daemonArgv(bin), { cwd, detached: true, stdio: 'ignore', env: daemonEnv() }).unref();
  } catch {
    // the direct path serves the hook anyway
  }
}

/**
 * Tells the daemon of the repository at `commonDir`, if one runs, to stop
 * watching `worktree` (before it is removed: race clean). Waits for its
 * snapshot in flight, if any. Never throws.
 *
 * @returns whether a daemon was watching it.
 */
export async function unwatchWorktree(commonDir: string, worktree: string): Promise<boolean> {
  let wt = worktree;
  try {
    wt = realpathSync(worktree);
  } catch {
    // gone already: the path as given
  }
  const r = await daemonRequest(commonDir, 'unwatch', { worktree: wt }, { connectMs: 1000, replyMs: 30_000 });
  return r?.ok === true && r.watched === true;
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
