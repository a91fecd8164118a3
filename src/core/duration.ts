/**
 * Durations and points in time given by the user (`--older-than 7d`,
 * `--to "10 minutes ago"`, `--timeout 20m`). Parsing of the amounts is the
 * `ms` package's (vercel/ms): `90s`, `10m`, `2 hours`, `1.5h`, `7 days`.
 */
import ms from 'ms';
import { CkptError } from './errors.js';

/**
 * Parses a duration into milliseconds.
 *
 * @param text e.g. `20m`, `90s`, `2 hours`, `1500` (plain numbers are ms).
 * @throws CkptError `INVALID_DURATION`.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : ms(trimmed as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new CkptError('INVALID_DURATION', `not a duration: ${JSON.stringify(text)}`, { hint: 'Use forms like 90s, 10m, 2h, 7d or "10 minutes".' });
  }
  return value;
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
    throw new CkptError('INVALID_DURATION', `not a time: ${JSON.stringify(text)}`, { hint: 'Use "10 minutes ago", "2h ago" or an ISO date like 2026-11-23T14:05.' });
  }
}
