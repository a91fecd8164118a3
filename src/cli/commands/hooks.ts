/** `ckpt hooks install|uninstall claude`. */
import path from 'node:path';
import type { Ctx } from '../main.js';
import { CkptError } from '../../core/errors.js';
import { claudeHookCommand, installClaudeHooks, uninstallClaudeHooks } from '../../agents/claude.js';

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
}

export async function uninstall(ctx: Ctx, agent: string): Promise<void> {
  checkAgent(agent);
  const res = await uninstallClaudeHooks(ctx.cwd);
  ctx.out.result(res);
  ctx.out.line(res.changed ? `removed ckpt's hooks from ${res.file}` : `no ckpt hooks in ${res.file}`);
}
