/**
 * How long the daemon waits without a request or a file event before it
 * stops: `--idle` of `ckpt daemon start`, else `CKPT_DAEMON_IDLE`, else 30
 * minutes. The variable is how a test run (or a user's shell) keeps
 * auto-started daemons from piling up: every daemon a hook, a watch, a
 * rollback or a race starts inherits it.
 */
import { parseDuration } from '../core/duration.js';
import { CkptError } from '../core/errors.js';

/** The daemon's idle stop when neither `--idle` nor `CKPT_DAEMON_IDLE` says otherwise: 30 min, in ms. */
export const IDLE_MS = 30 * 60_000;

/**
 * The idle stop from `CKPT_DAEMON_IDLE` (a duration with its unit: `10s`,
 * `5m`; core/duration.ts), else {@link IDLE_MS}; in ms.
 *
 * @throws CkptError `INVALID_DURATION` naming the variable when its value is not a duration.
 */
export function idleFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.CKPT_DAEMON_IDLE;
  if (v === undefined || v === '') return IDLE_MS;
  try {
    return parseDuration(v);
  } catch (err) {
    const e = err as CkptError;
    throw new CkptError('INVALID_DURATION', `CKPT_DAEMON_IDLE: ${e.message}`, { hint: e.hint ?? 'Give a duration with its unit, such as 10s or 5m.', data: { variable: 'CKPT_DAEMON_IDLE', value: v } });
  }
}
