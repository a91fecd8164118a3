/**
 * The CLI's one output channel. Command files print only through an
 * {@link Output}: human lines, or with `--json` exactly one JSON document on
 * stdout (or one JSON line per event for `watch --json`); warnings and errors
 * on stderr (or `{"error": {...}}` on stdout with `--json`); raw streams
 * (patches, the pager, the race's live status). It owns:
 *
 * - the colour decision, made once ({@link decideColor}): `--color`, then
 *   `NO_COLOR`, then `FORCE_COLOR`, then whether stdout is a terminal;
 * - the quoting of names and texts ({@link quote}, git's `core.quotePath`
 *   style), so no byte chosen by an agent reaches the terminal raw;
 * - tables ({@link renderTable}), one style for all;
 * - write failures: a full disk or a closed pipe on stdout makes the command
 *   fail ({@link Output.flush}) instead of exiting 0 with its output lost.
 *
 * Only the CLI prints or exits.
 */
import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import pc from 'picocolors';
import { CkptError, type ErrorKind } from '../core/errors.js';
import { quote } from '../core/quote.js';

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

/** `--color=WHEN`. */
export type ColorMode = 'auto' | 'always' | 'never';

/** The colour functions (picocolors' shape); plain ones when colour is off. */
export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Whether to colour: `--color=always|never` decides; with `auto`, a
 * non-empty `NO_COLOR` (no-color.org) turns it off, `FORCE_COLOR` turns it
 * on (`0` or `false`: off), otherwise only a terminal that is not `dumb` gets
 * colour. `CI` and other variables play no part.
 */
export function decideColor(mode: ColorMode, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return isTTY && env.TERM !== 'dumb';
}

/** A stream Output writes to (process.stdout/stderr, or a test's). */
export type OutStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

/** Options of {@link Output}. */
export interface OutputOptions {
  /** `--json`: results as one JSON document, no human text on stdout. */
  json: boolean;
  /** `--color`; default `auto`. */
  color?: ColorMode;
  stdout?: OutStream;
  stderr?: OutStream;
  env?: NodeJS.ProcessEnv;
}

/** Live status lines redrawn in place (a terminal only). */
export interface Live {
  update(text: string): void;
  done(): void;
}

/** The first write error of each stream (EPIPE, ENOSPC), whichever Output wrote. */
const writeErrors = new WeakMap<OutStream, NodeJS.ErrnoException>();
const watched = new WeakSet<OutStream>();

function watch(stream: OutStream): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!writeErrors.has(stream)) writeErrors.set(stream, err);
  });
}

/** Output for one command run. */
export class Output {
  readonly json: boolean;
  /** Whether human text is coloured (never with `--json`). */
  readonly color: boolean;
  /** Colour functions; plain when {@link color} is false. */
  readonly c: Colors;
  private readonly stdout: OutStream;
  private readonly stderr: OutStream;
  /** Colour for stderr (its own terminal check). */
  private readonly ce: Colors;

  constructor(opts: OutputOptions | boolean) {
    const o: OutputOptions = typeof opts === 'boolean' ? { json: opts } : opts;
    this.json = o.json;
    this.stdout = o.stdout ?? process.stdout;
    this.stderr = o.stderr ?? process.stderr;
    const env = o.env ?? process.env;
    const mode = o.color ?? 'auto';
    this.color = !this.json && decideColor(mode, env, !!this.stdout.isTTY);
    this.c = pc.createColors(this.color);
    this.ce = pc.createColors(decideColor(mode, env, !!this.stderr.isTTY));
    watch(this.stdout);
    watch(this.stderr);
  }

  /** Columns of the terminal, or `fallback` when stdout is not one. */
  width(fallback = 120): number {
    return this.stdout.columns ?? fallback;
  }

  /** Whether stdout is a terminal (and not `--json`): live status and the pager apply. */
  get interactive(): boolean {
    return !this.json && !!this.stdout.isTTY;
  }

  /** A path, attempt, branch or other name, quoted for printing (see {@link quote}). */
  q(name: string): string {
    return quote(name, 'path');
  }

  /** A free text (task, agent output, message) with its control characters escaped. */
  t(value: string): string {
    return quote(value, 'text');
  }

  /** Prints a line of human text (ignored in JSON mode). */
  line(textValue = ''): void {
    if (!this.json) this.write(this.stdout, this.guard(textValue) + '\n');
  }

  /** Prints the command's JSON result (only in JSON mode). */
  result(value: unknown): void {
    if (this.json) this.write(this.stdout, JSON.stringify(value, null, 2) + '\n');
  }

  /** One JSON line for a stream of events (`watch --json`; only in JSON mode). */
  event(value: unknown): void {
    if (this.json) this.write(this.stdout, JSON.stringify(value) + '\n');
  }

  /**
   * Bytes that are the output itself (a patch): written as they are, in
   * human mode only. A patch's own names are quoted by git (core.quotePath).
   */
  raw(data: string): void {
    if (!this.json) this.write(this.stdout, data);
  }

  /** Long text through the pager when stdout is a terminal (view/pager.ts); `enabled: false` for `--no-pager`. */
  async page(textValue: string, opts: { enabled?: boolean } = {}): Promise<void> {
    if (this.json) return;
    const { page } = await import('../view/pager.js');
    await page(textValue, { enabled: opts.enabled !== false, stdout: this.stdout as NodeJS.WriteStream });
  }

  /** Status lines redrawn in place (log-update), or null when stdout is not a terminal. */
  async live(): Promise<Live | null> {
    if (!this.interactive) return null;
    const { createLogUpdate } = await import('log-update');
    const lu = createLogUpdate(this.stdout as NodeJS.WriteStream);
    return { update: (s) => lu(s), done: () => lu.done() };
  }

  /** Rings the terminal bell (BEL on stdout; human mode only): `ckpt agents --watch` when an agent starts waiting. */
  bell(): void {
    if (!this.json) this.write(this.stdout, '\x07');
  }

  /** Prints a table (human mode only); see {@link renderTable}. */
  table(spec: TableSpec): void {
    if (!this.json) this.line(renderTable(spec, this.color));
  }

  /** A warning: stderr in both modes. */
  warn(textValue: string): void {
    this.write(this.stderr, `${this.ce.yellow('warning:')} ${quote(textValue, 'text')}\n`);
  }

  /** Reports an error and returns the exit code it maps to. */
  fail(err: unknown): number {
    const e = toCkptError(err);
    if (this.json) {
      this.write(this.stdout, JSON.stringify({ error: e.toJSON() }, null, 2) + '\n');
    } else {
      this.write(this.stderr, `${this.ce.red('error:')} ${quote(e.message, 'text')}\n`);
      if (e.hint) this.write(this.stderr, `${this.ce.dim('hint:')} ${quote(e.hint, 'text')}\n`);
      if (e.code === 'INTERNAL' || e.code === 'GIT_FAILED') {
        const cause = e.cause instanceof Error ? e.cause.stack ?? e.cause.message : '';
        if (process.env.CKPT_DEBUG && cause) this.write(this.stderr, this.ce.dim(quote(cause, 'text')) + '\n');
      }
    }
    return KIND_EXIT[e.kind];
  }

  /**
   * Waits until everything written has reached stdout and stderr.
   *
   * @returns the first write error of stdout (EPIPE: the reader went away;
   *   ENOSPC: a full disk, `ckpt log > /dev/full`), or null.
   */
  async flush(): Promise<NodeJS.ErrnoException | null> {
    const drain = (s: OutStream): Promise<void> =>
      new Promise((resolve) => {
        try {
          if (!s.write('', () => resolve())) s.once('drain', () => resolve());
        } catch {
          resolve();
        }
      });
    await Promise.all([drain(this.stdout), drain(this.stderr)]);
    return writeErrors.get(this.stdout) ?? null;
  }

  /** Whether stdout already failed (nothing more should be written to it). */
  get broken(): boolean {
    return writeErrors.has(this.stdout);
  }

  /** Without colour no escape sequence is ours: any control byte left is escaped, whatever forgot to quote it. */
  private guard(s: string): string {
    return this.color ? s : quote(s, 'text');
  }

  private write(stream: OutStream, data: string): void {
    if (writeErrors.has(stream)) return;
    try {
      stream.write(data);
    } catch (err) {
      if (!writeErrors.has(stream)) writeErrors.set(stream, err as NodeJS.ErrnoException);
    }
  }
}

/** A table to print: cells already quoted (and coloured) by the caller. */
export interface TableSpec {
  head: string[];
  rows: string[][];
  colAligns?: ('left' | 'right')[];
  /** No rule between rows (the log and race tables). */
  compact?: boolean;
  /** Cyan head and grey borders when colour is on. */
  styled?: boolean;
}

/** Renders a table in the house style (cli-table3); `color` from {@link Output.color}. */
export function renderTable(spec: TableSpec, color: boolean): string {
  const styled = color && spec.styled;
  // Loaded when a table is printed (~12 ms here), not by every command that imports the Output.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof TableType;
  const table = new Table({
    head: spec.head,
    style: { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [] },
    ...(spec.compact ? { chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } } : {}),
    ...(spec.colAligns ? { colAligns: spec.colAligns } : {}),
  });
  table.push(...spec.rows);
  return table.toString();
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

/**
 * After a command: waits for its output to arrive and turns a write failure
 * of stdout into a failure of the command (exit code 4 unless it failed
 * already; a message on stderr unless the reader went away, EPIPE): output
 * that never arrived is not success (`ckpt log > /dev/full`, a closed pipe).
 */
export async function settleOutput(out: Output): Promise<void> {
  const werr = await out.flush();
  if (!werr) return;
  if (werr.code !== 'EPIPE') {
    try {
      process.stderr.write(`error: cannot write the output to stdout: ${werr.code ?? werr.message}\n`);
    } catch {
      // stderr is gone too
    }
  }
  if (!process.exitCode) process.exitCode = EXIT.environment;
}
