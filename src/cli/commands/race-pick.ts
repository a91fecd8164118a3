/** `race pick ATTEMPT [--squash | --merge | --branch NAME] [--dry-run]`. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { pickAttempt, type PickMode } from '../../race/pick.js';
import { resolveRace } from '../../race/store.js';
import { flag, json, text, type Act } from '../command.js';
import type { Ctx } from '../context.js';

/** Arguments and options of `race pick` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ attempt: z.string(), race: z.string().optional(), squash: flag, merge: flag, branch: text.optional(), dryRun: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race pick` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('pick')
    .description('take an attempt: by default its changes become uncommitted changes in your worktree (undo: ckpt rollback --undo)')
    .argument('<attempt>')
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print JSON')
    .option('--squash', 'commit it onto the current branch as one commit')
    .option('--merge', 'merge it into the current branch (git merge --no-ff)')
    .option('--branch <name>', 'create a branch holding it; your worktree is not touched')
    .option('-n, --dry-run', 'check and show what would change')
    .action(act(schema, run));
}

/** Runs `race pick`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const out = ctx.out;
  const c = out.c;
  const attempt = input.attempt;
  const modes = [input.squash, input.merge, input.branch !== undefined].filter(Boolean).length;
  if (modes > 1) throw new CkptError('INVALID_ARGUMENT', 'give at most one of --squash, --merge, --branch', { hint: 'Without any, the changes are applied to your worktree, uncommitted.' });
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  const how: PickMode = input.branch !== undefined ? { mode: 'branch', branch: input.branch } : input.squash ? { mode: 'squash' } : input.merge ? { mode: 'merge' } : { mode: 'apply' };
  if (input.dryRun && how.mode !== 'apply') throw new CkptError('INVALID_ARGUMENT', '--dry-run only applies to the default mode');
  const res = await pickAttempt(race, attempt, how, { dryRun: !!input.dryRun, saveTo: repo });
  out.result(res);
  const name = out.q(attempt);
  switch (res.mode) {
    case 'apply':
      if (res.changes.length === 0) {
        out.line(`${name} changed nothing${input.dryRun ? '' : ' that is not already in your worktree'}`);
        return;
      }
      out.line(`${input.dryRun ? 'would apply' : 'applied'} ${name}'s changes to ${out.q(race.worktree)} (uncommitted):`);
      for (const ch of res.changes) out.line(`  ${ch.action === 'delete' ? c.red('D') : ch.from === null ? c.green('A') : c.yellow('M')} ${out.q(ch.path)}`);
      if (!input.dryRun) out.line(`\nundo with: ${c.bold('ckpt rollback --undo')}`);
      return;
    case 'branch':
      out.line(`created branch ${out.q(res.branch ?? '')} at ${res.commit!.slice(0, 10)} holding ${name}; your worktree is untouched`);
      return;
    default:
      out.line(`${res.mode === 'merge' ? 'merged' : 'squashed'} ${name} into the current branch: commit ${res.merged!.slice(0, 10)} (the attempt's commit: ${res.commit!.slice(0, 10)}); checkpoint before it: ${res.preSnapshot!.slice(0, 10)}`);
  }
}
