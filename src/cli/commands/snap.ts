/** `ckpt snap`: record the worktree now. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { takeSnapshot } from '../../snapshot/take.js';
import { flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';

/** Arguments and options of `ckpt snap` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ message: z.string().optional(), agent: z.string().optional(), force: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt snap` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('snap')
    .description('record the worktree as it is now (tracked and untracked files, ignored ones left out)')
    .option('-m, --message <msg>', 'a one-line message')
    .option('--agent <name>', 'record the snapshot as made by this agent')
    .option('--force', 'record even if nothing changed since the last snapshot')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `ckpt snap`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const res = await takeSnapshot(repo, {
    kind: 'manual',
    ...(input.message ? { message: input.message } : {}),
    ...(input.agent ? { agent: input.agent } : {}),
    force: !!input.force,
  });
  for (const w of res.warnings) ctx.out.warn(w);
  ctx.out.result({ created: res.created, snapshot: res.snapshot, warnings: res.warnings });
  if (res.created) ctx.out.line(`step ${res.snapshot.step} recorded (${res.snapshot.id.slice(0, 10)})`);
  else ctx.out.line(`nothing changed since step ${res.snapshot.step} (${res.snapshot.id.slice(0, 10)}); use --force to record anyway`);
}
