/**
 * `ckpt view [--no-open] [--out FILE] [--port N]`: this worktree's checkpoint
 * timeline and per-step diffs in the browser, or a self-contained HTML
 * report with `--out`.
 */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { count, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { view } from '../viewer.js';

/** Arguments and options of `ckpt view` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ open: z.boolean().default(true), out: z.string().optional(), port: count(0, 65535, 'port number').optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt view` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('view')
    .description("this worktree's checkpoints in the browser: the timeline and each step's diff")
    .option('--no-open', 'print the URL, do not open a browser')
    .option('--out <file>', 'write a self-contained HTML report instead of serving')
    .option('--port <n>', 'port (default: a free one)')
    .option('--json', 'print JSON')
    .action(act(schema, run));
}

/** Runs `ckpt view`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  await view(ctx, repo, null, input);
}
