/**
 * One interface for every agent's hooks. Each agent with hooks has one module
 * in src/agents/ (claude.ts, codex.ts, gemini.ts, …) exporting an
 * {@link AgentHooks}: how its hook payload (the JSON the agent writes to the
 * hook's stdin) maps to a ckpt step and to the agent's state, what the hook
 * must print back, and how its hooks are installed into and removed from the
 * agent's own settings file.
 *
 * `ckpt hook AGENT` (cli/commands/hook.ts) loads only the one module it needs
 * (agents/hook-registry.ts `loadAgentHooks`), parses stdin with {@link AgentHooks.parse}, records
 * the step with {@link recordHookStep}, and writes {@link AgentHooks.reply} on
 * stdout. `ckpt hooks install|uninstall AGENT` calls `install` / `uninstall`.
 * The agents' states (`ckpt agents`) are recorded from {@link ParsedHook.state}
 * for every event, by agents/state.ts `recordHookState` (the hook command
 * does it for every agent: a parser only fills `state`).
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { SnapshotKind } from '../core/types.js';
import { openRepo } from '../git/repo.js';
import { TRAILER } from '../snapshot/format.js';
import { requestTrailers } from '../snapshot/race-trailers.js';
import type { QueuedResult } from '../snapshot/queue.js';

/**
 * The agents whose hooks ckpt knows or is about to (each one a module of
 * src/agents/, loaded by agents/hook-registry.ts; a name without a module
 * there yet is an unknown agent to `ckpt hook`).
 */
export const HOOK_AGENT_NAMES = ['claude', 'codex', 'gemini', 'opencode', 'cursor'] as const;
/** One of {@link HOOK_AGENT_NAMES}. */
export type HookAgentName = (typeof HOOK_AGENT_NAMES)[number];

/** The snapshot one hook call asks for: one half of a tool call's before/after pair. */
export interface HookStep {
  /** `before` (the tool is about to run) or `after` (it ran). */
  kind: Extract<SnapshotKind, 'before' | 'after'>;
  /** The tool's name as the agent calls it (`Write`, `write_file`, `apply_patch`, `Bash`). */
  tool: string;
  /** Its file (relative to the worktree when inside it) or its command, shortened; null when neither. */
  target: string | null;
  /** The agent's id of this tool call, recorded as a `Tool-Use-Id` trailer; null when the agent gives none. */
  toolUseId: string | null;
}

/**
 * What a hook call says about the agent, for `ckpt agents`: a turn started
 * (a prompt was submitted), a tool runs, the agent waits for the user (a
 * permission or input request), a turn ended, a session started or ended.
 */
export interface HookState {
  state: 'prompt' | 'tool' | 'tool-done' | 'waiting' | 'turn-end' | 'session-start' | 'session-end';
  /** The tool running or done (state `tool`, `tool-done`). */
  tool?: string;
  /** What the agent waits for or why, as it said it (state `waiting`). */
  detail?: string;
  /** Why it waits (state `waiting`): `permission` (a tool call needs approval) or `input` (a question, an idle prompt); `input` when not given. */
  reason?: 'permission' | 'input';
}

/** A hook payload, read. Never thrown: what could not be used is in `problems`. */
export interface ParsedHook {
  /** The agent's own event name (`PreToolUse`, `BeforeTool`), or null. */
  event: string | null;
  /** The snapshot to take, or null (an event that is no tool call). */
  step: HookStep | null;
  /** What the event says about the agent's state, or null. */
  state: HookState | null;
  /** The agent's working directory as the payload names it (absolute), or null. */
  cwd: string | null;
  /** The agent's session id, or null. */
  sessionId: string | null;
  /** One line per thing in the payload ckpt could not use (logged to hook.log). */
  problems: string[];
}

/** Where an install writes: the project's settings file (default) or the user's global one. */
export interface HookInstallOptions {
  /** The user's global settings (`~/.gemini/settings.json`, `~/.codex/…`) instead of the project's. */
  global?: boolean;
  /** The home directory for `global` (default `os.homedir()`; tests pass a temp one). */
  home?: string;
}

/** What `install` / `uninstall` did. */
export interface HookInstallResult {
  /** The settings file written or read. */
  file: string;
  /** Whether the file changed. */
  changed: boolean;
  /** Whether a rule keeping the file out of snapshots was added to (or, for uninstall, removed from) `info/exclude`. */
  excluded: boolean;
  /** What the user must know for the hooks to run (e.g. Codex's hook trust), one line each. */
  notes?: string[];
}

/** One agent's hooks. */
export interface AgentHooks {
  /** The agent, as in `ckpt hook AGENT`. */
  agent: HookAgentName;
  /** The events ckpt installs, as the agent names them (for messages: `PreToolUse/PostToolUse`). */
  events: readonly string[];
  /** Reads the hook's stdin, never throwing. */
  parse(stdin: string): ParsedHook;
  /** What the hook prints on stdout after recording (some agents read JSON there); `''` for nothing. */
  reply(parsed: ParsedHook): string;
  /** The command line the agent runs for ckpt's hook (through a shell). */
  command(ckptBin: string, nodeBin?: string): string;
  /**
   * Adds ckpt's hooks to the agent's settings, keeping everything else.
   *
   * @throws CkptError `AGENT_SETTINGS_INVALID` (the file is not what the agent
   *   reads; nothing changed), `FS_FAILED`, `NOT_A_REPO` (project install outside a repository).
   */
  install(dir: string, command: string, opts?: HookInstallOptions): Promise<HookInstallResult>;
  /**
   * Removes exactly what `install` added.
   *
   * @throws CkptError `AGENT_SETTINGS_INVALID`, `FS_FAILED`, `NOT_A_REPO`.
   */
  uninstall(dir: string, opts?: HookInstallOptions): Promise<HookInstallResult>;
}

/**
 * How long a hook waits to be served (group commit, snapshot/queue.ts) before
 * giving up, in ms: well inside the 30 s timeout `hooks install` gives each
 * hook, so the agent never kills the hook first. `CKPT_HOOK_WAIT` (a duration:
 * `5s`, `20s`) overrides it.
 */
export const HOOK_WAIT_MS = 20_000;

/** Largest hook payload read, in bytes; a larger one is drained and not used (logged). */
export const HOOK_INPUT_MAX_BYTES = 256 * 1024 * 1024;

/** The hook's wait budget in ms: {@link HOOK_WAIT_MS}, or `CKPT_HOOK_WAIT` when it is a valid duration. */
export function hookWaitMs(env: NodeJS.ProcessEnv = process.env): { waitMs: number; problem: string | null } {
  const text = env.CKPT_HOOK_WAIT;
  if (!text) return { waitMs: HOOK_WAIT_MS, problem: null };
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(text);
  if (!m) return { waitMs: HOOK_WAIT_MS, problem: `CKPT_HOOK_WAIT=${JSON.stringify(text)} is not a duration like 5s or 500ms: using ${HOOK_WAIT_MS / 1000}s` };
  return { waitMs: Number(m[1]) * (m[2] === 's' ? 1000 : 1), problem: null };
}

/**
 * Records the snapshot a parsed hook call asks for, named after the agent,
 * the tool and its target, with the tool-use id and, inside a race attempt,
 * its race trailers. Recorded even when the tree did not change, so every
 * tool call has its pair; parallel hooks share one snapshot (snapshot/queue.ts).
 *
 * @param fallbackCwd the directory when the payload names none (the hook's own cwd).
 * @param opts.waitMs how long to wait to be served (default {@link HOOK_WAIT_MS}).
 * @param opts.unlessAtTip when the chain's tip already is this call's step
 *   (its kind, naming its tool-use id), record nothing: a hook whose daemon
 *   took the step and died before it replied falls back here, and a second
 *   step would break the call's Pre/Post pair. Only the tip is looked at (a
 *   parallel hook's later step hides it: the pair then holds one step too
 *   many, nothing is lost).
 * @returns null when the call asks for no step, or when `unlessAtTip` found it recorded.
 * @throws CkptError `NOT_A_REPO`, `LOCKED` (not served within `waitMs`), `GIT_FAILED`, `FS_FAILED`.
 */
export async function recordHookStep(agent: string, parsed: ParsedHook, fallbackCwd: string, opts: { waitMs?: number; env?: NodeJS.ProcessEnv; unlessAtTip?: boolean } = {}): Promise<QueuedResult | null> {
  const step = parsed.step;
  if (!step) return null;
  const repo = await openRepo(parsed.cwd || fallbackCwd);
  if (opts.unlessAtTip && step.toolUseId) {
    const { readTip } = await import('../snapshot/tip.js');
    const { tip } = await readTip(repo);
    if (tip && tip.kind === step.kind && tip.toolUseIds.includes(step.toolUseId)) return null;
  }
  // Loaded here: the hook's state-only events (agents/state.ts) never load the snapshot core.
  const { takeSnapshotQueued } = await import('../snapshot/queue.js');
  return takeSnapshotQueued(
    repo,
    {
      kind: step.kind,
      force: true,
      agent,
      tool: step.tool,
      ...(step.target ? { target: relativeTarget(step.target, repo.worktree) } : {}),
      ...(step.toolUseId ? { toolUseId: step.toolUseId } : {}),
      // Checked as the daemon checks them (snapshot/race-trailers.ts): a value that is not a race id or an attempt's
      // name would write made-up trailers into the step's message. The step is recorded without them (the hook's
      // caller logs why, hookRaceTrailers' problem): a missing race name loses no bytes, a missing step would.
      extra: hookRaceTrailers(opts.env ?? process.env).extra,
    },
    { waitMs: opts.waitMs ?? HOOK_WAIT_MS },
  );
}

/** An absolute target inside the worktree, relative to it; anything else as it is. */
export function relativeTarget(target: string, worktree: string): string {
  if (!path.isAbsolute(target)) return target;
  const rel = path.relative(worktree, target);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? target : rel;
}

/**
 * The race trailers of a hook run inside a race attempt: `Race`, `Attempt`
 * and `Round` from the environment the race gives its agent (`CKPT_RACE_ID`,
 * `CKPT_ATTEMPT`, `CKPT_ROUND`); none outside a race.
 */
export function raceTrailers(env: NodeJS.ProcessEnv): Record<string, string> {
  const race = env.CKPT_RACE_ID;
  const attempt = env.CKPT_ATTEMPT;
  if (!race || !attempt) return {};
  const out: Record<string, string> = { [TRAILER.race]: race, [TRAILER.attempt]: attempt };
  if (env.CKPT_ROUND && /^[1-9][0-9]?$/.test(env.CKPT_ROUND)) out[TRAILER.round] = env.CKPT_ROUND;
  return out;
}

/**
 * The race trailers of a hook ({@link raceTrailers}), validated as the
 * daemon validates a request's (snapshot/race-trailers.ts `requestTrailers`):
 * `CKPT_RACE_ID` must be a race id and `CKPT_ATTEMPT` an attempt's name, so
 * neither can carry a newline and a trailer of its own (`x\nKind: manual`).
 *
 * @returns `extra`: the trailers, none when they are not valid; `problem`:
 *   why they were dropped (for hook.log), or null.
 */
export function hookRaceTrailers(env: NodeJS.ProcessEnv): { extra: Record<string, string>; problem: string | null } {
  const checked = requestTrailers(raceTrailers(env));
  if ('error' in checked) return { extra: {}, problem: `CKPT_RACE_ID or CKPT_ATTEMPT is not valid (${checked.error}): the step is recorded without its race trailers` };
  return { extra: checked.extra ?? {}, problem: null };
}

/**
 * The short "what" of a tool call from its input: the first string among
 * `keys` that names a file (relative to the worktree when inside it), else
 * the command (`command`, `cmd`), shortened to 80 characters.
 *
 * @param fileKeys the input keys naming a file, in the agent's own words.
 */
export function toolTarget(toolInput: Record<string, unknown>, worktree: string | null, fileKeys: readonly string[] = ['file_path', 'notebook_path', 'path']): string | null {
  for (const key of fileKeys) {
    const v = toolInput[key];
    if (typeof v === 'string' && v) return worktree ? relativeTarget(v, worktree) : v;
  }
  for (const key of ['command', 'cmd']) {
    const cmd = toolInput[key];
    if (typeof cmd === 'string' && cmd) return shorten(cmd);
    if (Array.isArray(cmd) && cmd.every((c) => typeof c === 'string')) return shorten(cmd.join(' '));
  }
  return null;
}

/** `s` cut to 80 characters (79 and an ellipsis). */
export function shorten(s: string): string {
  const one = s.replace(/\s*\n\s*/g, ' ⏎ ');
  return one.length > 80 ? `${one.slice(0, 79)}…` : one;
}

/** A hook payload as a JSON object, or the problem with it. Never throws. */
export function parsePayload(text: string): { raw: Record<string, unknown> | null; problems: string[] } {
  if (text.trim() === '') return { raw: null, problems: ['stdin was empty'] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { raw: null, problems: [`stdin is not JSON (${(err as Error).message}); ${text.length} chars starting ${JSON.stringify(text.slice(0, 40))}`] };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    return { raw: null, problems: [`stdin is ${what}, not a JSON object`] };
  }
  return { raw: parsed as Record<string, unknown>, problems: [] };
}

/**
 * The string fields `keys` of a payload; a field of another type is left out
 * with a problem line, a relative `cwd` too.
 */
export function stringFields<K extends string>(raw: Record<string, unknown>, keys: readonly K[], problems: string[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v === 'string') out[key] = v;
    else problems.push(`${key} is ${v === null ? 'null' : typeof v}, not a string: ignored`);
  }
  const cwd = (out as Record<string, string | undefined>).cwd;
  if (cwd !== undefined && !path.isAbsolute(cwd)) {
    problems.push(`cwd ${JSON.stringify(cwd)} is not an absolute path: ignored`);
    delete (out as Record<string, string | undefined>).cwd;
  }
  return out;
}

/** A payload's object field `key` (`tool_input`), or null with a problem line when it is something else. */
export function objectField(raw: Record<string, unknown>, key: string, problems: string[]): Record<string, unknown> | null {
  const v = raw[key];
  if (v === undefined) return null;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  problems.push(`${key} is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}, not an object: ignored`);
  return null;
}

/**
 * The command line an agent runs for its hook (through a shell): the tiny
 * hook entry (`node …/bin/ckpt-hook.cjs AGENT`, hook/main.ts) beside the real
 * file of `ckptBin` (a bin symlink is followed), or `node ckptBin hook AGENT`
 * when there is none there. `NODE_EXTRA_CA_CERTS` is cleared for it: Node
 * parses every certificate of that file at start-up (45 ms of a 150 ms budget
 * with Debian's bundle, benchmarks/results.md) and the hook makes no TLS connection.
 */
export function hookCommandLine(agent: string, ckptBin: string, nodeBin = process.execPath): string {
  const entry = hookEntryBeside(ckptBin);
  return `NODE_EXTRA_CA_CERTS= ${shellQuote(nodeBin)} ${entry ? `${shellQuote(entry)} ${agent}` : `${shellQuote(ckptBin)} hook ${agent}`}`;
}

/** The hook entry's bin (`ckpt-hook.cjs`) beside the real file of `ckptBin`, or null when there is none. */
export function hookEntryBeside(ckptBin: string): string | null {
  try {
    const entry = path.join(path.dirname(realpathSync(ckptBin)), 'ckpt-hook.cjs');
    return existsSync(entry) ? entry : null;
  } catch {
    return null;
  }
}

/**
 * Whether `command` is ckpt's hook command line for `agent` (any install
 * path): `… ckpt-hook.cjs AGENT` ({@link hookCommandLine}), or `… ckpt hook
 * AGENT` / `… ckpt.js hook AGENT` as installs made before the hook entry
 * wrote it (so uninstall and reinstall find those too).
 */
export function isCkptHookCommand(command: unknown, agent: string): boolean {
  if (typeof command !== 'string') return false;
  return new RegExp(`(^|[\\s/'"])((ckpt|ckpt\\.js)['"]? hook|ckpt-hook\\.c?js['"]?) ${agent}$`).test(command);
}

/** `s` quoted for a POSIX shell when it needs to be. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
