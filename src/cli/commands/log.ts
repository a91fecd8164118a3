/** `ckpt log`: the steps of this worktree as a table. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { listSteps } from '../../snapshot/store.js';
import { count, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { renderLog } from '../log-table.js';

/** Arguments and options of `ckpt log` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ maxCount: count(1).optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt log` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('log')
    .description('list the steps recorded for this worktree, newest first')
    .option('-n, --max-count <n>', 'show at most N steps')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `ckpt log`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const steps = await listSteps(repo, input.maxCount !== undefined ? { limit: input.maxCount } : {});
  ctx.out.result({ worktree: repo.worktree, ref: repo.ref, steps });
  if (steps.length === 0) {
    ctx.out.line('no snapshots yet: take one with `ckpt snap`, or run `ckpt watch`');
    return;
  }
  ctx.out.line(renderLog(steps, ctx.out.width(120), ctx.out.color));
}
