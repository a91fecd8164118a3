/**
 * Codex CLI's hooks (checked against the real @openai/codex 0.169.0, offline,
 * test/agent-hooks-real.test.ts): `hooks.json` `{"hooks": {"PreToolUse":
 * [{"matcher": …, "hooks": [{"type": "command", "command": …, "timeout": S}]}],
 * "PostToolUse": […]}}` in `$CODEX_HOME` (`~/.codex`) or a project's `.codex/`,
 * the same tables in `config.toml` (`[[hooks.PreToolUse]]`), or `-c
 * hooks.PreToolUse=[…]` on the command line. On by default, but a hook runs
 * only once it is trusted (reviewed in Codex's `/hooks`, stored as a hash), or
 * with `--dangerously-bypass-hook-trust`; a project's hooks also need the
 * project trusted (`[projects."<dir>"] trust_level = "trusted"`). An untrusted
 * hook is skipped without a word.
 *
 * The payload: `session_id`, `turn_id`, `cwd`, `hook_event_name`, `model`,
 * and for tools `tool_name` (`apply_patch`, `Bash`), `tool_input.command`
 * (the patch text for apply_patch, the command line for Bash), `tool_use_id`
 * (the model's call id, the same in Pre and Post), PostToolUse adds
 * `tool_response`. Edits made through `apply_patch` reach hooks as
 * `apply_patch` only (never `Write`/`Edit`; openai/codex#26733); the watcher
 * records what a version's hooks miss.
 */
import os from 'node:os';
import path from 'node:path';
import { openRepo } from '../git/repo.js';
import { hookCommandLine, objectField, parsePayload, shorten, stringFields, toolTarget, type AgentHooks, type HookInstallOptions, type HookInstallResult, type HookState, type HookStep, type ParsedHook } from './hooks.js';
import { addOurs, hasOurs, removeOurs, settingsProblem, type MatcherEntry, type MatcherHooksSpec } from './matcher-hooks.js';
import { excludeFromSnapshots, readSettingsFile, recordsDir, refuseTracked, removeExclude, writeInstall, writeUninstall } from './settings-file.js';

/** The tools whose calls can change files, as Codex names them to hooks (a regular expression on the tool's name). */
export const CODEX_HOOK_MATCHER = '^(apply_patch|Bash|Write|Edit|shell|exec_command)$';

/** The hook's timeout as Codex reads it, in seconds: above ckpt's 20 s wait (agents/hooks.ts HOOK_WAIT_MS). */
export const CODEX_HOOK_TIMEOUT_S = 30;

/** The project hooks file, relative to the worktree. */
const PROJECT_HOOKS = path.join('.codex', 'hooks.json');

const FIELDS = ['hook_event_name', 'cwd', 'tool_name', 'tool_use_id', 'session_id'] as const;

/**
 * The files an `apply_patch` patch touches (`*** Add File:`, `*** Update
 * File:`, `*** Delete File:`, `*** Move to:`), in order, once each.
 */
export function patchFiles(patch: string): string[] {
  const out: string[] = [];
  for (const m of patch.matchAll(/^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+)$/gm)) {
    const f = m[1]!.trim();
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

/**
 * A Codex hook payload read as a step and a state: PreToolUse → `before`,
 * PostToolUse → `after` (named after the tool; an apply_patch call after the
 * files its patch names, a Bash call after its command); UserPromptSubmit →
 * prompt; PermissionRequest → waiting; Stop → turn-end; SessionStart /
 * SessionEnd. Never throws.
 */
export function parseCodexHook(text: string): ParsedHook {
  const { raw, problems } = parsePayload(text);
  if (!raw) return { event: null, step: null, state: null, cwd: null, sessionId: null, problems };
  const f = stringFields(raw, FIELDS, problems);
  const input = objectField(raw, 'tool_input', problems) ?? {};
  const event = f.hook_event_name ?? null;
  const tool = f.tool_name || 'tool';
  const kind: HookStep['kind'] | null = event === 'PreToolUse' ? 'before' : event === 'PostToolUse' ? 'after' : null;
  let target: string | null = null;
  if (kind) {
    const files = tool === 'apply_patch' && typeof input.command === 'string' ? patchFiles(input.command) : [];
    target = files.length > 0 ? shorten(files.length === 1 ? files[0]! : `${files[0]} (+${files.length - 1} more)`) : tool === 'apply_patch' ? null : toolTarget(input, null);
  }
  const step: HookStep | null = kind ? { kind, tool, target, toolUseId: f.tool_use_id ?? null } : null;
  const state: HookState | null =
    event === 'PreToolUse' ? { state: 'tool', tool }
    : event === 'PostToolUse' ? { state: 'tool-done', tool }
    : event === 'PermissionRequest' ? { state: 'waiting', reason: 'permission', ...(f.tool_name ? { tool } : {}), detail: f.tool_name ? `permission for ${f.tool_name}` : 'permission' }
    : event === 'UserPromptSubmit' ? { state: 'prompt' }
    : event === 'Stop' ? { state: 'turn-end' }
    : event === 'SessionStart' ? { state: 'session-start' }
    : event === 'SessionEnd' ? { state: 'session-end' }
    : null;
  return { event, step, state, cwd: f.cwd ?? null, sessionId: f.session_id ?? null, problems };
}

const EVENTS = ['PreToolUse', 'PostToolUse'] as const;

/** One matcher entry for ckpt's hook, as hooks.json and config.toml spell it. */
function entry(command: string): MatcherEntry {
  return { matcher: CODEX_HOOK_MATCHER, hooks: [{ type: 'command', command, timeout: CODEX_HOOK_TIMEOUT_S }] };
}

/** ckpt's entries in Codex's hooks document (agents/matcher-hooks.ts). */
const SPEC: MatcherHooksSpec = { agent: 'codex', events: EVENTS, entries: (_event, command) => [entry(command)] };

/**
 * The command-line arguments that give Codex ckpt's hooks for one run
 * without any file: `-c hooks.PreToolUse=[…]`, `-c hooks.PostToolUse=[…]`
 * (TOML values) and `--dangerously-bypass-hook-trust` (a hook given this way
 * has no stored trust). For ckpt's own race attempts only: the bypass also
 * runs the user's enabled hooks that were never reviewed.
 */
export function codexHookArgs(command: string): string[] {
  const e = entry(command);
  const toml = `[{matcher=${JSON.stringify(e.matcher)},hooks=[{type="command",command=${JSON.stringify(command)},timeout=${CODEX_HOOK_TIMEOUT_S}}]}]`;
  return [...EVENTS.flatMap((ev) => ['-c', `hooks.${ev}=${toml}`]), '--dangerously-bypass-hook-trust'];
}

/** `$CODEX_HOME` as Codex reads it (default `~/.codex`); with `home` given (tests), `<home>/.codex`. */
export function codexHome(home?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (home) return path.join(home, '.codex');
  return env.CODEX_HOME || path.join(os.homedir(), '.codex');
}

async function target(dir: string, opts: HookInstallOptions | undefined): Promise<{ file: string; records: string; repo: Awaited<ReturnType<typeof openRepo>> | null }> {
  if (opts?.global) return { file: path.join(codexHome(opts.home), 'hooks.json'), records: recordsDir({ home: opts.home }), repo: null };
  const repo = await openRepo(dir);
  return { file: path.join(repo.worktree, PROJECT_HOOKS), records: recordsDir({ repo }), repo };
}

/**
 * Adds ckpt's PreToolUse/PostToolUse hooks to Codex's `hooks.json`: the
 * worktree's `.codex/hooks.json` (kept out of snapshots), or
 * `$CODEX_HOME/hooks.json` with `global`. Codex runs them only once they are
 * trusted (`/hooks` in Codex, or `--dangerously-bypass-hook-trust`), and
 * project hooks only in a trusted project: the result's `notes` say so.
 *
 * @throws CkptError `AGENT_SETTINGS_TRACKED`, `AGENT_SETTINGS_INVALID`, `NOT_A_REPO`, `FS_FAILED`; nothing is changed then.
 */
export async function installCodexHooks(dir: string, command: string, opts?: HookInstallOptions): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  if (t.repo) await refuseTracked(t.repo, 'codex', PROJECT_HOOKS);
  const read = readSettingsFile(t.file, settingsProblem);
  const doc = structuredClone(read.doc);
  const hadOurs = hasOurs('codex', doc);
  const changed = addOurs(SPEC, doc, command);
  const excluded = t.repo ? await excludeFromSnapshots(t.repo, 'codex', PROJECT_HOOKS) : false;
  if (changed) writeInstall('codex', t.file, read, doc, t.records, hadOurs);
  const notes = [
    'Codex runs a hook only once it is trusted: review it in Codex with /hooks (or run codex with --dangerously-bypass-hook-trust); until then it is skipped without a word and only the watcher records steps.',
    ...(t.repo ? [`Codex reads ${PROJECT_HOOKS} only in a trusted project ([projects."${t.repo.worktree}"] trust_level = "trusted" in ~/.codex/config.toml).`] : []),
  ];
  return { file: t.file, changed, excluded, notes };
}

/**
 * Removes exactly what {@link installCodexHooks} added (the file byte for
 * byte when nothing else changed it since), and the `info/exclude` rule.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID`, `NOT_A_REPO`, `FS_FAILED`.
 */
export async function uninstallCodexHooks(dir: string, opts?: HookInstallOptions): Promise<HookInstallResult> {
  const t = await target(dir, opts);
  const changed = writeUninstall('codex', t.file, t.records, () => readSettingsFile(t.file, settingsProblem), (doc) => removeOurs('codex', doc));
  const excluded = t.repo ? removeExclude(t.repo, 'codex', PROJECT_HOOKS) : false;
  return { file: t.file, changed, excluded };
}

/** Codex CLI's hooks behind the one interface (agents/hooks.ts). */
export const codexHooks: AgentHooks = {
  agent: 'codex',
  events: EVENTS,
  parse: parseCodexHook,
  // Codex reads a hook's stdout as its decision; nothing means "go on".
  reply: () => '',
  command: (ckptBin, nodeBin) => hookCommandLine('codex', ckptBin, nodeBin),
  install: installCodexHooks,
  uninstall: uninstallCodexHooks,
};
