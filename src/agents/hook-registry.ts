/**
 * Which module holds each agent's hooks (agents/hooks.ts {@link AgentHooks}).
 * A module of its own so that no agent module imports the others: adding an
 * agent is one case here and one name in `HOOK_AGENT_NAMES`.
 */
import type { AgentHooks } from './hooks.js';

/**
 * Loads one agent's hooks module (only that one: the hook must start fast).
 *
 * @returns null for an agent ckpt has no hooks for.
 */
export async function loadAgentHooks(agent: string): Promise<AgentHooks | null> {
  switch (agent) {
    case 'claude':
      return (await import('./claude.js')).claudeHooks;
    case 'opencode':
      return (await import('./opencode.js')).openCodeHooks;
    case 'cursor':
      return (await import('./cursor.js')).cursorHooks;
    case 'codex':
      return (await import('./codex.js')).codexHooks;
    case 'gemini':
      return (await import('./gemini.js')).geminiHooks;
    default:
      return null;
  }
}

