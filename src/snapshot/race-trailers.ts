/**
 * The trailers a client of the daemon may ask for on a snapshot (`extra` of
 * its `snapshot` and `subscribe` commands, watch/daemon.ts): a race's own,
 * `Race`, `Attempt` and `Round`, each validated. Anything that can connect(2)
 * to the daemon's socket can send a request (a sandboxed agent can), so
 * ckpt's other trailers (`Kind`, `Head`, `Rollback-Target`, ...) and made-up
 * ones are refused, never written.
 */
import { TRAILER } from './format.js';

/** A race id as race/ids.ts makes it: `YYYYMMDD-HHMMSS-xxxx` (4 hex digits). */
export const RACE_ID_PATTERN = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$/;

/** An attempt's name as race/config.ts `parseModels` makes it (an agent's name, then `-N` past the first), at most 100 characters. */
export const ATTEMPT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A round: a positive integer without leading zeros, at most 6 digits. */
const ROUND_PATTERN = /^[1-9][0-9]{0,5}$/;

const ALLOWED: Readonly<Record<string, RegExp>> = { [TRAILER.race]: RACE_ID_PATTERN, [TRAILER.attempt]: ATTEMPT_NAME_PATTERN, [TRAILER.round]: ROUND_PATTERN };

/**
 * Validates a request's `extra` (trailer name → value).
 *
 * @param extra the request's field as parsed from JSON; `undefined` or `null`
 *   is none.
 * @returns `{extra}`: the trailers (undefined when none were asked), or
 *   `{error}`: why the request is refused (the daemon replies `BAD_REQUEST`
 *   with it and records nothing): not an object, a key other than `Race`,
 *   `Attempt`, `Round`, or a value not matching its pattern.
 */
export function requestTrailers(extra: unknown): { extra: Record<string, string> | undefined } | { error: string } {
  if (extra === undefined || extra === null) return { extra: undefined };
  if (typeof extra !== 'object' || Array.isArray(extra)) return { error: 'extra must be an object of trailers' };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(extra as Record<string, unknown>)) {
    const pattern = Object.hasOwn(ALLOWED, key) ? ALLOWED[key] : undefined;
    if (!pattern) return { error: `extra may name only the trailers ${Object.keys(ALLOWED).join(', ')}, not ${JSON.stringify(key)}` };
    if (typeof value !== 'string' || !pattern.test(value)) return { error: `bad ${key} trailer in extra: ${JSON.stringify(value)}` };
    out[key] = value;
  }
  return { extra: Object.keys(out).length > 0 ? out : undefined };
}
