/** `ckpt rollback [TARGET] [--to TIME] [--undo] [-- PATHS]`: its options; the command itself is rollback-run.ts (which loads no zod, for the lean path of cli/lean-rollback.ts). */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { timePointText } from '../../core/duration-schema.js';
import { flag, json, type Act } from '../command.js';
import { run, type RollbackInput } from './rollback-run.js';

export { run } from './rollback-run.js';

/** Arguments and options of `ckpt rollback` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ target: z.string().optional(), to: timePointText.optional(), undo: flag, dryRun: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;
// The schema's output is exactly what the lean path builds by hand (cli/lean-rollback.ts).
const sameShape: (i: Input) => RollbackInput = (i) => i;
void sameShape;

/** Declares `ckpt rollback` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('rollback')
    .description('restore a step (the whole tree or some paths); undoable with --undo')
    .argument('[target]', 'step number, -N (N steps back) or snapshot id; default: undo the last agent step')
    .option('--to <time>', 'the newest snapshot at or before TIME ("10 minutes ago", an ISO date)')
    .option('--undo', 'undo the last rollback')
    .option('-n, --dry-run', 'show what would change, change nothing')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}
