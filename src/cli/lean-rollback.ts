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
 * paths on the same command lines.
 */
import { parseTimePoint } from '../core/duration.js';
import { CkptError } from '../core/errors.js';
import type { RollbackInput } from './commands/rollback-run.js';

/** A command line the lean path takes: the command's input and the paths after `--`. */
export interface LeanRollback {
  input: RollbackInput;
  paths: string[];
}

/**
 * Reads `argv` (without node and script) when it is `rollback` followed only
 * by the simple forms above; null for anything else (the full path then
 * parses it). Does not validate the values (see {@link validateLean}).
 */
export function parseLeanRollback(argv: readonly string[]): LeanRollback | null {
  if (argv[0] !== 'rollback') return null;
  const dd = argv.indexOf('--');
  const words = dd >= 0 ? argv.slice(1, dd) : argv.slice(1);
  const paths = dd >= 0 ? argv.slice(dd + 1) : [];
  const input: RollbackInput = {};
  const seen = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const key = w === '-n' || w === '--dry-run' ? 'dryRun' : w === '--undo' ? 'undo' : w === '--json' ? 'json' : w === '--to' ? 'to' : w !== '' && !w.startsWith('-') ? 'target' : null;
    if (key === null || seen.has(key)) return null;
    seen.add(key);
    if (key === 'to') {
      const v = words[++i];
      if (v === undefined || v === '' || v.startsWith('-')) return null;
      input.to = v;
    } else if (key === 'target') input.target = w;
    else input[key] = true;
  }
  return { input, paths };
}

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
