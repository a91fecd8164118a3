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
import { takeSnapshotQueued, type QueuedResult } from '../snapshot/queue.js';

/** The tools whose calls can change files: only these are hooked. */
export const CLAUDE_HOOK_MATCHER = 'Bash|Write|Edit|MultiEdit|NotebookEdit';

/**
 * How long a hook waits to be served (group commit, snapshot/queue.ts) before
 * giving up, in ms: well inside the 30 s timeout `hooks install` gives each
 * hook, so the agent never kills the hook first. `CKPT_HOOK_WAIT` (a duration:
 * `5s`, `20s`) overrides it.
 */
export const HOOK_WAIT_MS = 20_000;

/** Largest hook payload read, in bytes; a larger one is drained and not used (logged). */
export const HOOK_INPUT_MAX_BYTES = 256 * 1024 * 1024;

/** The payload Claude Code writes to a PreToolUse/PostToolUse hook's stdin (fields ckpt uses). */
export interface ClaudeHookInput {
  hook_event_name?: string;
  cwd?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  tool_use_id?: string;
  session_id?: string;
}

/** A hook's stdin, checked: the fields ckpt can use, and one line per thing it could not. */
export interface ParsedHookInput {
  input: ClaudeHookInput;
  problems: string[];
}

const STRING_FIELDS = ['hook_event_name', 'cwd', 'tool_name', 'tool_use_id', 'session_id'] as const;

/**
 * Parses whatever arrived on a hook's stdin, never throwing: empty input,
 * `null`, arrays, numbers, garbage and fields of the wrong type give an input
 * without those fields and a problem line each (the hook logs them).
 *
 * @param text the payload as read.
 */
export function parseClaudeHookInput(text: string): ParsedHookInput {
  const problems: string[] = [];
  if (text.trim() === '') return { input: {}, problems: ['stdin was empty'] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { input: {}, problems: [`stdin is not JSON (${(err as Error).message}); ${text.length} chars starting ${JSON.stringify(text.slice(0, 40))}`] };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    return { input: {}, problems: [`stdin is ${what}, not a JSON object`] };
  }
  const raw = parsed as Record<string, unknown>;
  const input: ClaudeHookInput = {};
  for (const key of STRING_FIELDS) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v === 'string') input[key] = v;
    else problems.push(`${key} is ${v === null ? 'null' : typeof v}, not a string: ignored`);
  }
  if (input.cwd !== undefined && !path.isAbsolute(input.cwd)) {
    problems.push(`cwd ${JSON.stringify(input.cwd)} is not an absolute path: ignored`);
    delete input.cwd;
  }
  const ti = raw.tool_input;
  if (ti !== undefined) {
    if (ti !== null && typeof ti === 'object' && !Array.isArray(ti)) input.tool_input = ti as Record<string, unknown>;
    else problems.push(`tool_input is ${ti === null ? 'null' : Array.isArray(ti) ? 'an array' : typeof ti}, not an object: ignored`);
  }
  return { input, problems };
}

/** The hook's wait budget in ms: {@link HOOK_WAIT_MS}, or `CKPT_HOOK_WAIT` when it is a valid duration. */
export function hookWaitMs(env: NodeJS.ProcessEnv = process.env): { waitMs: number; problem: string | null } {
  const text = env.CKPT_HOOK_WAIT;
  if (!text) return { waitMs: HOOK_WAIT_MS, problem: null };
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(text);
  if (!m) return { waitMs: HOOK_WAIT_MS, problem: `CKPT_HOOK_WAIT=${JSON.stringify(text)} is not a duration like 5s or 500ms: using ${HOOK_WAIT_MS / 1000}s` };
  return { waitMs: Number(m[1]) * (m[2] === 's' ? 1000 : 1), problem: null };
}

/**
 * Takes the snapshot a Claude Code hook call asks for. `PreToolUse` gives a
 * `before` snapshot, `PostToolUse` an `after`; both are recorded even when the
 * tree did not change, so every tool call has its pair. Hooks running at the
 * same moment (parallel tool calls) are served by one snapshot that records
 * each one's tool-use id (snapshot/queue.ts).
 *
 * @param opts.waitMs how long to wait to be served (default {@link HOOK_WAIT_MS}).
 * @returns null for events other than Pre/PostToolUse.
 * @throws CkptError `NOT_A_REPO`, `LOCKED` (not served within `waitMs`), `GIT_FAILED`, `FS_FAILED`.
 */
export async function handleClaudeHook(input: ClaudeHookInput, fallbackCwd: string, opts: { waitMs?: number } = {}): Promise<QueuedResult | null> {
  const event = input.hook_event_name;
  const kind: SnapshotKind | null = event === 'PreToolUse' ? 'before' : event === 'PostToolUse' ? 'after' : null;
  if (!kind) return null;
  const repo = await openRepo(input.cwd || fallbackCwd);
  const tool = input.tool_name || 'tool';
  const target = hookTarget(input.tool_input ?? {}, repo.worktree);
  return takeSnapshotQueued(repo, {
    kind,
    force: true,
    agent: 'claude',
    tool,
    ...(target ? { target } : {}),
    ...(input.tool_use_id ? { toolUseId: input.tool_use_id } : {}),
  }, { waitMs: opts.waitMs ?? HOOK_WAIT_MS });
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
