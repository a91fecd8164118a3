/**
 * Gemini CLI's hooks (checked against @google/gemini-cli 0.61.0's bundled
 * source, packages/core hooks/*): `settings.json` `"hooks": {"BeforeTool":
 * [{"matcher": REGEX, "hooks": [{"type": "command", "command": …, "timeout":
 * MS}]}], "AfterTool": […]}`. Hooks are on by default (`hooksConfig.enabled`)
 * but run only in a trusted folder; every scope's lists are concatenated
 * (system defaults, user, project, system). A hook runs through the shell with
 * the payload on stdin: `session_id`, `transcript_path`, `cwd`,
 * `hook_event_name`, `timestamp`, and for tools `tool_name`, `tool_input`
 * (AfterTool adds `tool_response`); there is no tool-call id. Its stdout (or,
 * when empty, its stderr) is read as JSON or as a message, so ckpt's hook
 * answers `{}`.
 *
 * `hooks install gemini` writes the worktree's `.gemini/settings.json` when it
 * is not tracked by git (kept out of snapshots through `info/exclude`), or
 * `~/.gemini/settings.json` with `--global`; uninstall gives the file back
 * byte for byte (agents/settings-file.ts). In a race the hooks come from a
 * system-defaults file named by `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`, so no
 * file of the user's is touched ({@link geminiRaceSettings}).
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRepo } from '../git/repo.js';
import { hookCommandLine, objectField, parsePayload, stringFields, toolTarget, type AgentHooks, type HookInstallOptions, type HookInstallResult, type HookState, type HookStep, type ParsedHook } from './hooks.js';
import { addOurs, hasOurs, removeOurs, settingsProblem as hooksShapeProblem, type MatcherHooksSpec } from './matcher-hooks.js';
import { excludeFromSnapshots, readSettingsFile, recordsDir, refuseTracked, removeExclude, writeInstall, writeUninstall } from './settings-file.js';

/** The tools whose calls can change files (Gemini CLI's names; the matcher is a regular expression on the tool's name). */
export const GEMINI_HOOK_MATCHER = '^(write_file|replace|run_shell_command)$';

/** The hook's timeout as Gemini CLI reads it, in ms (its default is 60 000): above ckpt's 20 s wait (agents/hooks.ts HOOK_WAIT_MS). */
export const GEMINI_HOOK_TIMEOUT_MS = 30_000;

/** The project settings file, relative to the worktree. */
const PROJECT_SETTINGS = path.join('.gemini', 'settings.json');

const FIELDS = ['hook_event_name', 'cwd', 'tool_name', 'session_id', 'notification_type', 'message'] as const;

/**
 * A Gemini CLI hook payload read as a step and a state: BeforeTool →
 * `before`, AfterTool → `after` (the tool-use id is made from the session,
 * the tool and its input, which both halves carry: `gemini-<16 hex>`);
 * BeforeAgent → prompt; AfterAgent → turn-end; Notification (a tool
 * permission request) → waiting; SessionStart / SessionEnd. Never throws.
 */
export function parseGeminiHook(text: string): ParsedHook {
  const { raw, problems } = parsePayload(text);
  const empty: ParsedHook = { event: null, step: null, state: null, cwd: null, sessionId: null, problems };
  if (!raw) return empty;
  const f = stringFields(raw, FIELDS, problems);
  const input = objectField(raw, 'tool_input', problems) ?? {};
  const event = f.hook_event_name ?? null;
  const tool = f.tool_name || 'tool';
  const kind: HookStep['kind'] | null = event === 'BeforeTool' ? 'before' : event === 'AfterTool' ? 'after' : null;
  const step: HookStep | null = kind
    ? { kind, tool, target: toolTarget(input, null, ['file_path', 'absolute_path', 'path']), toolUseId: `gemini-${createHash('sha256').update(JSON.stringify([f.session_id ?? '', tool, input])).digest('hex').slice(0, 16)}` }
    : null;
  const state: HookState | null =
    event === 'BeforeTool' ? { state: 'tool', tool }
    : event === 'AfterTool' ? { state: 'tool-done', tool }
    : event === 'Notification' ? { state: 'waiting', ...(f.message ? { detail: f.message } : f.notification_type ? { detail: f.notification_type } : {}) }
    : event === 'BeforeAgent' ? { state: 'prompt' }
    : event === 'AfterAgent' ? { state: 'turn-end' }
    : event === 'SessionStart' ? { state: 'session-start' }
    : event === 'SessionEnd' ? { state: 'session-end' }
    : null;
  return { event, step, state, cwd: f.cwd ?? null, sessionId: f.session_id ?? null, problems };
}

/** The events ckpt hooks. */
const EVENTS = ['BeforeTool', 'AfterTool'] as const;

/** ckpt's BeforeTool and AfterTool entries for `command` (agents/matcher-hooks.ts). */
const SPEC: MatcherHooksSpec = {
  agent: 'gemini',
  events: EVENTS,
  entries: (_event, command) => [{ matcher: GEMINI_HOOK_MATCHER, hooks: [{ name: 'ckpt', type: 'command', command, timeout: GEMINI_HOOK_TIMEOUT_MS }] }],
};

/** The keys of Gemini CLI's `hooks` setting that are settings, not event lists (not shape-checked). */
const NOT_EVENTS = ['enabled', 'disabled', 'notifications'] as const;

/** What is wrong with a Gemini CLI settings document where ckpt edits it (`hooks`), or null. */
function settingsProblem(doc: unknown): string | null {
  return hooksShapeProblem(doc, NOT_EVENTS);
}

/**
 * The settings document a race gives Gemini CLI through
 * `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`: the system defaults the client would
 * have read (`base`, the file that variable or `/etc/gemini-cli/system-defaults.json`
 * names), with ckpt's hooks added to its own.
 *
 * @returns null when `base` is not a JSON object of the shape Gemini CLI reads
 *   (the race then keeps the watcher only for that attempt).
 */
export function geminiRaceSettings(command: string, base: string | null): Record<string, unknown> | null {
  let doc: Record<string, unknown> = {};
  if (base !== null) {
    try {
      const parsed: unknown = JSON.parse(base);
      if (settingsProblem(parsed)) return null;
      doc = parsed as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  addOurs(SPEC, doc, command);
  return doc;
}

/** The system-defaults file Gemini CLI reads (its getSystemDefaultsPath), for {@link geminiRaceSettings}. */
export function geminiSystemDefaultsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH) return env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH;
  const system = env.GEMINI_CLI_SYSTEM_SETTINGS_PATH || '/etc/gemini-cli/settings.json';
  return path.join(path.dirname(system), 'system-defaults.json');
}

/**
 * Whether Gemini CLI would read a system settings file at `file`: it skips
 * one (with a security warning) unless the file and every directory above
 * it are owned by root and writable by nobody else (its
 * isPathSecureSync). Checked on the directories that exist; the ones ckpt
 * creates get mode 0755 ({@link writeSystemFile}). Only a ckpt running as
 * root can meet that.
 */
export function geminiAcceptsSystemFile(file: string): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  for (let d = path.dirname(path.resolve(file)); ; d = path.dirname(d)) {
    try {
      const st = statSync(d);
      if (st.uid !== 0 || (st.mode & 0o022) !== 0) return false;
    } catch {
      // not there yet: made by writeSystemFile with mode 0755
    }
    if (path.dirname(d) === d) return true;
  }
}

/** Writes `text` to `file` as a root-owned 0644 file in 0755 directories, as {@link geminiAcceptsSystemFile} needs. */
export function writeSystemFile(file: string, text: string): void {
  const made: string[] = [];
  for (let d = path.dirname(file); !existsSync(d); d = path.dirname(d)) made.push(d);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  for (const d of made) chmodSync(d, 0o755);
  writeFileSync(file, text, { mode: 0o644 });
  chmodSync(file, 0o644);
}

/** Reads a file, or null when it cannot be read. */
export function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Where an install writes: the worktree's `.gemini/settings.json`, or `~/.gemini/settings.json`. */
async function target(dir: string, opts: HookInstallOptions | undefined): Promise<{ file: string; records: string; repo: Awaited<ReturnType<typeof openRepo>> | null }> {
  if (opts?.global) {
    const home = opts.home ?? os.homedir();
    return { file: path.join(home, '.gemini', 'settings.json'), records: recordsDir({ home: opts.home }), repo: null };
  }
  const repo = await openRepo(dir);
  return { file: path.join(repo.worktree, PROJECT_SETTINGS), records: recordsDir({ repo }), repo };
}

/**
 * Adds ckpt's BeforeTool/AfterTool hooks to Gemini CLI's settings, keeping
 * everything else. Installing twice changes nothing.
 *
 * @throws CkptError `AGENT_SETTINGS_TRACKED` (the project file is tracked by
 *   git), `AGENT_SETTINGS_INVALID` (not JSON, or not the shape Gemini CLI
 *   reads), `NOT_A_REPO`, `FS_FAILED`; nothing is changed then.
 */
export async function installGeminiHooks(dir: string, command: string, opts?: HookInstallOptions): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  if (t.repo) await refuseTracked(t.repo, 'gemini', PROJECT_SETTINGS);
  const read = readSettingsFile(t.file, settingsProblem);
  const doc = structuredClone(read.doc);
  const hadOurs = hasOurs('gemini', doc);
  const changed = addOurs(SPEC, doc, command);
  const excluded = t.repo ? await excludeFromSnapshots(t.repo, 'gemini', PROJECT_SETTINGS) : false;
  if (changed) writeInstall('gemini', t.file, read, doc, t.records, hadOurs);
  return { file: t.file, changed, excluded };
}

/**
 * Removes exactly what {@link installGeminiHooks} added: the file as it was
 * (byte for byte, or gone when it did not exist) when nothing else changed
 * it since, else only ckpt's entries; and the `info/exclude` rule.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID`, `NOT_A_REPO`, `FS_FAILED`.
 */
export async function uninstallGeminiHooks(dir: string, opts?: HookInstallOptions): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const changed = writeUninstall('gemini', t.file, t.records, () => readSettingsFile(t.file, settingsProblem), (doc) => removeOurs('gemini', doc));
  const excluded = t.repo ? removeExclude(t.repo, 'gemini', PROJECT_SETTINGS) : false;
  return { file: t.file, changed, excluded };
}

/** Gemini CLI's hooks behind the one interface (agents/hooks.ts). */
export const geminiHooks: AgentHooks = {
  agent: 'gemini',
  events: EVENTS,
  parse: parseGeminiHook,
  // Gemini CLI reads the hook's stdout as JSON (or, when it is empty, its stderr as a message): `{}` allows the call and says nothing.
  reply: () => '{}',
  command: (ckptBin, nodeBin) => hookCommandLine('gemini', ckptBin, nodeBin),
  install: installGeminiHooks,
  uninstall: uninstallGeminiHooks,
};
