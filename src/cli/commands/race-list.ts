/** `race list`: all races of this repository. */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { listRaces } from '../../race/store.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { age } from '../output.js';

/** Arguments and options of `race list` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race list` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('list')
    .description('all races of this repository')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `race list`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, _input: Input): Promise<void> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  const races = listRaces(repo);
  out.result({ races });
  if (races.length === 0) {
    out.line('no races yet: race "TASK" --models claude,codex');
    return;
  }
  const rows = races.map((r) => {
    const task = r.task.replace(/\s+/g, ' ');
    const shown = out.t(task.length > 40 ? task.slice(0, 39) + '…' : task);
    return [out.q(r.id), age(r.createdAt), r.state, r.attempts.map((a) => out.q(a.name)).join(','), r.best ? out.q(r.best) : '—', r.picked ? out.q(r.picked.attempt) : '—', shown];
  });
  out.table({ head: ['race', 'started', 'state', 'attempts', 'best', 'picked', 'task'], rows, compact: true });
}
