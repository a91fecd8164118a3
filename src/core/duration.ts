/**
 * Durations and points in time given by the user (`--older-than 7d`,
 * `--to "10 minutes ago"`, `--timeout 20m`, the race config file). Parsing of
 * the amounts is the `ms` package's (vercel/ms): `90s`, `10m`, `2 hours`,
 * `1.5h`, `7 days`, `250ms`.
 *
 * One rule for every duration ckpt reads: it carries a unit and is longer
 * than zero. A bare number (`180`) is refused rather than guessed (it was
 * read as milliseconds, so `--timeout 180` killed an agent after 183 ms and
 * `gc --older-than 180` dropped the whole chain), and `0` never means "no
 * limit".
 */
import ms from 'ms';
import { CkptError } from './errors.js';

/** The hint every duration refused for its form carries: the units. */
export const DURATION_HINT = 'Give a unit: 180s, 180m, 2h, 7d (units: ms, s, m, h, d, w; also "10 minutes").';

/** The hint of a duration of zero or less (it has a unit: the amount is wrong). */
export const DURATION_POSITIVE_HINT = 'Give an amount longer than zero: 30s, 20m, 2h, 7d.';

/**
 * Parses a duration into milliseconds.
 *
 * @param text e.g. `20m`, `90s`, `2 hours`, `1500ms`, `1h30m`. A bare number is refused.
 * @returns milliseconds, > 0.
 * @throws CkptError `INVALID_DURATION` for a bare number (the hint names the
 *   units), zero, a negative amount, or text that is no duration.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^[-+]?(\d+\.?\d*|\.\d+)$/.test(trimmed)) {
    throw new CkptError('INVALID_DURATION', `${JSON.stringify(text)} has no unit`, { hint: DURATION_HINT, data: { value: text } });
  }
  const value = trimmed === '' ? undefined : amount(trimmed);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new CkptError('INVALID_DURATION', `not a duration: ${JSON.stringify(text)}`, { hint: DURATION_HINT, data: { value: text } });
  }
  if (value <= 0) {
    throw new CkptError('INVALID_DURATION', `a duration must be longer than zero: ${JSON.stringify(text)}`, { hint: DURATION_POSITIVE_HINT, data: { value: text } });
  }
  return value;
}

/** `ms`'s forms, and sums of them without spaces as {@link formatDuration} writes them (`1h30m`). */
function amount(text: string): number | undefined {
  const parts = /^(?:\d+(?:\.\d+)?[a-z]+){2,}$/i.test(text) ? text.match(/\d+(?:\.\d+)?[a-z]+/gi)! : [text];
  let total = 0;
  for (const p of parts) {
    const v = ms(p as ms.StringValue);
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    total += v;
  }
  return total;
}

/**
 * Parses a point in time: `10 minutes ago`, `10m` (same), an ISO date or
 * date-time, or `now`.
 *
 * @param now reference time in ms since the epoch.
 * @returns ms since the epoch.
 * @throws CkptError `INVALID_DURATION`.
 */
export function parseTimePoint(text: string, now: number): number {
  const trimmed = text.trim();
  if (trimmed === 'now') return now;
  const ago = /^(.*?)\s*ago$/i.exec(trimmed);
  if (ago) return now - parseDuration(ago[1]!);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const t = Date.parse(trimmed);
    if (Number.isFinite(t)) return t;
  }
  try {
    return now - parseDuration(trimmed);
  } catch {
    throw new CkptError('INVALID_DURATION', `not a time: ${JSON.stringify(text)}`, {
      hint: 'Use "10 minutes ago", "2h ago", "now" or an ISO date like 2026-11-23T14:05 (a bare number has no unit).',
      data: { value: text },
    });
  }
}

/**
 * Milliseconds as a duration ckpt would read back: `30m`, `1h30m`, `90s` →
 * `1m30s`, `250ms`. Exact (no rounding) down to the millisecond.
 */
export function formatDuration(msValue: number): string {
  if (!Number.isFinite(msValue)) return String(msValue);
  let rest = Math.round(msValue);
  if (rest <= 0) return `${rest}ms`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
