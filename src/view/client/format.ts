/** Text for durations, token counts, ages and step labels, as the page shows them. */
import type { Step } from '../../core/types.js';
import type { Tokens } from '../../race/types.js';

/** `ms` (milliseconds) as `850 ms`, `12.3 s` or `4m05s`; `—` when unknown. */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  const m = Math.floor(ms / 60000);
  return m + 'm' + String(Math.round((ms % 60000) / 1000)).padStart(2, '0') + 's';
}

/** `12.3k in / 800 out`; `—` when the agent reported none. */
export function fmtTokens(t: Tokens | null): string {
  if (!t) return '—';
  const k = (n: number): string => (n >= 1000 ? (n / 1000).toFixed(1) + 'k' : String(n));
  return k(t.input) + ' in / ' + k(t.output) + ' out';
}

/** How long ago `ms` (ms since the epoch) was: `5s ago`, `3m ago`, `2h ago`, `4d ago`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

/** A step's tool and target (`Edit src/a.ts`), or its message. */
export function stepLabel(s: Step): string {
  return [s.tool, s.target].filter(Boolean).join(' ') || s.message;
}
