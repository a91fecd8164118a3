/** `race review ATTEMPT --by AGENT[@MODEL] [--race ID]`: one model reviews another's attempt. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { CkptError } from '../../core/errors.js';
import { openRepo } from '../../git/repo.js';
import { reviewAttempt } from '../../race/review.js';
import { resolveRace, saveRace } from '../../race/store.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { EXIT } from '../output.js';

/** Arguments and options of `race review` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT`, exit 2). */
export const schema = z.object({ attempt: z.string().min(1), by: z.string().min(1), race: z.string().optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race review` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('review')
    .description("have AGENT review an attempt: in a scratch worktree at its final snapshot (its changes recorded, never applied), it answers approve or request changes, with notes")
    .argument('<attempt>')
    .requiredOption('--by <agent>', 'the reviewer: AGENT or AGENT@MODEL')
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print the review as JSON')
    .action(act(schema, run));
}

/** Runs `race review`; prints through `ctx.out` only; exit 0 when the review ran (whatever its verdict), 4 when the reviewer failed, 130 when interrupted. */
export async function run(ctx: Ctx, input: Input): Promise<number> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  if (race.state === 'running') throw new CkptError('INVALID_ARGUMENT', `race ${race.id} is still running`, { hint: 'Review it once it ended (or use race … --review-by AGENT).' });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let review;
  try {
    review = await reviewAttempt({ repo, ckptBin: ctx.bin, signal: abort.signal }, race, input.attempt, input.by);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (review.kept) race.warnings.push(`kept the scratch worktree of ${review.attempt}'s review: ${review.kept}`);
  saveRace(repo, race);
  out.result(review);
  const who = review.by + (review.model ? `@${review.model}` : '');
  out.line(`review of ${out.q(review.attempt)} by ${out.q(who)}: ${review.verdict ?? 'no verdict'}${review.error ? ` (${out.t(review.error)})` : ''}`);
  if (review.notes) out.line(review.notes.split('\n').map((l) => `  ${out.t(l)}`).join('\n'));
  if (review.changed.length > 0) out.line(`its changes in the scratch worktree (recorded in ${review.snapshot?.slice(0, 10)}, not applied): ${review.changed.map((p) => out.q(p)).join(' ')}`);
  if (review.kept) out.warn(`kept the scratch worktree: ${review.kept}`);
  return review.state === 'done' ? EXIT.ok : review.state === 'interrupted' ? EXIT.interrupted : EXIT.environment;
}
