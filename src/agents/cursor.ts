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
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError, fsFailure } from '../core/errors.js';
import { openRepo } from '../git/repo.js';
import { excludeFromSnapshots, excludeMark, missingDirs, readText, refuseTracked, removeEmptyDirs, removeExclusion, writeTextSync } from './hook-files.js';
import { hookCommandLine, isCkptHookCommand, objectField, parsePayload, stringFields, toolTarget, type AgentHooks, type HookInstallOptions, type HookInstallResult, type HookState, type HookStep, type ParsedHook } from './hooks.js';

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

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Reads a hooks.json: `null` when it does not exist.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` naming the file and what is wrong
 *   (JSON error, or the JSON path of an entry of the wrong shape).
 */
function readHooksFile(file: string): Record<string, unknown> | null {
  if (!existsSync(file)) return null;
  const text = readText(file);
  const hint = 'Fix or remove the file, then run the command again; nothing was changed.';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CkptError('AGENT_SETTINGS_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err, hint, data: { file, error: (err as Error).message } });
  }
  const problem = (() => {
    if (!isObject(doc)) return `the file holds ${kindOf(doc)}, not a JSON object`;
    if (doc.version !== undefined && doc.version !== 1) return `"version" is ${JSON.stringify(doc.version)}: ckpt knows Cursor's hooks version 1 only`;
    if (doc.hooks === undefined) return null;
    if (!isObject(doc.hooks)) return `"hooks" is ${kindOf(doc.hooks)}, not an object of events`;
    for (const [event, list] of Object.entries(doc.hooks)) {
      if (!Array.isArray(list)) return `hooks.${event} is ${kindOf(list)}, not an array of hooks`;
      for (const [i, h] of list.entries()) if (!isObject(h)) return `hooks.${event}[${i}] is ${kindOf(h)}, not a hook object`;
    }
    return null;
  })();
  if (problem) throw new CkptError('AGENT_SETTINGS_INVALID', `${file}: ${problem}`, { hint, data: { file, error: problem } });
  return doc as Record<string, unknown>;
}

function serialize(doc: Record<string, unknown>): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

/** What install writes into a file that did not exist: uninstall removes a file left holding exactly this less ckpt's hooks. */
const EMPTY_DOC = serialize({ version: 1, hooks: {} });

async function target(dir: string, opts: HookInstallOptions): Promise<{ file: string; root: string; project: { repo: Awaited<ReturnType<typeof openRepo>>; rel: string } | null }> {
  if (opts.global) {
    const home = opts.home ?? os.homedir();
    return { file: path.join(home, '.cursor', 'hooks.json'), root: home, project: null };
  }
  const repo = await openRepo(dir);
  return { file: path.join(repo.worktree, ...CURSOR_PROJECT_HOOKS.split('/')), root: repo.worktree, project: { repo, rel: CURSOR_PROJECT_HOOKS } };
}

/**
 * Adds ckpt's preToolUse, postToolUse, afterFileEdit and stop hooks to
 * `.cursor/hooks.json` of the worktree containing `dir` (or `~/.cursor/hooks.json`
 * with `opts.global`), keeping every other hook and key. Installing twice
 * changes nothing; an entry of an older install path is replaced. In a
 * worktree the file must not be tracked by git (a file shared with everyone
 * who clones the repository), and is kept out of snapshots (`info/exclude`).
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` (not JSON, not the shape Cursor
 *   reads, or tracked: nothing is changed then); `NOT_A_REPO`, `FS_FAILED`, `GIT_FAILED`.
 */
export async function installCursorHooks(dir: string, command: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const before = readHooksFile(t.file);
  if (t.project) await refuseTracked(t.project.repo, t.project.rel, 'cursor');
  const doc: Record<string, unknown> = before ? structuredClone(before) : { version: 1 };
  doc.version ??= 1;
  const hooks = (doc.hooks ??= {}) as Record<string, CursorEntry[]>;
  for (const event of CURSOR_EVENTS) {
    const list = (hooks[event] ??= []);
    if (list.some((h) => h.command === command)) continue;
    hooks[event] = [...list.filter((h) => !isCkptHookCommand(h.command, 'cursor')), { command }];
  }
  const text = serialize(doc);
  const changed = !before || text !== readText(t.file);
  const excluded = t.project ? await excludeFromSnapshots(t.project.repo, t.project.rel, excludeMark('cursor')) : false;
  if (changed) writeTextSync(t.file, text);
  return { file: t.file, changed, excluded };
}

/**
 * Removes exactly ckpt's entries from the hooks file, then an event left
 * empty by that and `hooks` left empty by that; a file left holding nothing
 * else than what install writes into a new one (`{"version": 1, "hooks": {}}`)
 * is removed, with the `.cursor` directory when install made it and it is empty.
 * The `info/exclude` rule goes too.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` (nothing is changed then), `NOT_A_REPO`, `FS_FAILED`.
 */
export async function uninstallCursorHooks(dir: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const doc = readHooksFile(t.file);
  let changed = false;
  if (doc && isObject(doc.hooks)) {
    const hooks = doc.hooks as Record<string, CursorEntry[]>;
    let emptied = false;
    for (const event of Object.keys(hooks)) {
      const list = hooks[event]!;
      const kept = list.filter((h) => !isCkptHookCommand(h.command, 'cursor'));
      if (kept.length === list.length) continue;
      changed = true;
      if (kept.length === 0) delete hooks[event];
      else hooks[event] = kept;
      emptied ||= kept.length === 0;
    }
    if (changed) {
      const text = serialize(doc);
      if (text === EMPTY_DOC) {
        try {
          rmSync(t.file, { force: true });
        } catch (err) {
          throw fsFailure(err, 'remove', t.file);
        }
        removeEmptyDirs([path.dirname(t.file)].filter((d) => d !== t.root));
      } else {
        if (emptied && Object.keys(hooks).length === 0) delete doc.hooks;
        writeTextSync(t.file, serialize(doc));
      }
    }
  }
  const excluded = t.project ? removeExclusion(t.project.repo, t.project.rel, excludeMark('cursor')) : false;
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
