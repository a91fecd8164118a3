/**
 * The CLI's one output channel: human text, or with `--json` exactly one JSON
 * document on stdout. Errors go to stderr as text (message + hint), or to
 * stdout as `{"error": {...}}` with `--json`. Only the CLI prints or exits.
 */
import pc from 'picocolors';
import { CkptError, type ErrorKind } from '../core/errors.js';

/** Exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  internal: 1,
  user: 2,
  conflict: 3,
  environment: 4,
  interrupted: 130,
} as const;

const KIND_EXIT: Record<ErrorKind, number> = { user: EXIT.user, conflict: EXIT.conflict, environment: EXIT.environment, internal: EXIT.internal };

/** Whether stdout is a terminal and colour is allowed (NO_COLOR / FORCE_COLOR respected by picocolors). */
export function useColor(): boolean {
  return pc.isColorSupported && !!process.stdout.isTTY;
}

/** Output for one command run. */
export class Output {
  constructor(readonly json: boolean) {}

  /** Prints a line of human text (ignored in JSON mode). */
  line(text = ''): void {
    if (!this.json) write(process.stdout, text + '\n');
  }

  /** Prints the command's JSON result (only in JSON mode). */
  result(value: unknown): void {
    if (this.json) write(process.stdout, JSON.stringify(value, null, 2) + '\n');
  }

  /** A warning: stderr in both modes. */
  warn(text: string): void {
    write(process.stderr, `${pc.yellow('warning:')} ${text}\n`);
  }

  /** Reports an error and returns the exit code it maps to. */
  fail(err: unknown): number {
    const e = toCkptError(err);
    if (this.json) {
      write(process.stdout, JSON.stringify({ error: e.toJSON() }, null, 2) + '\n');
    } else {
      write(process.stderr, `${pc.red('error:')} ${e.message}\n`);
      if (e.hint) write(process.stderr, `${pc.dim('hint:')} ${e.hint}\n`);
      if (e.code === 'INTERNAL' || e.code === 'GIT_FAILED') {
        const cause = e.cause instanceof Error ? e.cause.stack ?? e.cause.message : '';
        if (process.env.CKPT_DEBUG && cause) write(process.stderr, pc.dim(cause) + '\n');
      }
    }
    return KIND_EXIT[e.kind];
  }
}

/** Wraps anything thrown into a CkptError (unknown errors are `INTERNAL`). */
export function toCkptError(err: unknown): CkptError {
  if (err instanceof CkptError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CkptError('INTERNAL', msg, {
    cause: err,
    hint: 'This is a bug in ckpt. Run again with CKPT_DEBUG=1 for details and report it.',
  });
}

function write(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // A closed pipe (`ckpt log | head`): nothing more to say.
  }
}

/** "5s ago", "3m ago", "2h ago", "4d ago". */
export function age(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Bytes as B, KiB, MiB, GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Milliseconds as `820 ms`, `4.2 s`, `3m12s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}
