/** `race show [--race ID]`: the summary of a race. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { resolveRace } from '../../race/store.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { describeConfinement } from '../../agents/confine.js';
import { describeSandbox } from '../../race/fence.js';
import { renderSummary, reviewLines } from '../race-table.js';
import { age } from '../output.js';

/** Arguments and options of `race show` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ race: z.string().optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race show` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('show')
    .description('the summary of a race')
    .option('--race <id>', 'the race (default: the latest)')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `race show`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, input.race);
  out.result(race);
  out.line(`race ${out.q(race.id)}  ${race.state}  started ${age(race.createdAt)}`);
  out.line(`task: ${out.t(race.task)}`);
  out.line(`base: ${race.base.spec !== null ? out.q(race.base.spec) : 'the worktree at the start'} (${race.base.snapshot.slice(0, 10)})${race.check ? `   check: ${out.t(race.check)}` : ''}`);
  out.line(renderSummary(race, out.color));
  for (const a of race.attempts) {
    if (a.error) out.line(`${out.q(a.name)}: ${out.t(a.error)}`);
  }
  if ((race.rounds ?? 1) > 1) {
    for (const a of race.attempts) {
      for (const r of a.rounds ?? []) {
        const check = r.check ? (r.check.passed ? 'check passed' : `check ${r.check.timedOut ? 'timed out' : `failed (${r.check.exitCode})`}`) : 'no check';
        out.line(`${out.q(a.name)} round ${r.round} (${r.how === 'resume' ? `resumed session ${out.q(r.session ?? '')}` : r.how === 'fresh' ? 'run again' : 'the task'}): ${r.state}, ${check}${r.feedbackBytes ? `, given ${r.feedbackBytes} bytes of ${r.feedbackFrom === 'review' ? "the reviewer's notes" : 'check output'}` : ''}`);
      }
    }
  }
  for (const a of race.attempts) {
    if (a.check && !a.check.passed && a.check.tail) {
      out.line(`\n${out.q(a.name)} check (${out.t(a.check.command)}) output, last lines:`);
      out.line(a.check.tail.split('\n').slice(-10).map((l) => `  ${out.t(l)}`).join('\n'));
    }
  }
  for (const line of reviewLines(race, out)) out.line(line);
  out.line(`\nworktrees: ${race.cleaned ? 'removed (race clean)' : race.attempts.map((a) => out.q(a.dir)).join('  ')}`);
  out.line(`logs: ${race.attempts.map((a) => out.q(a.log)).join('  ')}`);
  if (race.confinement) out.line(`processes: ${describeConfinement(race.confinement)}`);
  if (race.sandbox) out.line(describeSandbox(race.sandbox));
  if (race.deps) out.line(`deps: ${race.deps.requested === race.deps.strategy ? race.deps.strategy : `${race.deps.requested} → ${race.deps.strategy}`} (${out.t(race.deps.reason)})${race.deps.dirs.length ? `: ${race.deps.dirs.map((d) => out.q(d)).join(', ')}` : ''}`);
  if (race.picked) out.line(`picked: ${out.q(race.picked.attempt)} (${race.picked.mode}) ${age(race.picked.at)}${race.picked.mode === 'apply' ? ' — undo: ckpt rollback --undo' : ''}`);
  for (const w of race.warnings) out.warn(w);
}
