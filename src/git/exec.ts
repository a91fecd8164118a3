/**
 * Runs native git. Every git call of ckpt goes through {@link git}: output is
 * piped (never inherited, so ckpt's own closed stdout cannot SIGPIPE a git step
 * into a partial result; test: snapshot.test.ts "never records a partial tree
 * when its own stdout is a closed pipe"), any non-zero exit or signal is
 * an error, prompts and optional locks are off, and messages are in the C
 * locale so they can be matched.
 *
 * Processes are started with `node:child_process` `spawn`, not execa: loading
 * execa costs about 150 ms (60 ms bundled) against Node's own ~100 ms start,
 * in `ckpt hook claude`, a process agents start twice per tool call with a
 * 150 ms budget. docs/architecture.md has the measurements.
 *
 * git children end with ckpt (issue: a `git add` left running by a snapshot
 * killed by an agent's hook timeout kept writing objects into a private index
 * no ref holds): while any git child runs, SIGTERM, SIGINT and SIGHUP kill
 * the live children first and then end ckpt as the signal would have (unless
 * the program handles that signal itself, as `ckpt watch` does: then it ends
 * its own work); and on Linux
 * each child is started through util-linux `setpriv --pdeathsig KILL`
 * (prctl(2) PR_SET_PDEATHSIG), so even a ckpt killed with SIGKILL takes its
 * git children with it. Test: git-children.test.ts.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { CkptError } from '../core/errors.js';
import { releaseHeldLocks } from '../core/owned-lock.js';

/** Options for {@link git}. */
export interface GitOptions {
  /** Working directory of the git process. */
  cwd: string;
  /** Extra environment (merged over the process environment; `undefined` removes a variable). */
  env?: Record<string, string | undefined>;
  /** Bytes or text written to git's stdin. */
  input?: string | Buffer;
  /** Exit codes that are not failures (e.g. `[1]` for `diff --quiet`). Default `[0]`. */
  okCodes?: number[];
  /** Kill git after this many ms. Default 120000. */
  timeoutMs?: number;
  /**
   * A short command that must run to its end even if ckpt is killed: no
   * parent-death signal, not killed by ckpt's signal handlers. For ref
   * updates: killed half-way, git leaves `<ref>.lock`, which then blocks
   * every later update of that ref.
   */
  finishAlone?: boolean;
}

/** What {@link git} returns: raw stdout bytes, stderr text and the exit code. */
export interface GitResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number;
}

/** Environment every git call gets: no prompts, no optional locks, C locale, no pager. */
export const BASE_GIT_ENV: Record<string, string> = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
  GIT_PAGER: 'cat',
  PAGER: 'cat',
  LC_ALL: 'C',
  GIT_ADVICE: '0',
  // Never let a user's editor or askpass get involved.
  GIT_EDITOR: 'true',
  GIT_ASKPASS: '',
  SSH_ASKPASS: '',
};

/** The process environment with `extra` applied: a key set to `undefined` is removed. */
export function mergeEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...BASE_GIT_ENV };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * Runs `git ARGS` and returns its raw output.
 *
 * @throws CkptError `GIT_NOT_FOUND` when git is not on PATH; `FS_FAILED`
 *   (data: args, exitCode, errno `ENOSPC` / `EDQUOT` / `EROFS` / `EACCES`,
 *   stderr) when git failed because the file system refused a write (see
 *   {@link fileSystemErrno}); `GIT_FAILED` (data: args, exitCode, signal,
 *   stderr) when git exits with a code not in `okCodes` otherwise, is killed
 *   by a signal or times out.
 */
export function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const okCodes = options.okCodes ?? [0];
  const timeoutMs = options.timeoutMs ?? 120_000;
  return runGit(args, options, okCodes, timeoutMs, options.finishAlone ? null : deathSigWrapper());
}

function runGit(args: readonly string[], options: GitOptions, okCodes: number[], timeoutMs: number, wrapper: string | null): Promise<GitResult> {
  return new Promise<GitResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(wrapper ?? 'git', wrapper ? wrappedGit(args) : args, {
        cwd: options.cwd,
        env: mergeEnv(options.env),
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      reject(new CkptError('GIT_FAILED', `could not run git ${args[0] ?? ''}`, { cause: err, hint: 'Check that git is installed and on PATH.' }));
      return;
    }
    if (!options.finishAlone) track(child);
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | null = null;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => errs.push(c));
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    if (child.stdin) {
      // git may exit before reading all input (a bad name): that EPIPE is not ours to report.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      untrack(child);
      const stderr = Buffer.concat(errs).toString('utf8');
      if (wrapper && !spawnError && code === 1 && /^\S*setpriv: (unrecognized|invalid) option/m.test(stderr)) {
        // A setpriv without --pdeathsig (util-linux before 2.33): run git directly from now on.
        wrapperPath = null;
        resolve(runGit(args, options, okCodes, timeoutMs, null));
        return;
      }
      if (wrapper && !spawnError && code === 127 && /^\S*setpriv: failed to execute git|exec: git: not found/m.test(stderr)) {
        spawnError = Object.assign(new Error('spawn git ENOENT'), { code: 'ENOENT' });
      }
      if (spawnError) {
        if (spawnError.code === 'ENOENT' && !existsSync(options.cwd)) reject(new CkptError('GIT_FAILED', `no such directory: ${options.cwd}`, { hint: 'Check the path.', data: { cwd: options.cwd } }));
        else if (spawnError.code === 'ENOENT') reject(new CkptError('GIT_NOT_FOUND', 'git was not found on PATH', { hint: 'Install git 2.39 or newer.' }));
        else reject(new CkptError('GIT_FAILED', `could not run git ${args[0] ?? ''}: ${spawnError.message}`, { cause: spawnError, hint: 'Check that git is installed and on PATH.' }));
        return;
      }
      const exitCode = code ?? -1;
      if (signal || timedOut || !okCodes.includes(exitCode)) {
        const how = timedOut ? `timed out after ${timeoutMs} ms` : signal ? `was killed by ${signal}` : `exited with ${exitCode}`;
        const errno = fileSystemErrno(stderr);
        if (errno && !signal && !timedOut) {
          reject(
            new CkptError('FS_FAILED', `git ${args[0] ?? ''} ${how}: ${firstLine(stderr)}`, {
              data: { args: [...args], exitCode, errno, stderr: stderr.slice(0, 4000) },
              hint: errno === 'ENOSPC' || errno === 'EDQUOT' ? 'Free some disk space, then run the command again; nothing was recorded.' : 'Check the permissions of the repository and its .git directory; nothing was recorded.',
            }),
          );
          return;
        }
        reject(
          new CkptError('GIT_FAILED', `git ${args[0] ?? ''} ${how}: ${firstLine(stderr)}`, {
            data: { args: [...args], exitCode, signal: signal ?? null, stderr: stderr.slice(0, 4000) },
            hint: "This is git's own message; the command changed nothing that was not recorded first.",
          }),
        );
        return;
      }
      resolve({ stdout: Buffer.concat(out), stderr, exitCode });
    });
  });
}

const PDEATHSIG_ARGS = ['--pdeathsig', 'KILL', '--'];
/**
 * What setpriv runs once the parent-death signal is set: git, only if its
 * parent is still this ckpt. prctl(2) sends nothing for a parent that died
 * before the call, so a ckpt killed between fork(2) and setpriv's prctl left
 * its git running on alone (writing the private index while the next ckpt,
 * which takes a dead holder's lock at once, uses it). `$PPID` is read after
 * the prctl: a ckpt gone by then is seen, one that dies later sends SIGKILL.
 */
const ALIVE_CHECK = 'test "$PPID" = "$1" || exit 129; shift; exec "$@"';
/** The argv of setpriv running `git ARGS` (see {@link ALIVE_CHECK}). */
const wrappedGit = (args: readonly string[], parentPid = process.pid): string[] => [...PDEATHSIG_ARGS, '/bin/sh', '-c', ALIVE_CHECK, 'sh', String(parentPid), 'git', ...args];

/**
 * The command line ckpt runs `git ARGS` with on this system: through setpriv
 * (parent-death signal, then git only while its parent is `parentPid`), or
 * git itself where there is no setpriv. For tests and tools that check how
 * git children end.
 */
export function gitCommandLine(args: readonly string[], parentPid = process.pid): string[] {
  const wrapper = deathSigWrapper();
  return wrapper ? [wrapper, ...wrappedGit(args, parentPid)] : ['git', ...args];
}
let wrapperPath: string | null | undefined;

/** util-linux `setpriv` on Linux (to give each git child a parent-death signal), else null. */
function deathSigWrapper(): string | null {
  if (wrapperPath === undefined) {
    wrapperPath = null;
    if (process.platform === 'linux' && process.env.CKPT_NO_PDEATHSIG !== '1' && existsSync('/bin/sh')) {
      for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) {
        if (existsSync(p)) {
          wrapperPath = p;
          break;
        }
      }
    }
  }
  return wrapperPath;
}

const live = new Set<ChildProcess>();
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  // The program handles this signal itself (`ckpt watch` stops after a last
  // snapshot, a race cleans up): it ends its own work, git included.
  // signal-exit's listeners (write-file-atomic's, removing its temporary file)
  // do not count: they act only when no other listener is left, as after ours.
  const signalExit = (process as unknown as { __signal_exit_emitter__?: { count?: number } }).__signal_exit_emitter__;
  if (process.listenerCount(signal) - 1 - (signalExit?.count ?? 0) > 0) return;
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  // The locks this process holds go with it (one left would be taken over at once anyway: it names a gone process).
  releaseHeldLocks();
  // End as the signal would have, now that no git child is left behind.
  process.kill(process.pid, signal);
}

function track(child: ChildProcess): void {
  if (live.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  live.add(child);
}

function untrack(child: ChildProcess): void {
  if (!live.delete(child) || live.size > 0) return;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/**
 * Starts a long-lived `git ARGS` with piped stdin, stdout and stderr (a
 * `cat-file --batch` served request by request), ending with ckpt like every
 * child of {@link git}. The caller reads and writes the pipes and ends git.
 *
 * @throws whatever `spawn` throws (git missing shows as the child's `error` event).
 */
export function spawnGit(args: readonly string[], options: Pick<GitOptions, 'cwd' | 'env'>): ChildProcessByStdio<Writable, Readable, Readable> {
  const wrapper = deathSigWrapper();
  const child = spawn(wrapper ?? 'git', wrapper ? wrappedGit(args) : args, { cwd: options.cwd, env: mergeEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  track(child);
  child.once('close', () => untrack(child));
  return child;
}

/**
 * Runs `git ARGS` with its stdout written straight to the open file `fd`
 * (no byte passes through ckpt's memory), ending with ckpt like every child.
 *
 * @throws CkptError `GIT_FAILED` when git cannot start or exits non-zero (data: stderr).
 */
export function gitToFd(args: readonly string[], fd: number, options: Pick<GitOptions, 'cwd' | 'env'>): Promise<void> {
  return new Promise((resolve, reject) => {
    const wrapper = deathSigWrapper();
    let child: ChildProcess;
    try {
      child = spawn(wrapper ?? 'git', wrapper ? wrappedGit(args) : args, { cwd: options.cwd, env: mergeEnv(options.env), stdio: ['ignore', fd, 'pipe'], windowsHide: true });
    } catch (err) {
      reject(new CkptError('GIT_FAILED', `could not run git ${args[0] ?? ''}`, { cause: err, hint: 'Check that git is installed and on PATH.' }));
      return;
    }
    track(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 4000) stderr += c.toString('utf8');
    });
    child.on('error', (err) => reject(new CkptError('GIT_FAILED', `could not run git ${args[0] ?? ''}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => {
      untrack(child);
      if (code === 0) resolve();
      else reject(new CkptError('GIT_FAILED', `git ${args[0] ?? ''} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: ${firstLine(stderr)}`, { data: { args: [...args], exitCode: code, stderr } }));
    });
  });
}

/** How many git children of this process are running now (for tests and diagnostics). */
export function liveGitChildren(): number {
  return live.size;
}

/** Like {@link git} but returns stdout as UTF-8 text with the final newline removed. */
export async function gitText(args: readonly string[], options: GitOptions): Promise<string> {
  const { stdout } = await git(args, options);
  return stdout.toString('utf8').replace(/\n$/, '');
}

/**
 * Runs `git ARGS --pathspec-from-file=- --pathspec-file-nul` with `paths`
 * (worktree-relative, raw bytes or text) on stdin, taken literally
 * (`GIT_LITERAL_PATHSPECS=1`): no path ever reaches argv or is read as a
 * pattern or an option (test: snapshot.test.ts "keeps hostile and odd file
 * names byte-exact"). Options as {@link git}.
 */
export function gitWithPaths(args: readonly string[], paths: readonly (string | Buffer)[], options: GitOptions): Promise<GitResult> {
  return git([...args, '--pathspec-from-file=-', '--pathspec-file-nul'], { ...options, env: { ...options.env, GIT_LITERAL_PATHSPECS: '1' }, input: joinNul(paths) });
}

/** NUL-terminates each record and joins them (input for git's `-z` / `--stdin` modes); the inverse of {@link splitNul}. */
export function joinNul(records: readonly (string | Buffer)[]): Buffer {
  const nul = Buffer.from([0]);
  return Buffer.concat(records.flatMap((r) => [typeof r === 'string' ? Buffer.from(r) : r, nul]));
}

/** Splits NUL-terminated output (`-z`) into its records, dropping the empty tail. */
export function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

/**
 * The errno behind a git failure that is the file system's, not git's: a
 * full disk or quota, a read-only file system, permission denied writing
 * the object store or an index (git's messages, C locale). Null otherwise.
 */
export function fileSystemErrno(stderr: string): 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EACCES' | null {
  if (/No space left on device/i.test(stderr)) return 'ENOSPC';
  if (/Disk quota exceeded/i.test(stderr)) return 'EDQUOT';
  if (/Read-only file system/i.test(stderr)) return 'EROFS';
  if (/insufficient permission for adding an object|unable to (create|write) .*Permission denied|could not write .*Permission denied|Unable to create .*\.lock.*Permission denied/i.test(stderr)) return 'EACCES';
  return null;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.replace(/^(fatal|error): /, '').trim() || 'no message';
}
