/**
 * Agent hooks: Claude Code calls `ckpt hook claude` before and after each
 * tool call (PreToolUse / PostToolUse, see Claude Code's hooks reference:
 * the hook's stdin is JSON with `hook_event_name`, `cwd`, `tool_name`,
 * `tool_input`, `tool_use_id`). Each call becomes a `before` / `after`
 * snapshot named after the tool and its target.
 *
 * `installClaudeHooks` / `uninstallClaudeHooks` edit
 * `.claude/settings.local.json` (Claude Code's per-user, git-ignored project
 * settings), adding or removing exactly ckpt's entries.
 */
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { SnapshotKind } from '../core/types.js';
import { openRepo } from '../git/repo.js';
import { takeSnapshot, type TakeResult } from '../snapshot/take.js';

/** The tools whose calls can change files: only these are hooked. */
export const CLAUDE_HOOK_MATCHER = 'Bash|Write|Edit|MultiEdit|NotebookEdit';

/** How long a hook waits for the worktree lock before giving up (the agent must not stall). */
export const HOOK_LOCK_WAIT_MS = 3000;

/** The payload Claude Code writes to a PreToolUse/PostToolUse hook's stdin (fields ckpt uses). */
export interface ClaudeHookInput {
  hook_event_name?: string;
  cwd?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  tool_use_id?: string;
  session_id?: string;
}

/**
 * Takes the snapshot a Claude Code hook call asks for. `PreToolUse` gives a
 * `before` snapshot, `PostToolUse` an `after`; both are recorded even when the
 * tree did not change, so every tool call has its pair.
 *
 * @returns null for events other than Pre/PostToolUse.
 * @throws CkptError `INVALID_ARGUMENT` (no cwd), `NOT_A_REPO`, `LOCKED`, …
 */
export async function handleClaudeHook(input: ClaudeHookInput, fallbackCwd: string): Promise<TakeResult | null> {
  const event = input.hook_event_name;
  const kind: SnapshotKind | null = event === 'PreToolUse' ? 'before' : event === 'PostToolUse' ? 'after' : null;
  if (!kind) return null;
  const repo = await openRepo(input.cwd || fallbackCwd);
  const tool = input.tool_name ?? 'tool';
  const target = hookTarget(input.tool_input ?? {}, repo.worktree);
  return takeSnapshot(repo, {
    kind,
    force: true,
    agent: 'claude',
    tool,
    ...(target ? { target } : {}),
    ...(input.tool_use_id ? { toolUseId: input.tool_use_id } : {}),
  }, { waitMs: HOOK_LOCK_WAIT_MS });
}

/** The short "what" of a tool call: its file (relative to the worktree) or its command. */
export function hookTarget(toolInput: Record<string, unknown>, worktree: string): string | null {
  for (const key of ['file_path', 'notebook_path', 'path']) {
    const v = toolInput[key];
    if (typeof v === 'string' && v) {
      const rel = path.isAbsolute(v) ? path.relative(worktree, v) : v;
      return rel.startsWith('..') ? v : rel;
    }
  }
  const cmd = toolInput.command;
  if (typeof cmd === 'string' && cmd) return cmd.length > 80 ? `${cmd.slice(0, 79)}…` : cmd;
  return null;
}

interface HookEntry {
  type: string;
  command: string;
  timeout?: number;
}
interface MatcherEntry {
  matcher?: string;
  hooks?: HookEntry[];
}

/**
 * The command line Claude Code runs for the hook (through a shell, see Claude
 * Code's hooks reference). `NODE_EXTRA_CA_CERTS` is cleared for it: Node
 * parses every certificate of that file at start-up (45 ms of a 150 ms budget
 * with Debian's bundle, benchmarks/results.md) and the hook makes no TLS
 * connection.
 */
export function claudeHookCommand(ckptBin: string, nodeBin = process.execPath): string {
  return `NODE_EXTRA_CA_CERTS= ${shellQuote(nodeBin)} ${shellQuote(ckptBin)} hook claude`;
}

/**
 * The `--settings` JSON that gives Claude Code ckpt's hooks without touching
 * any settings file (used by race).
 */
export function claudeHookSettings(command: string): { hooks: Record<string, MatcherEntry[]> } {
  const entry: MatcherEntry = { matcher: CLAUDE_HOOK_MATCHER, hooks: [{ type: 'command', command, timeout: 30 }] };
  return { hooks: { PreToolUse: [entry], PostToolUse: [structuredClone(entry)] } };
}

/** Where `hooks install claude` writes. */
export function claudeSettingsPath(worktree: string): string {
  return path.join(worktree, '.claude', 'settings.local.json');
}

const OUR_COMMAND = /(^|[\s/'"])(ckpt|ckpt\.js)['"]? hook claude$/;

/**
 * Adds ckpt's PreToolUse and PostToolUse hooks to `.claude/settings.local.json`
 * of the worktree containing `dir`, keeping everything else in the file.
 * Installing twice changes nothing.
 *
 * @returns the settings file path and whether it changed.
 * @throws CkptError `CONFIG_INVALID` when the file exists but is not a JSON object.
 */
export async function installClaudeHooks(dir: string, command: string): Promise<{ file: string; changed: boolean }> {
  const repo = await openRepo(dir);
  const file = claudeSettingsPath(repo.worktree);
  const settings = readSettings(file);
  const hooks = (settings.hooks ??= {}) as Record<string, MatcherEntry[]>;
  let changed = false;
  for (const event of ['PreToolUse', 'PostToolUse']) {
    const list = (hooks[event] ??= []);
    const present = list.some((m) => m.hooks?.some((h) => h.command === command));
    if (present) continue;
    // Replace an older ckpt entry (e.g. another install path) rather than adding a second.
    for (const m of list) if (m.hooks) m.hooks = m.hooks.filter((h) => !OUR_COMMAND.test(h.command));
    hooks[event] = list.filter((m) => !m.hooks || m.hooks.length > 0);
    hooks[event]!.push({ matcher: CLAUDE_HOOK_MATCHER, hooks: [{ type: 'command', command, timeout: 30 }] });
    changed = true;
  }
  if (changed) await writeSettings(file, settings);
  return { file, changed };
}

/**
 * Removes exactly ckpt's hooks from `.claude/settings.local.json`, leaving
 * every other hook and setting as it was.
 *
 * @throws CkptError `CONFIG_INVALID`.
 */
export async function uninstallClaudeHooks(dir: string): Promise<{ file: string; changed: boolean }> {
  const repo = await openRepo(dir);
  const file = claudeSettingsPath(repo.worktree);
  if (!existsSync(file)) return { file, changed: false };
  const settings = readSettings(file);
  const hooks = settings.hooks as Record<string, MatcherEntry[]> | undefined;
  let changed = false;
  if (hooks) {
    for (const event of Object.keys(hooks)) {
      const list = hooks[event] ?? [];
      for (const m of list) {
        if (!m.hooks) continue;
        const before = m.hooks.length;
        m.hooks = m.hooks.filter((h) => !OUR_COMMAND.test(h.command));
        if (m.hooks.length !== before) changed = true;
      }
      hooks[event] = list.filter((m) => !m.hooks || m.hooks.length > 0);
      if (hooks[event]!.length === 0) delete hooks[event];
    }
    if (Object.keys(hooks).length === 0) delete settings.hooks;
  }
  if (changed) await writeSettings(file, settings);
  return { file, changed };
}

function readSettings(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CkptError('CONFIG_INVALID', `${file} is not valid JSON`, { cause: err, hint: 'Fix or remove the file, then run the command again.' });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CkptError('CONFIG_INVALID', `${file} does not hold a JSON object`, { hint: 'Fix or remove the file, then run the command again.' });
  }
  return parsed as Record<string, unknown>;
}

async function writeSettings(file: string, settings: Record<string, unknown>): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  // Loaded here, not at the top: `ckpt hook claude` loads this module and must start fast.
  const { default: writeFileAtomic } = await import('write-file-atomic');
  writeFileAtomic.sync(file, JSON.stringify(settings, null, 2) + '\n');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
