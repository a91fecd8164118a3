/** `race clean [--race ID]`: remove a race's worktrees and branches. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { cleanRace, cleanRefusal } from '../../race/clean.js';
import { resolveRace } from '../../race/store.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { counted, noun } from '../../core/plural.js';

/** Arguments and options of `race clean` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ race: z.string().optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race clean` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('clean')
    .description("remove a race's worktrees and branches (its checkpoints stay until ckpt gc)")
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `race clean`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  if (race.state === 'running') {
    throw new CkptError('INVALID_ARGUMENT', `race ${race.id} is still running`, { hint: 'Stop it first (Ctrl-C in its terminal).' });
  }
  const res = await cleanRace(repo, race);
  for (const x of res.attempts) {
    const name = out.q(x.attempt);
    if (x.branchKept) out.line(`${name}: ${out.t(x.branchKept)}`);
    if (x.ended.length > 0) out.line(`${name}: ended ${counted(x.ended.length, 'process', 'processes')} of the attempt still running: pid ${x.ended.join(', ')}`);
    if (!x.removed) out.line(`${name}: kept ${out.q(x.dir)}: ${out.t(x.reason ?? '')}`);
    else if (x.kept.length > 0) out.line(`${name}: removed; ${counted(x.kept.length, 'path')} changed after the race ${noun(x.kept.length, 'is', 'are')} kept in snapshot ${x.snapshot?.slice(0, 10)} (race pick ${name} takes them): ${x.kept.slice(0, 10).map((p) => out.q(p)).join(', ')}${x.kept.length > 10 ? ', …' : ''}`);
    else out.line(`${name}: removed`);
  }
  const refusal = cleanRefusal(res);
  if (refusal) throw refusal;
  out.result(res);
  out.line(`removed ${counted(res.attempts.length, 'worktree')} and ${noun(res.attempts.length, 'branch', 'branches')} of race ${out.q(race.id)}; the attempts stay reachable as checkpoints until ckpt gc`);
}
