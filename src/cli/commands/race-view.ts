/**
 * `race view [--race ID] [--no-open] [--out FILE] [--port N]`: the attempts
 * side by side in the browser (served on 127.0.0.1 until Ctrl-C), or a
 * self-contained HTML report with `--out`.
 */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { resolveRace } from '../../race/store.js';
import { count, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { view } from '../viewer.js';

/** Arguments and options of `race view` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ race: z.string().optional(), open: z.boolean().default(true), out: z.string().optional(), port: count(0, 65535, 'port number').optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race view` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('view')
    .description('compare the attempts side by side in the browser, and pick from there')
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print JSON')
    .option('--no-open', 'print the URL, do not open a browser')
    .option('--out <file>', 'write a self-contained HTML report instead of serving')
    .option('--port <n>', 'port (default: a free one)')
    .action(act(schema, run));
}

/** Runs `race view`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  await view(ctx, repo, race, input);
}
