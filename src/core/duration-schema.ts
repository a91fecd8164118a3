/**
 * The zod schemas of durations and points in time, shared by the command
 * line's options (src/cli) and the race config file (race/config.ts), so both
 * follow {@link parseDuration}'s rule. Apart from core/duration.ts so the hook
 * path, which parses no duration option, does not load zod.
 */
import * as z from './zod.js';
import type { CkptError } from './errors.js';
import { parseDuration, parseTimePoint } from './duration.js';

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
 * library parses it again with the same function.
 */
export const durationText = z.string().superRefine(issueFor(parseDuration));

/** A point in time as text, checked by {@link parseTimePoint}. */
export const timePointText = z.string().superRefine(issueFor((s) => parseTimePoint(s, Date.now())));
