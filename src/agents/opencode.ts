/**
 * OpenCode's hooks: a plugin (OpenCode's plugins reference: a module in a
 * config directory's `plugins/`, or an entry of the config's `plugin` list,
 * exporting a function that returns hooks) whose `tool.execute.before` and
 * `tool.execute.after` run `ckpt hook opencode` with a JSON payload on stdin
 * and wait for it, so each tool call gets its `before` / `after` snapshot.
 * Checked against opencode-ai 1.18.33: `before` is given `{tool, sessionID,
 * callID}` and `{args}`, `after` `{tool, sessionID, callID, args}` and the
 * tool's result; `after` runs only when the tool did not throw (a failed call
 * has its `before` and no `after`: the watcher records what it left).
 *
 * The plugin also forwards the agent's state for `ckpt agents`: a permission
 * asked (`permission.asked`: waiting for the user), answered, and a session
 * gone idle (`session.idle`: the turn ended).
 *
 * Where it goes: `hooks install opencode` writes `.opencode/plugins/ckpt.js`
 * in the worktree (a file of the user's own, kept out of snapshots through
 * `info/exclude`); `--global` writes `$XDG_CONFIG_HOME/opencode/plugins/ckpt.js`
 * (`~/.config/opencode`). A race passes the plugin without touching any file
 * of the user's: `OPENCODE_CONFIG_CONTENT` (inline config OpenCode merges
 * last) with a `file://` entry in `plugin` ({@link openCodeRaceEnv}).
 */
import { existsSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError, fsFailure } from '../core/errors.js';
import { openRepo } from '../git/repo.js';
import { excludeFromSnapshots, refuseTracked, removeExclude, writeAtomic } from './settings-file.js';
import { hookCommandLine, objectField, parsePayload, stringFields, toolTarget, type AgentHooks, type HookInstallOptions, type HookInstallResult, type HookState, type HookStep, type ParsedHook } from './hooks.js';

/**
 * OpenCode's tools that never change a file (1.18.33 and its docs): the
 * plugin calls no hook for them. Every other tool (bash, write, edit,
 * multiedit, patch/apply_patch, task, MCP and custom tools) gets its pair.
 */
export const OPENCODE_READ_ONLY_TOOLS: readonly string[] = ['read', 'glob', 'grep', 'list', 'webfetch', 'websearch', 'codesearch', 'todowrite', 'todoread', 'skill', 'lsp', 'question'];

/** How long the plugin waits for one `ckpt hook opencode` before killing it, in ms (the hook gives up itself after 20 s, agents/hooks.ts HOOK_WAIT_MS). */
export const OPENCODE_HOOK_TIMEOUT_MS = 30_000;

/** The first line of the plugin file: how ckpt knows the file is its own. */
export const OPENCODE_PLUGIN_MARK = '// ckpt: checkpoints before and after each OpenCode tool call. Written by `ckpt hooks install opencode`; `ckpt hooks uninstall opencode` removes it.';

/** Where `hooks install opencode` writes in a worktree (relative, `/`-separated). */
export const OPENCODE_PROJECT_PLUGIN = '.opencode/plugins/ckpt.js';

/** The hook events of OpenCode's plugin interface ckpt uses. */
const EVENTS = ['tool.execute.before', 'tool.execute.after'] as const;

/**
 * The plugin's source: one exported plugin function (OpenCode calls every
 * export of a plugin module), importing nothing but `node:child_process`.
 * Each hook runs `command` through `/bin/sh -c` in the session's directory
 * with the payload on stdin, ignores its output, and resolves when it exits
 * or after {@link OPENCODE_HOOK_TIMEOUT_MS} (then kills it): it never throws,
 * so a failing ckpt never fails the tool call.
 *
 * The payload: `{"hook_event_name": "tool.execute.before" | "tool.execute.after"
 * | "permission.asked" | "permission.replied" | "session.idle", "tool",
 * "sessionID", "callID", "args", "cwd"}`.
 *
 * @param command the shell command line (agents/hooks.ts `hookCommandLine`).
 * @param createdDirs directories the install created (relative to the root it
 *   wrote under), recorded so that uninstall removes them again when empty.
 */
export function openCodePluginSource(command: string, createdDirs: readonly string[] = []): string {
  return `${OPENCODE_PLUGIN_MARK}
// ckpt-created-dirs: ${JSON.stringify(createdDirs)}
import { spawn } from 'node:child_process';

const COMMAND = ${JSON.stringify(command)};
const READ_ONLY = new Set(${JSON.stringify(OPENCODE_READ_ONLY_TOOLS)});
const TIMEOUT_MS = ${OPENCODE_HOOK_TIMEOUT_MS};

function hook(payload, cwd) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn('/bin/sh', ['-c', COMMAND], { cwd, stdio: ['pipe', 'ignore', 'ignore'] });
    } catch {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch {}
    }, TIMEOUT_MS);
    const done = () => { clearTimeout(timer); resolve(); };
    child.on('error', done);
    child.on('close', done);
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify({ ...payload, cwd }));
  });
}

export const CkptCheckpoints = async ({ directory }) => ({
  'tool.execute.before': async (input, output) => {
    if (READ_ONLY.has(input?.tool)) return;
    await hook({ hook_event_name: 'tool.execute.before', tool: input?.tool, sessionID: input?.sessionID, callID: input?.callID, args: output?.args }, directory);
  },
  'tool.execute.after': async (input) => {
    if (READ_ONLY.has(input?.tool)) return;
    await hook({ hook_event_name: 'tool.execute.after', tool: input?.tool, sessionID: input?.sessionID, callID: input?.callID, args: input?.args }, directory);
  },
  event: async ({ event }) => {
    const type = event?.type;
    if (type !== 'permission.asked' && type !== 'permission.replied' && type !== 'session.idle') return;
    const p = event.properties ?? {};
    await hook({ hook_event_name: type, sessionID: p.sessionID, detail: typeof p.permission === 'string' ? p.permission : undefined }, directory);
  },
});
`;
}

/** Whether `text` is a plugin file ckpt wrote. */
export function isOurPlugin(text: string): boolean {
  return text.startsWith(OPENCODE_PLUGIN_MARK);
}

/** The directories a plugin file says its install created (its second line), or none. */
function createdDirsOf(text: string): string[] {
  const m = /^\/\/ ckpt-created-dirs: (.*)$/m.exec(text);
  if (!m) return [];
  try {
    const v: unknown = JSON.parse(m[1]!);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && !path.isAbsolute(x) && !x.split('/').includes('..')) : [];
  } catch {
    return [];
  }
}

/**
 * Reads the payload the plugin writes: `tool.execute.before` → `before`,
 * `tool.execute.after` → `after` (named after the tool and its file or
 * command, with the call's id); `permission.asked` → waiting,
 * `permission.replied` → running again, `session.idle` → the turn ended.
 * Never throws: what it cannot use is in `problems`.
 */
export function parseOpenCodeHook(text: string): ParsedHook {
  const { raw, problems } = parsePayload(text);
  if (!raw) return { event: null, step: null, state: null, cwd: null, sessionId: null, problems };
  const f = stringFields(raw, ['hook_event_name', 'tool', 'callID', 'sessionID', 'cwd', 'detail'] as const, problems);
  const args = objectField(raw, 'args', problems);
  const event = f.hook_event_name ?? null;
  const tool = f.tool || 'tool';
  const kind: HookStep['kind'] | null = event === 'tool.execute.before' ? 'before' : event === 'tool.execute.after' ? 'after' : null;
  const step: HookStep | null = kind ? { kind, tool, target: toolTarget(args ?? {}, null, ['filePath', 'file_path', 'path']), toolUseId: f.callID ?? null } : null;
  const state: HookState | null =
    kind === 'before' ? { state: 'tool', tool }
    : kind === 'after' ? { state: 'tool-done', tool }
    : event === 'permission.asked' ? { state: 'waiting', reason: 'permission', ...(f.detail ? { detail: `permission: ${f.detail}` } : {}) }
    : event === 'permission.replied' ? { state: 'tool' }
    : event === 'session.idle' ? { state: 'turn-end' }
    : null;
  if (event !== null && !kind && !state) problems.push(`hook_event_name ${JSON.stringify(event)} is not an event ckpt knows: ignored`);
  return { event, step, state, cwd: f.cwd ?? null, sessionId: f.sessionID ?? null, problems };
}

/** OpenCode's global config directory as it computes it: `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`. */
export function openCodeGlobalDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'opencode');
}

/** Where the plugin goes and the root its created directories are relative to. */
async function target(dir: string, opts: HookInstallOptions): Promise<{ file: string; root: string; project: { repo: Awaited<ReturnType<typeof openRepo>>; rel: string } | null }> {
  if (opts.global) {
    const configDir = openCodeGlobalDir(process.env, opts.home ?? os.homedir());
    return { file: path.join(configDir, 'plugins', 'ckpt.js'), root: path.dirname(configDir), project: null };
  }
  const repo = await openRepo(dir);
  return { file: path.join(repo.worktree, ...OPENCODE_PROJECT_PLUGIN.split('/')), root: repo.worktree, project: { repo, rel: OPENCODE_PROJECT_PLUGIN } };
}

/**
 * Writes ckpt's plugin (`.opencode/plugins/ckpt.js` of the worktree containing
 * `dir`, or the global one with `opts.global`). Installing twice changes
 * nothing; a plugin of an older install path is replaced. In a worktree the
 * file is first kept out of snapshots (a rule in `info/exclude`, unless git
 * ignores it already).
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` when a file of that name is not
 *   ckpt's, `AGENT_SETTINGS_TRACKED` when git tracks it (`--global` instead);
 *   nothing is changed then. `NOT_A_REPO`, `FS_FAILED`, `GIT_FAILED`.
 */
export async function installOpenCodeHooks(dir: string, command: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const existing = readText(t.file);
  if (existing && !isOurPlugin(existing)) {
    throw new CkptError('AGENT_SETTINGS_INVALID', `${t.file} exists and is not ckpt's plugin`, {
      hint: 'Rename or remove that file, then run the command again; nothing was changed.',
      data: { file: t.file, error: 'not ckpt\'s' },
    });
  }
  if (t.project) await refuseTracked(t.project.repo, 'opencode', t.project.rel);
  const created = existing ? createdDirsOf(existing) : missingDirs(t.root, t.file).map((d) => path.relative(t.root, d).split(path.sep).join('/'));
  const text = openCodePluginSource(command, created);
  const excluded = t.project ? await excludeFromSnapshots(t.project.repo, 'opencode', t.project.rel) : false;
  const changed = existing !== text;
  if (changed) writeAtomic(t.file, text);
  return { file: t.file, changed, excluded };
}

/**
 * Removes ckpt's plugin, the directories its install created (when nothing
 * else is in them now) and its `info/exclude` rule; a file of that name that
 * is not ckpt's is left alone.
 *
 * @throws CkptError `NOT_A_REPO`, `FS_FAILED`.
 */
export async function uninstallOpenCodeHooks(dir: string, opts: HookInstallOptions = {}): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const existing = readText(t.file);
  let changed = false;
  if (existing && isOurPlugin(existing)) {
    try {
      rmSync(t.file, { force: true });
    } catch (err) {
      throw fsFailure(err, 'remove', t.file);
    }
    removeEmptyDirs(createdDirsOf(existing).map((d) => path.join(t.root, ...d.split('/'))));
    changed = true;
  }
  const excluded = t.project ? removeExclude(t.project.repo, 'opencode', t.project.rel) : false;
  return { file: t.file, changed, excluded };
}

/**
 * The environment that gives an OpenCode run ckpt's plugin without touching
 * any file of the user's: `OPENCODE_CONFIG_CONTENT` (OpenCode's inline
 * config, merged over every config file) with `file://<plugin>` added to its
 * `plugin` list. A value the user already set is kept and extended; one that
 * is not a JSON object is left as it is and the plugin is not passed
 * (`problem` says so).
 *
 * @param pluginFile the plugin file (absolute), written with {@link openCodePluginSource}.
 */
export function openCodeRaceEnv(pluginFile: string, env: NodeJS.ProcessEnv = process.env): { env: Record<string, string>; problem: string | null } {
  const spec = `file://${pluginFile}`;
  const current = env.OPENCODE_CONFIG_CONTENT;
  if (!current) return { env: { OPENCODE_CONFIG_CONTENT: JSON.stringify({ plugin: [spec] }) }, problem: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(current);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { env: {}, problem: 'OPENCODE_CONFIG_CONTENT is not a JSON object: ckpt did not add its plugin (the watcher still checkpoints the attempt)' };
  }
  const config = parsed as Record<string, unknown>;
  const list = Array.isArray(config.plugin) ? config.plugin : [];
  return { env: { OPENCODE_CONFIG_CONTENT: JSON.stringify({ ...config, plugin: [...list.filter((p) => p !== spec), spec] }) }, problem: null };
}

/** The text of `file`, `''` when it does not exist. @throws CkptError `FS_FAILED`. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw fsFailure(err, 'read', file);
  }
}

/** The directories between `root` (exclusive) and `file` that do not exist yet, outermost first: what writing `file` creates. */
function missingDirs(root: string, file: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(file); dir !== root && dir.startsWith(root + path.sep); dir = path.dirname(dir)) {
    if (existsSync(dir)) break;
    out.unshift(dir);
  }
  return out;
}

/** Removes each of `dirs` that is empty, innermost first; one something else lives in now is kept. */
function removeEmptyDirs(dirs: readonly string[]): void {
  for (const dir of [...dirs].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      return; // not empty, or gone: kept as it is, and so are its parents
    }
  }
}

/** OpenCode's hooks behind the one interface (agents/hooks.ts). */
export const openCodeHooks: AgentHooks = {
  agent: 'opencode',
  events: EVENTS,
  parse: parseOpenCodeHook,
  reply: () => '',
  command: (ckptBin, nodeBin) => hookCommandLine('opencode', ckptBin, nodeBin),
  install: installOpenCodeHooks,
  uninstall: uninstallOpenCodeHooks,
};
