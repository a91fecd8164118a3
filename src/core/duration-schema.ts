/**
 * The zod schemas of durations and points in time, shared by the command
 * line's options (src/cli) and the race config file (race/config.ts), so both
 * follow {@link parseDuration}'s rule. Apart from core/duration.ts so the hook
 * path, which parses no duration option, does not load zod.
 */
import * as z from './zod.js';
import type { CkptError } from './errors.js';
import { DURATION_HINT, parseDuration, parseTimePoint } from './duration.js';

function issueFor(check: (s: string) => void): (s: string, ctx: z.RefinementCtx) => void {
  return (s, ctx) => {
    try {
      check(s);
    } catch (err) {
      const e = err as CkptError;
      ctx.addIssue({ code: 'custom', message: e.message, params: { hint: e.hint, code: e.code } });
    }
  };
}

/**
 * A duration as text, checked by {@link parseDuration} (the command-line
 * options and the race config file share it). The text is kept: the
 * library parses it again with the same function. A JSON number (config
 * `"timeout": 180`) is refused with the units hint, as a bare number on the
 * command line is.
 */
export const durationText = z.union([z.string(), z.number()]).transform((v, ctx): string => {
  if (typeof v === 'number') {
    ctx.addIssue({ code: 'custom', message: `${v} is a number without a unit, not a duration`, params: { hint: DURATION_HINT, code: 'INVALID_DURATION' } });
    return z.NEVER;
  }
  issueFor(parseDuration)(v, ctx);
  return v;
});

/** A point in time as text, checked by {@link parseTimePoint}. */
export const timePointText = z.string().superRefine(issueFor((s) => parseTimePoint(s, Date.now())));
