/** Race ids: the local start time to the second plus 4 random hex digits (`20261201-200153-a1b2`), sortable and unique enough for one repository. */
import { randomBytes } from 'node:crypto';

/** A new race id from the local clock (`YYYYMMDD-HHMMSS-xxxx`). */
export function raceId(now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}-${randomBytes(2).toString('hex')}`;
}
