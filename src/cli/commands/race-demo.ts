/** `race demo`: the race part of the demo alone, in its own throwaway repository. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { runRaceDemo } from '../demo/race.js';
import { makeDemoRepo } from '../demo/repo.js';

/** Arguments and options of `race demo` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ keep: flag, json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race demo` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('demo')
    .description('race three scripted agents in a throwaway repository')
    .option('--keep', 'keep the demo repository')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `race demo`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<number> {
  const c = ctx.out.c;
  const say = (s = ''): void => ctx.out.line(s);
  const head = (s: string): void => say(`\n${c.bold(c.cyan(`== ${s}`))}`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'ckpt-race-demo-'));
  try {
    const dir = makeDemoRepo(root);
    head(`a throwaway repository: ${dir}`);
    const summary = await runRaceDemo(ctx, dir, { say, head });
    ctx.out.result(summary);
    return 0;
  } finally {
    if (!input.keep) rmSync(root, { recursive: true, force: true });
  }
}
