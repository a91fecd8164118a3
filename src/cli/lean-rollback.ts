/**
 * `ckpt rollback` without commander or zod, for the forms a person types
 * (`ckpt rollback 3`, `--undo`, `-n`, `--json`, `--to TIME`, `-- PATHS`):
 * loading the two took about as long as the rest of a 10-file rollback
 * through the daemon. Any other form (help, a global option, an option
 * spelled otherwise, `-N`, an unknown or repeated option, a value starting
 * with `-`) is left to the full path (main.ts), which refuses or accepts it
 * as it always did. What is accepted here is validated exactly as the
 * schema in cli/commands/rollback.ts validates it (`--to` by the same
 * `parseTimePoint`, its error carrying the same code, message, hint and
 * data), then run by the same function; test/cli-lean.test.ts compares both
 * paths on the same command lines. The parse itself is cli/lean-parse.ts
 * (no import: the daemon's rollback client, cli/rollback-client.ts, uses it
 * too); {@link runLean} is what both the CLI (main.ts) and the daemon
 * (cli/daemon-rollback.ts) run once a line is taken.
 */
import { parseTimePoint } from '../core/duration.js';
import { CkptError } from '../core/errors.js';
import { EXIT } from './output.js';
import { run, type RunOptions } from './commands/rollback-run.js';
import type { Ctx } from './context.js';
import type { LeanRollback } from './lean-parse.js';

export { parseLeanRollback, type LeanRollback } from './lean-parse.js';

/**
 * Checks the values of a {@link parseLeanRollback} result as the schema
 * does.
 *
 * @throws CkptError `INVALID_DURATION` (or what `parseTimePoint` throws) for
 *   a `--to` that is not a point in time: message `--to: …`, the same hint,
 *   data `{option: '--to', value}`.
 */
export function validateLean(lean: LeanRollback, now = Date.now()): void {
  const to = lean.input.to;
  if (to === undefined) return;
  try {
    parseTimePoint(to, now);
  } catch (err) {
    const e = err as CkptError;
    throw new CkptError(e.code ?? 'INVALID_ARGUMENT', `--to: ${e.message}`, { hint: e.hint ?? 'See `ckpt rollback --help`.', data: { option: '--to', value: to } });
  }
}

/**
 * Validates and runs a taken command line, printing through `ctx.out`: the
 * lean path's whole command, the same in the CLI's process (main.ts) and in
 * the daemon's (cli/daemon-rollback.ts).
 *
 * @param opts the reader (the daemon's in its own process; default: the daemon asked over its socket, or git).
 * @returns the exit code (docs/cli.md): 0, or the one `ctx.out.fail` maps the error to (never throws).
 */
export async function runLean(lean: LeanRollback, ctx: Omit<Ctx, 'paths'>, opts: RunOptions = {}): Promise<number> {
  try {
    validateLean(lean);
    await run({ ...ctx, paths: lean.paths }, lean.input, opts);
    return EXIT.ok;
  } catch (err) {
    return ctx.out.fail(err);
  }
}
