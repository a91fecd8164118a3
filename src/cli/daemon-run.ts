/**
 * `ckpt daemon run` as the daemon is started (watch/daemon-control.ts): the
 * daemon's own process skips commander, zod and the output module, which it
 * never uses while it runs (their code and heap were a part of its memory
 * and of its ready time; issue 11, benchmarks/results.md). Only the argument
 * forms it is started with are read here (`--idle D`, `--verify D`,
 * `--poll`, each at most once, a duration as core/duration.ts reads it);
 * anything else, a bad value included, returns null so the full CLI parses
 * it and reports the error as every command does.
 */
import { parseDuration } from '../core/duration.js';
import type { DaemonOptions } from '../watch/daemon.js';
import type { RollbackServer } from '../watch/rollback-service.js';

/** The daemon's rollbacks (cli/daemon-rollback.ts), loaded at the first one: not a part of its start-up or its memory until then. */
export const lazyRollback: RollbackServer = async (msg, svc) => (await import('./daemon-rollback.js')).serveRollback(msg, svc);

/** The options of `daemon run ARGS`, or null when ARGS are for the full CLI to parse (and reject). */
export function fastDaemonArgs(args: readonly string[]): DaemonOptions | null {
  const opts: DaemonOptions = {};
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (seen.has(a)) return null;
    seen.add(a);
    if (a === '--poll') {
      opts.poll = true;
      continue;
    }
    if (a !== '--idle' && a !== '--verify') return null;
    const v = args[++i];
    if (v === undefined || v.startsWith('-')) return null;
    let msValue: number;
    try {
      msValue = parseDuration(v);
    } catch {
      return null;
    }
    if (a === '--idle') opts.idleMs = msValue;
    else opts.verifyMs = msValue;
  }
  return opts;
}

/**
 * Runs the daemon in the foreground in `cwd` until it stops.
 *
 * @returns the exit code: 0 when it stopped, else the code of the error
 *   (`DAEMON_RUNNING` and the others of runDaemon), printed as the CLI prints errors.
 */
export async function runDaemonFast(cwd: string, opts: DaemonOptions): Promise<number> {
  const { runDaemon } = await import('../watch/daemon.js');
  let ended: { why: string } | { err: unknown };
  try {
    ended = { why: await runDaemon(cwd, { rollback: lazyRollback, ...opts }) };
  } catch (err) {
    ended = { err };
  }
  // Loaded only now: the output module is no part of the daemon while it runs.
  const { Output, settleOutput } = await import('./output.js');
  const out = new Output({ json: false, color: 'never' });
  if ('err' in ended) process.exitCode = out.fail(ended.err);
  else {
    process.exitCode = 0;
    out.line(`daemon stopped: ${ended.why}`);
  }
  await settleOutput(out);
  return Number(process.exitCode);
}
