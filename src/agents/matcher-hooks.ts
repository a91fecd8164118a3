/**
 * The hooks document shape that Claude Code (`settings.json`), Codex CLI
 * (`hooks.json`) and Gemini CLI (`settings.json`) share:
 * `{"hooks": {"<Event>": [{"matcher"?: REGEX, "hooks": [{"type": "command",
 * "command": …, …}]}]}}`. Adding, finding and removing ckpt's entries in it,
 * and checking the shape before ckpt edits it, are written once here; what
 * differs between agents (the agent's name in ckpt's hook command, the events
 * hooked, the entry for each event and its per-agent fields such as Gemini's
 * `timeout` in ms or `name`) is a parameter.
 */
import { isCkptHookCommand } from './hooks.js';
import { isObject, kindOf } from './settings-file.js';

/** One hook of a matcher entry: `{"type": "command", "command": …}` plus the agent's own fields (`timeout`, `name`). */
export interface MatcherHook {
  type?: string;
  command?: string;
  name?: string;
  /** The agent's unit: seconds for Claude Code and Codex, ms for Gemini CLI. */
  timeout?: number;
}

/** One entry of an event's list: a tool-name matcher (none: every call) and its hooks. */
export interface MatcherEntry {
  matcher?: string;
  hooks?: MatcherHook[];
}

/** What one agent's ckpt entries are, for {@link addOurs}. */
export interface MatcherHooksSpec {
  /** The agent's name as it ends ckpt's hook command (`ckpt hook <agent>`, agents/hooks.ts isCkptHookCommand). */
  agent: string;
  /** The events ckpt hooks, in the order they are added. */
  events: readonly string[];
  /** ckpt's entries for `event` running `command` (fresh objects on every call). */
  entries: (event: string, command: string) => MatcherEntry[];
}

/**
 * Adds ckpt's entries to `doc` (in place) for each of `spec.events` that has
 * no hook running exactly `command` yet: older ckpt hooks of the agent in that
 * event are removed first (with matchers left empty by that), and ckpt's
 * entries are appended after the user's. Creates `hooks` and the event lists
 * as needed.
 *
 * @param doc a document {@link settingsProblem} found nothing wrong with.
 * @returns true when `doc` changed (installing twice changes nothing).
 */
export function addOurs(spec: MatcherHooksSpec, doc: Record<string, unknown>, command: string): boolean {
  const hooks = (doc.hooks ??= {}) as Record<string, MatcherEntry[]>;
  let changed = false;
  for (const event of spec.events) {
    const list = (hooks[event] ??= []);
    if (list.some((m) => m.hooks?.some((h) => h.command === command))) continue;
    for (const m of list) if (m.hooks) m.hooks = m.hooks.filter((h) => !isCkptHookCommand(h.command, spec.agent));
    hooks[event] = [...list.filter((m) => !m.hooks || m.hooks.length > 0), ...spec.entries(event, command)];
    changed = true;
  }
  return changed;
}

/**
 * Removes every ckpt hook of `agent` from `doc` (in place), in any event; in
 * an event where one was removed, the matchers left with no hooks go, and the
 * event's list when left empty; `hooks` goes when left empty. Events where
 * nothing was removed, and keys of `hooks` that are not lists, are kept as
 * they are.
 *
 * @returns true when any hook was removed.
 */
export function removeOurs(agent: string, doc: Record<string, unknown>): boolean {
  const hooks = doc.hooks as Record<string, MatcherEntry[]> | undefined;
  if (!isObject(hooks)) return false;
  let changed = false;
  for (const event of Object.keys(hooks)) {
    const list = hooks[event];
    if (!Array.isArray(list)) continue;
    let removed = false;
    for (const m of list) {
      if (!m.hooks) continue;
      const n = m.hooks.length;
      m.hooks = m.hooks.filter((h) => !isCkptHookCommand(h.command, agent));
      if (m.hooks.length !== n) removed = true;
    }
    if (!removed) continue;
    changed = true;
    hooks[event] = list.filter((m) => !m.hooks || m.hooks.length > 0);
    if (hooks[event]!.length === 0) delete hooks[event];
  }
  if (changed && Object.keys(hooks).length === 0) delete doc.hooks;
  return changed;
}

/** Whether `doc` holds a ckpt hook of `agent` in any event (tolerates any shape; never throws). */
export function hasOurs(agent: string, doc: Record<string, unknown>): boolean {
  const hooks = doc.hooks;
  if (!isObject(hooks)) return false;
  return Object.values(hooks).some((list) => Array.isArray(list) && list.some((m: MatcherEntry) => m?.hooks?.some((h) => isCkptHookCommand(h?.command, agent))));
}

/**
 * What is wrong with the shape of `doc` where ckpt edits it (its `hooks`),
 * or null: `doc` a JSON object; `hooks`, when present, an object whose values
 * are arrays of matcher objects, each with an optional string `matcher` and an
 * optional array `hooks` of objects. The message names the JSON path
 * (`hooks.PreToolUse[0].hooks`), for `AGENT_SETTINGS_INVALID`.
 *
 * @param notEvents keys of `hooks` that are settings, not event lists, and are
 *   not checked (Gemini CLI's `enabled`, `disabled`, `notifications`).
 */
export function settingsProblem(doc: unknown, notEvents: readonly string[] = []): string | null {
  if (!isObject(doc)) return `the file holds ${kindOf(doc)}, not a JSON object`;
  if (doc.hooks === undefined) return null;
  if (!isObject(doc.hooks)) return `"hooks" is ${kindOf(doc.hooks)}, not an object of events`;
  for (const [event, list] of Object.entries(doc.hooks)) {
    if (notEvents.includes(event)) continue;
    if (!Array.isArray(list)) return `hooks.${event} is ${kindOf(list)}, not an array of matchers`;
    for (const [i, m] of list.entries()) {
      if (!isObject(m)) return `hooks.${event}[${i}] is ${kindOf(m)}, not a matcher object`;
      if (m.matcher !== undefined && typeof m.matcher !== 'string') return `hooks.${event}[${i}].matcher is ${kindOf(m.matcher)}, not a string`;
      if (m.hooks === undefined) continue;
      if (!Array.isArray(m.hooks)) return `hooks.${event}[${i}].hooks is ${kindOf(m.hooks)}, not an array`;
      for (const [j, h] of m.hooks.entries()) if (!isObject(h)) return `hooks.${event}[${i}].hooks[${j}] is ${kindOf(h)}, not a hook object`;
    }
  }
  return null;
}
