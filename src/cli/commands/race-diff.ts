/** `race diff [ATTEMPT…] [--side-by-side] [--stat]`. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { attemptDiffs } from '../../race/compare.js';
import { resolveRace } from '../../race/store.js';
import { flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { counted } from '../../core/plural.js';

/** Arguments and options of `race diff` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ attempts: z.array(z.string()).default([]), race: z.string().optional(), sideBySide: flag, stat: flag, pager: z.boolean().default(true), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race diff` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('diff')
    .description("attempts' changes against the base")
    .argument('[attempts...]', 'attempt names (default: all)')
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print JSON')
    .option('--side-by-side', 'attempts in columns fitted to the terminal')
    .option('--stat', 'per-file counts only')
    .option('--no-pager', 'never page')
    .action(act(schema, run));
}

/** Runs `race diff`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const out = ctx.out;
  const c = out.c;
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  const names = input.attempts;
  if (input.sideBySide && !out.json) {
    const view = await import('../../view/terminal.js');
    const text = await view.renderRaceSideBySide(repo, race, names, { width: out.width(160), color: out.color });
    await out.page(text, { enabled: input.pager });
    return;
  }
  const diffs = await attemptDiffs(repo, race, names, { color: out.color, statOnly: !!input.stat });
  out.result({ race: race.id, base: race.base, attempts: diffs });
  for (const d of diffs) {
    out.line(c.bold(c.cyan(`=== ${out.q(d.attempt)}: ${counted(d.files.length, 'file')}`)));
    if (input.stat || !d.patch) {
      for (const f of d.files) out.line(` ${f.status} ${out.q(f.path)}  ${f.binary ? 'binary' : `+${f.insertions} −${f.deletions}`}`);
    } else out.raw(d.patch);
  }
}
