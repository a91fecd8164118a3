/**
 * Runs native git. Every git call of ckpt goes through {@link git}: output is
 * piped (never inherited, so ckpt's own closed stdout cannot SIGPIPE a git step
 * into a partial result — reliability note 29), any non-zero exit or signal is
 * an error, prompts and optional locks are off, and messages are in the C
 * locale so they can be matched.
 */
import { execa } from 'execa';
import { CkptError } from '../core/errors.js';

/** Options for {@link git}. */
export interface GitOptions {
  /** Working directory of the git process. */
  cwd: string;
  /** Extra environment (merged over the process environment). */
  env?: Record<string, string | undefined>;
  /** Bytes or text written to git's stdin. */
  input?: string | Buffer;
  /** Exit codes that are not failures (e.g. `[1]` for `diff --quiet`). Default `[0]`. */
  okCodes?: number[];
  /** Kill git after this many ms. Default 120000. */
  timeoutMs?: number;
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

/**
 * Runs `git ARGS` and returns its raw output.
 *
 * @throws CkptError `GIT_NOT_FOUND` when git is not on PATH; `GIT_FAILED`
 *   (data: args, exitCode, stderr) when git exits with a code not in
 *   `okCodes`, is killed by a signal or times out.
 */
export async function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const okCodes = options.okCodes ?? [0];
  let result;
  try {
    result = await execa('git', args, {
      cwd: options.cwd,
      env: { ...BASE_GIT_ENV, ...options.env },
      extendEnv: true,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      encoding: 'buffer',
      reject: false,
      stripFinalNewline: false,
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 2 ** 31 - 1,
    });
  } catch (err) {
    throw new CkptError('GIT_FAILED', `could not run git ${args[0] ?? ''}`, { cause: err, hint: 'Check that git is installed and on PATH.' });
  }
  const stderr = Buffer.from(result.stderr as Uint8Array).toString('utf8');
  if ((result as { code?: string }).code === 'ENOENT' || (result.failed && result.exitCode === undefined && /ENOENT/.test(String(result.message)))) {
    throw new CkptError('GIT_NOT_FOUND', 'git was not found on PATH', { hint: 'Install git 2.39 or newer.' });
  }
  const exitCode = result.exitCode ?? -1;
  if (result.signal || result.timedOut || !okCodes.includes(exitCode)) {
    const how = result.timedOut ? 'timed out' : result.signal ? `was killed by ${result.signal}` : `exited with ${exitCode}`;
    throw new CkptError('GIT_FAILED', `git ${args[0] ?? ''} ${how}: ${firstLine(stderr)}`, {
      data: { args: [...args], exitCode, signal: result.signal ?? null, stderr: stderr.slice(0, 4000) },
      hint: 'This is git\'s own message; the command changed nothing that was not recorded first.',
    });
  }
  return { stdout: Buffer.from(result.stdout as Uint8Array), stderr, exitCode };
}

/** Like {@link git} but returns stdout as UTF-8 text with the final newline removed. */
export async function gitText(args: readonly string[], options: GitOptions): Promise<string> {
  const { stdout } = await git(args, options);
  return stdout.toString('utf8').replace(/\n$/, '');
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

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.replace(/^(fatal|error): /, '').trim() || 'no message';
}
