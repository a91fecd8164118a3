/**
 * Cursor's hooks (Cursor's hooks docs, cursor.com/docs/agent/hooks; Cursor
 * is not on npm, so this follows the documented payloads only): a
 * `hooks.json` `{"version": 1, "hooks": {"preToolUse": [{"command": …}], …}}`
 * in the project's `.cursor/` or the user's `~/.cursor/`. Cursor runs each
 * command through a shell with the event's JSON on stdin:
 * - every event: `hook_event_name`, `conversation_id`, `generation_id`,
 *   `workspace_roots` (absolute paths), `model`, `cursor_version`;
 * - `preToolUse`: `tool_name`, `tool_input` (object), `tool_use_id`, `cwd`;
 * - `postToolUse`: the same and `tool_output`, `duration` (ms);
 * - `afterFileEdit`: `file_path`, `edits` [{`old_string`, `new_string`}];
 * - `stop`: `status` (`completed` | `aborted` | `error`), `loop_count`.
 *
 * preToolUse → a `before` snapshot, postToolUse → `after` (named after the
 * tool and its file or command, with `tool_use_id`); afterFileEdit → an
 * `after` named `Edit <file>` (an edit even where no tool hook fired);
 * stop → the turn ended (state only). The hook prints nothing: Cursor then
 * goes on as it would without it (ckpt never answers a permission for the user).
 */
import os from 'node:os';
import path from 'node:path';
import { openRepo } from '../git/repo.js';
import { hookCommandLine, isCkptHookCommand, objectField, parsePayload, stringFields, toolTarget, type AgentHooks, type HookInstallOptions, type HookInstallResult, type HookState, type HookStep, type ParsedHook } from './hooks.js';
import { excludeFromSnapshots, isObject, kindOf, readSettingsFile, recordsDir, refuseTracked, removeExclude, writeInstall, writeUninstall } from './settings-file.js';

/** The events ckpt installs, in Cursor's names. */
export const CURSOR_EVENTS = ['preToolUse', 'postToolUse', 'afterFileEdit', 'stop'] as const;

/**
 * Cursor's tools that never change a file (from its docs): no snapshot for
 * them. Any other tool (Shell, Write, Edit, Delete, MCP tools, Task, tools of
 * a newer version) gets its pair.
 */
export const CURSOR_READ_ONLY_TOOLS: readonly string[] = ['Read', 'Grep', 'Glob', 'LS', 'ListDir', 'SemanticSearch', 'CodebaseSearch', 'WebSearch', 'WebFetch', 'FetchRules', 'ReadLints', 'TodoWrite', 'TodoRead'];

/** Where `hooks install cursor` writes in a worktree (relative, `/`-separated). */
export const CURSOR_PROJECT_HOOKS = '.cursor/hooks.json';

/**
 * Reads a Cursor hook payload into a step and a state. The directory is the
 * payload's `cwd` when absolute, else its first workspace root. Never throws.
 */
export function parseCursorHook(text: string): ParsedHook {
  const { raw, problems } = parsePayload(text);
  if (!raw) return { event: null, step: null, state: null, cwd: null, sessionId: null, problems };
  const f = stringFields(raw, ['hook_event_name', 'tool_name', 'tool_use_id', 'conversation_id', 'cwd', 'file_path', 'status'] as const, problems);
  const toolInput = objectField(raw, 'tool_input', problems);
  let cwd = f.cwd ?? null;
  if (!cwd && raw.workspace_roots !== undefined) {
    const roots = raw.workspace_roots;
    const first = Array.isArray(roots) ? roots[0] : undefined;
    if (typeof first === 'string' && path.isAbsolute(first)) cwd = first;
    else problems.push(`workspace_roots is ${Array.isArray(roots) ? `an array whose first element is ${JSON.stringify(first ?? null)}` : typeof roots}, not a list of absolute paths: ignored`);
  }
  const event = f.hook_event_name ?? null;
  const tool = f.tool_name || 'tool';
  let step: HookStep | null = null;
  let state: HookState | null = null;
  if (event === 'preToolUse' || event === 'postToolUse') {
    const kind = event === 'preToolUse' ? 'before' : 'after';
    if (!CURSOR_READ_ONLY_TOOLS.includes(tool)) step = { kind, tool, target: toolTarget(toolInput ?? {}, null, ['file_path', 'path', 'target_file', 'filePath']), toolUseId: f.tool_use_id ?? null };
    state = { state: kind === 'before' ? 'tool' : 'tool-done', tool };
  } else if (event === 'afterFileEdit') {
    step = { kind: 'after', tool: 'Edit', target: f.file_path ?? null, toolUseId: null };
    state = { state: 'tool-done', tool: 'Edit' };
  } else if (event === 'stop') {
    state = { state: 'turn-end', ...(f.status && f.status !== 'completed' ? { detail: f.status } : {}) };
  } else if (event !== null) {
    problems.push(`hook_event_name ${JSON.stringify(event)} is not an event ckpt installs: ignored`);
  }
  return { event, step, state, cwd, sessionId: f.conversation_id ?? null, problems };
}

interface CursorEntry {
  command?: unknown;
  [k: string]: unknown;
}

/** What is wrong with a hooks.json where ckpt edits it (Cursor's version-1 shape), or null. */
function hooksFileProblem(doc: unknown): string | null {
  if (!isObject(doc)) return `the file holds ${kindOf(doc)}, not a JSON object`;
  if (doc.version !== undefined && doc.version !== 1) return `"version" is ${JSON.stringify(doc.version)}: ckpt knows Cursor's hooks version 1 only`;
  if (doc.hooks === undefined) return null;
  if (!isObject(doc.hooks)) return `"hooks" is ${kindOf(doc.hooks)}, not an object of events`;
  for (const [event, list] of Object.entries(doc.hooks)) {
    if (!Array.isArray(list)) return `hooks.${event} is ${kindOf(list)}, not an array of hooks`;
    for (const [i, h] of list.entries()) if (!isObject(h)) return `hooks.${event}[${i}] is ${kindOf(h)}, not a hook object`;
  }
  return null;
}

async function target(dir: string, opts: HookInstallOptions): Promise<{ file: string; records: string; project: { repo: Awaited<ReturnType<typeof openRepo>>; rel: string } | null }> {
  if (opts.global) {
    const home = opts.home ?? os.homedir();
    return { file: path.join(home, '.cursor', 'hooks.json'), records: recordsDir({ home: opts.home }), project: null };
  }
  const repo = await openRepo(dir);
  return { file: path.join(repo.worktree, ...CURSOR_PROJECT_HOOKS.split('/')), records: recordsDir({ repo }), project: { repo, rel: CURSOR_PROJECT_HOOKS } };
}

/**
 * Adds ckpt's preToolUse, postToolUse, afterFileEdit and stop hooks to
 * `.cursor/hooks.json` of the worktree containing `dir` (or `~/.cursor/hooks.json`
 * with `opts.global`), keeping every other hook and key. Installing twice
 * changes nothing; an entry of an older install path is replaced. In a
 * worktree the file must not be tracked by git, and is kept out of snapshots
 * (`info/exclude`). What the file held before is recorded
 * (agents/settings-file.ts), so uninstall gives it back byte for byte.
 *
 * @throws CkptError `AGENT_SETTINGS_TRACKED` (the project file is tracked:
 *   `--global` instead), `AGENT_SETTINGS_INVALID` (not JSON, not the shape
 *   Cursor reads); nothing is changed then. `NOT_A_REPO`, `FS_FAILED`, `GIT_FAILED`.
 */
export async function installCursorHooks(dir: string, command: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const read = readSettingsFile(t.file, hooksFileProblem);
  if (t.project) await refuseTracked(t.project.repo, 'cursor', t.project.rel);
  const doc: Record<string, unknown> = structuredClone(read.doc);
  doc.version ??= 1;
  const hooks = (doc.hooks ??= {}) as Record<string, CursorEntry[]>;
  const hadOurs = Object.values(hooks).some((list) => list.some((h) => isCkptHookCommand(h.command, 'cursor')));
  for (const event of CURSOR_EVENTS) {
    const list = (hooks[event] ??= []);
    if (list.some((h) => h.command === command)) continue;
    hooks[event] = [...list.filter((h) => !isCkptHookCommand(h.command, 'cursor')), { command }];
  }
  const changed = !read.bytes || `${JSON.stringify(doc, null, 2)}\n` !== read.bytes.toString('utf8');
  const excluded = t.project ? await excludeFromSnapshots(t.project.repo, 'cursor', t.project.rel) : false;
  if (changed) writeInstall('cursor', t.file, read, doc, t.records, hadOurs);
  return { file: t.file, changed, excluded };
}

/** Removes ckpt's entries from a hooks.json document, then an event and `hooks` left empty by that; true when it removed any. */
function stripOurs(doc: Record<string, unknown>): boolean {
  if (!isObject(doc.hooks)) return false;
  const hooks = doc.hooks as Record<string, CursorEntry[]>;
  let removed = false;
  for (const event of Object.keys(hooks)) {
    const list = hooks[event]!;
    const kept = list.filter((h) => !isCkptHookCommand(h.command, 'cursor'));
    if (kept.length === list.length) continue;
    removed = true;
    if (kept.length === 0) delete hooks[event];
    else hooks[event] = kept;
  }
  if (removed && Object.keys(hooks).length === 0) delete doc.hooks;
  return removed;
}

/**
 * Removes exactly what install added: the file as it was before (or no file,
 * and no directory the install made) when nobody changed it since; else
 * only ckpt's entries. The `info/exclude` rule goes too.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` (nothing is changed then), `NOT_A_REPO`, `FS_FAILED`.
 */
export async function uninstallCursorHooks(dir: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const changed = writeUninstall('cursor', t.file, t.records, () => readSettingsFile(t.file, hooksFileProblem), stripOurs);
  const excluded = t.project ? removeExclude(t.project.repo, 'cursor', t.project.rel) : false;
  return { file: t.file, changed, excluded };
}

/** Cursor's hooks behind the one interface (agents/hooks.ts). */
export const cursorHooks: AgentHooks = {
  agent: 'cursor',
  events: CURSOR_EVENTS,
  parse: parseCursorHook,
  reply: () => '',
  command: (ckptBin, nodeBin) => hookCommandLine('cursor', ckptBin, nodeBin),
  install: installCursorHooks,
  uninstall: uninstallCursorHooks,
};
