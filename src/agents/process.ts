/**
 * Running one agent (or check) process: its own process group, output to a
 * capped log file, wall-clock and idle timeouts that kill the whole group
 * (SIGTERM, then SIGKILL after a grace period), and cancellation. With
 * `confine`, it runs in its own PID namespace where the system allows
 * (confine.ts), and what it left running is swept when it ends (sweep.ts),
 * before `done` resolves.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { confinedArgv, LIFELINE_FD, type Confinement } from './confine.js';
import { sweepAttemptProcesses, type SweepResult, type SweepTarget } from './sweep.js';
import { setLongTimeout, type LongTimer } from '../core/timer.js';

/** Options for {@link runProcess}. */
export interface ProcessOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Written to stdin, which is then closed; otherwise stdin is /dev/null. */
  stdin?: string;
  /** Where output goes (stdout and stderr, interleaved). */
  logFile: string;
  /** Stop writing the log past this many bytes (a marker says so). Default 10 MiB. */
  logCapBytes?: number;
  /** Kill after this many ms in all. */
  timeoutMs?: number;
  /** Kill after this many ms without output and without `touch()`. */
  idleTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL, ms. Default 5000. */
  graceMs?: number;
  signal?: AbortSignal;
  /** Called with each complete output line (stdout or stderr). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Keep the last this many bytes of stdout for parsing. Default 1 MiB. */
  keepStdoutBytes?: number;
  /** Use a shell (only for the user's own commands: setup, check). */
  shell?: boolean;
  /** Make every process it starts end with it: the mechanism, and which processes the sweep takes. */
  confine?: { mechanism: Confinement; sweep: Omit<SweepTarget, 'byCwd'> };
  /**
   * `argv` is run under confine.ts's `withLifeline` (a sandbox's is): give it
   * a pipe at fd 3 whose other end only this process holds, so it ends when
   * ckpt does, SIGKILL included. Default: true when `confine` names a PID
   * namespace (`bwrap`, `unshare`), whose argv {@link runProcess} wraps so.
   */
  lifeline?: boolean;
}

/** How a process ended. */
export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  /** Why ckpt stopped it, if it did. */
  stoppedBy: 'timeout' | 'idle' | 'abort' | null;
  durationMs: number;
  /** The last `keepStdoutBytes` of stdout. */
  stdoutTail: string;
  /** The last lines of all output (up to 40 lines / 4 KiB). */
  outputTail: string;
  outputBytes: number;
  /** The program could not be started (ENOENT, EACCES). */
  spawnError: string | null;
  /** PIDs of the processes it left running that the sweep ended (see `confine`). */
  stragglers: number[];
  /** Those of `stragglers` that ran outside its PID namespace (all of them under `sweep`, which has none). */
  stragglersOutside: number[];
}

/** A started process: `touch()` resets the idle timer, `done` resolves at exit. */
export interface RunningProcess {
  pid: number | undefined;
  touch(): void;
  done: Promise<ProcessResult>;
}

/** Starts a process in its own process group; see {@link ProcessOptions}. */
export function runProcess(o: ProcessOptions): RunningProcess {
  const started = Date.now();
  const cap = o.logCapBytes ?? 10 * 1024 * 1024;
  const keep = o.keepStdoutBytes ?? 1024 * 1024;
  const fd = openSync(o.logFile, 'a');
  let written = 0;
  let total = 0;
  let capped = false;
  let stdoutTail = '';
  let outputTail = '';
  const partial = { stdout: '', stderr: '' };
  const log = (buf: Buffer): void => {
    total += buf.length;
    if (capped) return;
    if (written + buf.length > cap) {
      const room = Math.max(0, cap - written);
      if (room > 0) writeSync(fd, buf, 0, room);
      writeSync(fd, `\n[ckpt: output capped at ${cap} bytes; the rest was dropped]\n`);
      written = cap;
      capped = true;
      return;
    }
    writeSync(fd, buf);
    written += buf.length;
  };
  const plain = o.shell ? ['sh', '-c', o.argv.join(' ')] : o.argv;
  const [cmd, ...args] = o.confine ? confinedArgv(o.confine.mechanism, plain) : plain;
  const lifeline = o.lifeline ?? (o.confine !== undefined && o.confine.mechanism !== 'sweep');
  const stdin = o.stdin !== undefined ? 'pipe' : 'ignore';
  const child = spawn(cmd!, args, {
    cwd: o.cwd,
    // PWD names the directory the child starts in, as a shell sets it: programs that trust
    // PWD over getcwd() (OpenCode 1.18: `process.env.PWD ?? process.cwd()` is its project)
    // would otherwise work in the directory ckpt was started from, the user's checkout.
    env: { ...o.env, PWD: o.cwd } as NodeJS.ProcessEnv,
    detached: true,
    stdio: lifeline ? [stdin, 'pipe', 'pipe', 'pipe'] : [stdin, 'pipe', 'pipe'],
  });
  if (lifeline) {
    // Never written: its end of file, when this process is gone, is what ends the child.
    // Read (and discarded) so that its close is seen and 'close' below can fire.
    const line = child.stdio[LIFELINE_FD] as Readable | null;
    line?.on('error', () => undefined);
    line?.resume();
  }
  let stoppedBy: ProcessResult['stoppedBy'] = null;
  let spawnError: string | null = null;
  let killTimer: LongTimer | null = null;
  let exited = false;
  const killGroup = (why: NonNullable<ProcessResult['stoppedBy']>): void => {
    if (stoppedBy || exited) return;
    stoppedBy = why;
    signalGroup('SIGTERM');
    killTimer = setLongTimeout(() => signalGroup('SIGKILL'), o.graceMs ?? 5000);
  };
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      try {
        child.kill(sig);
      } catch {
        // gone
      }
    }
  };
  let idleTimer: LongTimer | null = null;
  const touch = (): void => {
    if (!o.idleTimeoutMs || exited) return;
    idleTimer?.clear();
    idleTimer = setLongTimeout(() => killGroup('idle'), o.idleTimeoutMs);
  };
  touch();
  const wallTimer = o.timeoutMs ? setLongTimeout(() => killGroup('timeout'), o.timeoutMs) : null;
  const onAbort = (): void => killGroup('abort');
  o.signal?.addEventListener('abort', onAbort);
  if (o.signal?.aborted) onAbort();

  const onData = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
    log(buf);
    touch();
    const text = buf.toString('utf8');
    if (stream === 'stdout') {
      stdoutTail = (stdoutTail + text).slice(-keep);
    }
    outputTail = (outputTail + text).slice(-4096);
    const lines = (partial[stream] + text).split('\n');
    partial[stream] = lines.pop() ?? '';
    if (partial[stream].length > 65536) partial[stream] = partial[stream].slice(-65536);
    for (const l of lines) o.onLine?.(l, stream);
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  if (o.stdin !== undefined) {
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(o.stdin);
  }
  const done = new Promise<ProcessResult>((resolve) => {
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (exited) return;
      exited = true;
      idleTimer?.clear();
      wallTimer?.clear();
      o.signal?.removeEventListener('abort', onAbort);
      // The leader is gone; make sure no straggler of its group survives.
      if (stoppedBy) signalGroup('SIGKILL');
      killTimer?.clear();
      for (const s of ['stdout', 'stderr'] as const) if (partial[s]) o.onLine?.(partial[s], s);
      try {
        closeSync(fd);
      } catch {
        // closed
      }
      const lines = outputTail.split('\n');
      const durationMs = Date.now() - started;
      // Whatever it left running ends now, before anyone reads the worktree as final.
      // In a PID namespace, what is left in it is the kernel's to end: given up to 2 s first.
      const none: SweepResult = { ended: [], outside: [] };
      const swept = o.confine ? sweepAttemptProcesses({ ...o.confine.sweep, byCwd: o.confine.mechanism === 'sweep' }, Math.min(o.graceMs ?? 5000, 2000), o.confine.mechanism === 'sweep' ? 0 : 2000).catch(() => none) : Promise.resolve(none);
      void swept.then(({ ended: stragglers, outside: stragglersOutside }) =>
        resolve({
          exitCode: code,
          signal: sig,
          stoppedBy,
          durationMs,
          stdoutTail,
          outputTail: lines.slice(-40).join('\n').slice(-4096),
          outputBytes: total,
          spawnError,
          stragglers,
          stragglersOutside,
        }),
      );
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = `${err.code ?? 'ERROR'}: ${err.message}`;
      finish(null, null);
    });
    child.on('close', (code, sig) => finish(code, sig));
    // A leader that exited while something it started still holds the pipes
    // open: give the output a moment, then end the group and finish.
    child.on('exit', (code, sig) => {
      setTimeout(() => {
        if (exited) return;
        signalGroup('SIGKILL');
        finish(code, sig);
      }, 2000).unref();
    });
  });
  return { pid: child.pid, touch, done };
}
