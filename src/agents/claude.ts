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
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import { git } from '../git/exec.js';
import { openRepo, type Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import type { QueuedResult } from '../snapshot/queue.js';
import { hookCommandLine, isCkptHookCommand, objectField, parsePayload, recordHookStep, stringFields, toolTarget, type AgentHooks, type HookState, type HookStep, type ParsedHook } from './hooks.js';
import { addOurs, settingsProblem, type MatcherHooksSpec } from './matcher-hooks.js';

export { HOOK_WAIT_MS, HOOK_INPUT_MAX_BYTES, hookWaitMs, raceTrailers } from './hooks.js';

/** The tools whose calls can change files: only these are hooked. */
export const CLAUDE_HOOK_MATCHER = 'Bash|Write|Edit|MultiEdit|NotebookEdit';

/** The events hooked for snapshots (with {@link CLAUDE_HOOK_MATCHER}): each also reports the agent's state. */
export const CLAUDE_SNAPSHOT_EVENTS = ['PreToolUse', 'PostToolUse'] as const;

/**
 * The events hooked only for the agent's state (agents/state.ts), every one
 * (no matcher): a prompt submitted, a permission dialog shown (Claude Code
 * 2.1.330 fires `PermissionRequest` for it, headless or not; `Notification`
 * is its older signal, also sent for an idle prompt), a reply ended, the
 * session ended. Claude Code's hooks reference.
 */
export const CLAUDE_STATE_EVENTS = ['UserPromptSubmit', 'PermissionRequest', 'Notification', 'Stop', 'SessionEnd'] as const;

/** The payload Claude Code writes to a PreToolUse/PostToolUse hook's stdin (fields ckpt uses). */
export interface ClaudeHookInput {
  hook_event_name?: string;
  cwd?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  tool_use_id?: string;
  session_id?: string;
  /** Notification: `permission_prompt`, `idle_prompt`, `elicitation_dialog`, `auth_success`. */
  notification_type?: string;
  /** Notification: the text shown (`Claude needs your permission to use Bash`). */
  message?: string;
}

/** A hook's stdin, checked: the fields ckpt can use, and one line per thing it could not. */
export interface ParsedHookInput {
  input: ClaudeHookInput;
  problems: string[];
}

const STRING_FIELDS = ['hook_event_name', 'cwd', 'tool_name', 'tool_use_id', 'session_id', 'notification_type', 'message'] as const;

/**
 * Parses whatever arrived on a hook's stdin, never throwing: empty input,
 * `null`, arrays, numbers, garbage and fields of the wrong type give an input
 * without those fields and a problem line each (the hook logs them).
 *
 * @param text the payload as read.
 */
export function parseClaudeHookInput(text: string): ParsedHookInput {
  const { raw, problems } = parsePayload(text);
  if (!raw) return { input: {}, problems };
  const input: ClaudeHookInput = stringFields(raw, STRING_FIELDS, problems);
  const ti = objectField(raw, 'tool_input', problems);
  if (ti) input.tool_input = ti;
  return { input, problems };
}

/**
 * A Claude Code hook payload read as a step and a state (Claude Code's hooks
 * reference, and the payloads of 2.1.330, docs/agents.md "Who is waiting for
 * you"): PreToolUse → `before` and `tool`, PostToolUse → `after` and
 * `tool-done` (PostToolUseFailure: `tool-done` only); PermissionRequest →
 * `waiting` (permission); Notification `permission_prompt` → `waiting`
 * (permission), `idle_prompt` and `elicitation_dialog` → `waiting` (input),
 * any other type (`auth_success`) → no state; UserPromptSubmit → `prompt`;
 * Stop → `turn-end`; SessionStart / SessionEnd.
 */
export function parseClaudeHook(text: string): ParsedHook {
  const { input, problems } = parseClaudeHookInput(text);
  const event = input.hook_event_name ?? null;
  const tool = input.tool_name || 'tool';
  const kind: HookStep['kind'] | null = event === 'PreToolUse' ? 'before' : event === 'PostToolUse' ? 'after' : null;
  const target = toolTarget(input.tool_input ?? {}, null);
  const step = kind ? { kind, tool, target, toolUseId: input.tool_use_id ?? null } : null;
  return { event, step, state: claudeState(input), cwd: input.cwd ?? null, sessionId: input.session_id ?? null, problems };
}

/** What a Claude Code event says about the agent's state (see {@link parseClaudeHook}), or null. */
function claudeState(input: ClaudeHookInput): HookState | null {
  const tool = input.tool_name || 'tool';
  const message = input.message;
  switch (input.hook_event_name) {
    case 'PreToolUse':
      return { state: 'tool', tool };
    case 'PostToolUse':
    case 'PostToolUseFailure':
      return { state: 'tool-done', tool };
    case 'PermissionRequest':
      return { state: 'waiting', reason: 'permission', tool, detail: `permission to use ${tool}` };
    case 'Notification': {
      const type = input.notification_type;
      const detail = message ? { detail: message } : {};
      if (type === 'permission_prompt' || (type === undefined && /permission/i.test(message ?? ''))) return { state: 'waiting', reason: 'permission', ...detail };
      if (type === 'idle_prompt' || type === 'elicitation_dialog' || type === undefined) return { state: 'waiting', reason: 'input', ...detail };
      return null;
    }
    case 'UserPromptSubmit':
      return { state: 'prompt' };
    case 'Stop':
      return { state: 'turn-end' };
    case 'SessionStart':
      return { state: 'session-start' };
    case 'SessionEnd':
      return { state: 'session-end' };
    default:
      return null;
  }
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
  return recordHookStep('claude', parseClaudeHook(JSON.stringify(input)), fallbackCwd, opts);
}

/** The short "what" of a tool call: its file (relative to the worktree) or its command. */
export function hookTarget(toolInput: Record<string, unknown>, worktree: string): string | null {
  return toolTarget(toolInput, worktree);
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

/** The command line Claude Code runs for the hook (through a shell, see Claude Code's hooks reference; agents/hooks.ts {@link hookCommandLine}). */
export function claudeHookCommand(ckptBin: string, nodeBin = process.execPath): string {
  return hookCommandLine('claude', ckptBin, nodeBin);
}

/**
 * The `--settings` JSON that gives Claude Code ckpt's hooks without touching
 * any settings file (used by race).
 */
export function claudeHookSettings(command: string): { hooks: Record<string, MatcherEntry[]> } {
  const hooks: Record<string, MatcherEntry[]> = {};
  for (const event of [...CLAUDE_SNAPSHOT_EVENTS, ...CLAUDE_STATE_EVENTS]) hooks[event] = [ourEntry(event, command)];
  return { hooks };
}

/** ckpt's entry for `event`: the snapshot events with {@link CLAUDE_HOOK_MATCHER} (timeout 30 s), the state events with no matcher (every one) and 10 s (they take no snapshot). */
function ourEntry(event: string, command: string): MatcherEntry {
  const snapshot = (CLAUDE_SNAPSHOT_EVENTS as readonly string[]).includes(event);
  return snapshot ? { matcher: CLAUDE_HOOK_MATCHER, hooks: [{ type: 'command', command, timeout: 30 }] } : { hooks: [{ type: 'command', command, timeout: 10 }] };
}

/** ckpt's entries in Claude Code's settings (agents/matcher-hooks.ts): one {@link ourEntry} per event. */
const SPEC: MatcherHooksSpec = { agent: 'claude', events: [...CLAUDE_SNAPSHOT_EVENTS, ...CLAUDE_STATE_EVENTS], entries: (event, command) => [ourEntry(event, command)] };

/** Where `hooks install claude` writes. */
export function claudeSettingsPath(worktree: string): string {
  return path.join(worktree, '.claude', 'settings.local.json');
}

function isOurs(h: HookEntry): boolean {
  return isCkptHookCommand(h.command, 'claude');
}

/**
 * Adds ckpt's hooks to `.claude/settings.local.json`: PreToolUse and
 * PostToolUse (snapshots and state) and the state events
 * ({@link CLAUDE_STATE_EVENTS})
 * of the worktree containing `dir`, keeping everything else in the file.
 * Installing twice changes nothing. The settings file is kept out of
 * snapshots: unless git already ignores it, a rule for it is added to
 * `info/exclude` (first, so no snapshot taken meanwhile holds the file),
 * marked as ckpt's so that uninstall removes exactly that.
 *
 * @returns the settings file path, whether it changed, and whether the exclude rule was added.
 * @throws CkptError `AGENT_SETTINGS_INVALID` when the file exists but is not
 *   JSON or not the shape Claude Code reads (nothing is changed then);
 *   `FS_FAILED`.
 */
export async function installClaudeHooks(dir: string, command: string): Promise<{ file: string; changed: boolean; excluded: boolean }> {
  const repo = await openRepo(dir);
  const file = claudeSettingsPath(repo.worktree);
  const settings = readSettings(file);
  // An older ckpt entry (e.g. another install path) is replaced rather than a second added.
  const changed = addOurs(SPEC, settings, command);
  const excluded = await excludeSettingsFile(repo);
  if (changed) await writeSettings(file, settings);
  return { file, changed, excluded };
}

/**
 * Removes exactly ckpt's hooks from `.claude/settings.local.json`, leaving
 * every other hook and setting as it was, and the `info/exclude` rule that
 * `installClaudeHooks` added (only that one).
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` (nothing is changed then), `FS_FAILED`.
 */
export async function uninstallClaudeHooks(dir: string): Promise<{ file: string; changed: boolean }> {
  const repo = await openRepo(dir);
  const file = claudeSettingsPath(repo.worktree);
  if (!existsSync(file)) {
    removeExclude(repo);
    return { file, changed: false };
  }
  const settings = readSettings(file);
  const hooks = settings.hooks as Record<string, MatcherEntry[]> | undefined;
  let changed = false;
  if (hooks) {
    for (const event of Object.keys(hooks)) {
      const list = hooks[event] ?? [];
      for (const m of list) {
        if (!m.hooks) continue;
        const before = m.hooks.length;
        m.hooks = m.hooks.filter((h) => !isOurs(h));
        if (m.hooks.length !== before) changed = true;
      }
      hooks[event] = list.filter((m) => !m.hooks || m.hooks.length > 0);
      if (hooks[event]!.length === 0) delete hooks[event];
    }
    if (Object.keys(hooks).length === 0) delete settings.hooks;
  }
  if (changed) await writeSettings(file, settings);
  removeExclude(repo);
  return { file, changed };
}

/** The lines ckpt adds to `info/exclude` (the marker says they are ckpt's to remove). */
const EXCLUDE_MARK = '# added by `ckpt hooks install claude` (removed by uninstall): Claude Code\'s per-user settings, kept out of snapshots';
const EXCLUDE_RULE = '/.claude/settings.local.json';

function excludePath(repo: Repo): string {
  return path.join(repo.commonDir, 'info', 'exclude');
}

/** Adds ckpt's rule for the settings file to `info/exclude` unless git already ignores the file; true when added. */
async function excludeSettingsFile(repo: Repo): Promise<boolean> {
  const file = excludePath(repo);
  const text = readText(file);
  if (text.split('\n').includes(EXCLUDE_MARK)) return false;
  const ignored = await git(['check-ignore', '-q', '--no-index', '--', '.claude/settings.local.json'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  if (ignored.exitCode === 0) return false;
  const next = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${EXCLUDE_MARK}\n${EXCLUDE_RULE}\n`;
  writeTextSync(file, next);
  return true;
}

/** Removes the two lines {@link excludeSettingsFile} added, if they are there; the rest of the file is kept byte for byte. */
function removeExclude(repo: Repo): void {
  const file = excludePath(repo);
  const text = readText(file);
  const block = `${EXCLUDE_MARK}\n${EXCLUDE_RULE}\n`;
  const at = text.indexOf(block);
  if (at < 0) return;
  writeTextSync(file, text.slice(0, at) + text.slice(at + block.length));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw fsFailed(file, err);
  }
}

function writeTextSync(file: string, text: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.ckpt-${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    throw fsFailed(file, err);
  }
}

function fsFailed(file: string, err: unknown): CkptError {
  return new CkptError('FS_FAILED', `could not update ${file}: ${(err as Error).message}`, { cause: err, hint: 'Check permissions and free space.', data: { file, errno: (err as NodeJS.ErrnoException).code ?? null } });
}

/**
 * Reads the settings file: `{}` when it does not exist.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` naming the file and what is wrong
 *   (the JSON error with its line and column, or the JSON path of an entry of
 *   the wrong shape).
 */
function readSettings(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const text = readText(file);
  const hint = 'Fix or remove the file, then run the command again; nothing was changed.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
    }
    throw new CkptError('AGENT_SETTINGS_INVALID', `${file} is not valid JSON${where}: ${msg}`, { cause: err, hint, data: { file, error: msg } });
  }
  const problem = settingsProblem(parsed);
  if (problem) throw new CkptError('AGENT_SETTINGS_INVALID', `${file}: ${problem}`, { hint, data: { file, error: problem } });
  return parsed as Record<string, unknown>;
}

async function writeSettings(file: string, settings: Record<string, unknown>): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  // Loaded here, not at the top: `ckpt hook claude` loads this module and must start fast.
  const { default: writeFileAtomic } = await import('write-file-atomic');
  writeFileAtomic.sync(file, JSON.stringify(settings, null, 2) + '\n');
}

/** Claude Code's hooks behind the one interface (agents/hooks.ts). */
export const claudeHooks: AgentHooks = {
  agent: 'claude',
  events: [...CLAUDE_SNAPSHOT_EVENTS, ...CLAUDE_STATE_EVENTS],
  parse: parseClaudeHook,
  reply: () => '',
  command: claudeHookCommand,
  install: async (dir, command, opts) => {
    if (opts?.global) throw new CkptError('INVALID_ARGUMENT', 'hooks install claude has no --global: it writes the worktree\'s .claude/settings.local.json', { hint: 'Run it in each worktree, or pass the hooks with `claude --settings FILE`.' });
    return installClaudeHooks(dir, command);
  },
  uninstall: async (dir, opts) => {
    if (opts?.global) throw new CkptError('INVALID_ARGUMENT', 'hooks uninstall claude has no --global: it edits the worktree\'s .claude/settings.local.json', { hint: 'Run it in the worktree where the hooks were installed.' });
    return { ...(await uninstallClaudeHooks(dir)), excluded: false };
  },
};
