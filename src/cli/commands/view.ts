/**
 * `ckpt view [--no-open] [--out FILE] [--port N]`: this worktree's checkpoint
 * timeline and per-step diffs in the browser, or a self-contained HTML
 * report with `--out`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { openRepo } from '../../git/repo.js';
import { count, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { view } from '../viewer.js';

export const schema = z.object({ open: z.boolean().default(true), out: z.string().optional(), port: count(0, 65535, 'port number').optional(), json });
export type Input = z.output<typeof schema>;

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

export async function run(ctx: Ctx, input: Input): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  await view(ctx, repo, null, input);
}
