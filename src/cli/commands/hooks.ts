/** `ckpt hooks install|uninstall AGENT [--global]`: one agents/ module per agent (agents/hooks.ts). */
import path from 'node:path';
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { CkptError } from '../../core/errors.js';
import { HOOK_AGENT_NAMES, type AgentHooks } from '../../agents/hooks.js';
import { loadAgentHooks } from '../../agents/hook-registry.js';
import { json, type Act } from '../command.js';
import type { Ctx } from '../context.js';

/** Arguments and options of `ckpt hooks install|uninstall` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({ agent: z.string(), global: z.boolean().optional(), json });
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** `hooks install AGENT`, `hooks uninstall AGENT`. */
export function register(parent: Command, act: Act): void {
  const hooks = parent.command('hooks').description("install or remove agents' hooks that snapshot around each tool call");
  hooks
    .command('install')
    .argument('<agent>', 'claude, codex, gemini, opencode or cursor')
    .description("add ckpt's before/after tool hooks to the agent's project settings (untracked, the user's own), or its global ones")
    .option('--global', "the agent's settings in your home directory (~/.gemini, ~/.codex, ~/.config/opencode, ~/.cursor) instead of the project's")
    .option('--json', 'print JSON')
    .action(act(schema, (ctx, input) => install(ctx, input)));
  hooks
    .command('uninstall')
    .argument('<agent>', 'claude, codex, gemini, opencode or cursor')
    .description("remove exactly ckpt's hooks")
    .option('--global', "the agent's settings in your home directory")
    .option('--json', 'print JSON')
    .action(act(schema, (ctx, input) => uninstall(ctx, input)));
}

async function agentHooks(agent: string): Promise<AgentHooks> {
  const hooks = await loadAgentHooks(agent);
  if (!hooks) {
    throw new CkptError('INVALID_ARGUMENT', `no hooks for ${JSON.stringify(agent)}: ckpt installs hooks for ${HOOK_AGENT_NAMES.filter((n) => n !== agent).join(', ')}`, {
      hint: 'For other agents run `ckpt watch` in the worktree: the watcher snapshots every settled step.',
    });
  }
  return hooks;
}

/** `ckpt hooks install AGENT`. @throws CkptError `INVALID_ARGUMENT` (no hooks for that agent), what the agent's `install` throws. */
export async function install(ctx: Ctx, input: Pick<Input, 'agent' | 'global'>): Promise<void> {
  const hooks = await agentHooks(input.agent);
  const res = await hooks.install(ctx.cwd, hooks.command(path.resolve(ctx.bin)), { ...(input.global ? { global: true } : {}) });
  ctx.out.result(res);
  ctx.out.line(res.changed ? `added ckpt's ${hooks.events.join('/')} hooks to ${res.file}` : `ckpt's hooks are already in ${res.file}`);
  for (const note of res.notes ?? []) ctx.out.line(`note: ${note}`);
  if (res.excluded) ctx.out.line(`kept ${res.file} out of snapshots (a rule in .git/info/exclude, removed by \`ckpt hooks uninstall ${hooks.agent}\`)`);
}

/** `ckpt hooks uninstall AGENT`. @throws CkptError `INVALID_ARGUMENT`, what the agent's `uninstall` throws. */
export async function uninstall(ctx: Ctx, input: Pick<Input, 'agent' | 'global'>): Promise<void> {
  const hooks = await agentHooks(input.agent);
  const res = await hooks.uninstall(ctx.cwd, { ...(input.global ? { global: true } : {}) });
  ctx.out.result(res);
  ctx.out.line(res.changed ? `removed ckpt's hooks from ${res.file}` : `no ckpt hooks in ${res.file}`);
}
