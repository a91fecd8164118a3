/** `ckpt hooks install|uninstall claude`. */
import path from 'node:path';
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { CkptError } from '../../core/errors.js';
import { claudeHookCommand, installClaudeHooks, uninstallClaudeHooks } from '../../agents/claude.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';

/** Arguments and options of `ckpt hooks install|uninstall` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ agent: z.string(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** `hooks install AGENT`, `hooks uninstall AGENT`. */
export function register(parent: Command, act: Act): void {
  const hooks = parent.command('hooks').description("install or remove agents' hooks that snapshot around each tool call");
  hooks
    .command('install')
    .argument('<agent>', 'claude')
    .description("add ckpt's PreToolUse/PostToolUse hooks to .claude/settings.local.json")
    .option('--json', 'print JSON')
    .action(act(schema, (ctx, input) => install(ctx, input.agent)));
  hooks
    .command('uninstall')
    .argument('<agent>', 'claude')
    .description("remove exactly ckpt's hooks")
    .option('--json', 'print JSON')
    .action(act(schema, (ctx, input) => uninstall(ctx, input.agent)));
}

function checkAgent(agent: string): void {
  if (agent !== 'claude') {
    throw new CkptError('INVALID_ARGUMENT', `no hooks for ${JSON.stringify(agent)}: only claude has PreToolUse/PostToolUse hooks ckpt can install`, {
      hint: 'For other agents run `ckpt watch` in the worktree: the watcher snapshots every settled step.',
    });
  }
}

export async function install(ctx: Ctx, agent: string): Promise<void> {
  checkAgent(agent);
  const res = await installClaudeHooks(ctx.cwd, claudeHookCommand(path.resolve(ctx.bin)));
  ctx.out.result(res);
  ctx.out.line(res.changed ? `added ckpt's PreToolUse/PostToolUse hooks to ${res.file}` : `ckpt's hooks are already in ${res.file}`);
  if (res.excluded) ctx.out.line('kept .claude/settings.local.json out of snapshots (a rule in .git/info/exclude, removed by `ckpt hooks uninstall claude`)');
}

export async function uninstall(ctx: Ctx, agent: string): Promise<void> {
  checkAgent(agent);
  const res = await uninstallClaudeHooks(ctx.cwd);
  ctx.out.result(res);
  ctx.out.line(res.changed ? `removed ckpt's hooks from ${res.file}` : `no ckpt hooks in ${res.file}`);
}
