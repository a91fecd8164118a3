/** `ckpt gc --keep N --older-than DURATION`. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { durationText } from '../../core/duration-schema.js';
import { openRepo } from '../../git/repo.js';
import { gc } from '../../snapshot/gc.js';
import { count, flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { bytes } from '../output.js';
import { counted } from '../../core/plural.js';

/** Arguments and options of `ckpt gc` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ keep: count(1).optional(), olderThan: durationText.optional(), dryRun: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt gc` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('gc')
    .description('prune old snapshots of this worktree')
    .option('--keep <n>', 'keep the newest N snapshots (N ≥ 1)')
    .option('--older-than <duration>', 'drop snapshots older than DURATION (7d, 12h; a unit is required)')
    .option('-n, --dry-run', 'report only')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `ckpt gc`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const res = await gc(repo, {
    ...(input.keep !== undefined ? { keep: input.keep } : {}),
    ...(input.olderThan !== undefined ? { olderThan: input.olderThan } : {}),
    dryRun: !!input.dryRun,
  });
  ctx.out.result(res);
  if (res.dropped === 0) ctx.out.line(`nothing to prune (${counted(res.kept, 'snapshot')} kept)`);
  else ctx.out.line(`${res.dryRun ? 'would drop' : 'dropped'} ${counted(res.dropped, 'snapshot')} (steps ${Math.min(...res.droppedSteps)}–${Math.max(...res.droppedSteps)}), kept ${res.kept}`);
  for (const why of res.keptBecause) ctx.out.line(`kept ${why}`);
  for (const w of res.warnings) ctx.out.line(`warning: ${w}`);
  if (!res.dryRun) ctx.out.line(`freed ${bytes(Math.max(0, res.freedBytes))} on disk (ckpt's store: ${bytes(res.storeBytesBefore)} → ${bytes(res.storeBytesAfter)})`);
}
