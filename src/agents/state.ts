/**
 * Who is waiting for you: the state of the agent working in a worktree, as
 * its hooks report it, agent-independent. Every agent integration turns its
 * own hook payloads into {@link AgentEvent}s and calls
 * {@link recordAgentEvent}; `ckpt agents`, the race's progress lines and the
 * viewer read the result with {@link readAgentState} and
 * {@link agentStatus}.
 *
 * The state lives in one small file per worktree,
 * `<common>/ckpt/wt/<id>/agent.json` (beside the private index), replaced
 * atomically (write-file-atomic: temp file + rename) at each event, so any
 * ckpt process reads a whole state or none. It names the agent's process
 * (pid and start time, read from `/proc`): a state whose process is gone, or
 * is another process now holding the same pid, is shown as stale, never as
 * live (docs/agents.md, "Who is waiting for you").
 *
 * ```
 * event (agent's hook)          activity after it
 * session-start                 idle
 * prompt      (prompt sent)     turn      "running"
 * tool        (tool about to)   tool      "running TOOL"
 * waiting     (permission, input request)  waiting  "waiting for input since T"
 * tool-done   (tool done)       turn      "running"
 * turn-end    (reply done)      idle
 * session-end                   finished
 * ```
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fsFailure } from '../core/errors.js';
import { processRunning } from '../core/process-alive.js';
import { readStoreRefFast } from '../git/loose.js';
import { openRepo, type Repo } from '../git/repo.js';
import { shadowObjectsDir } from '../git/shadow.js';
import { placePooled } from '../git/temp-pool.js';
import { relativeTarget, type HookState, type ParsedHook } from './hooks.js';

/** What the agent is doing, as last reported. */
export type AgentActivity = 'turn' | 'tool' | 'waiting' | 'idle' | 'finished';

/** What a hook reports (the agent-independent event; agents/hooks.ts {@link HookState}'s names). */
export type AgentEventKind = HookState['state'];

/** One event from an agent's hook, for {@link recordAgentEvent}. */
export interface AgentEvent {
  /** The agent's name as ckpt knows it: `claude`, `codex`, `gemini`, `opencode`, `cursor`. */
  agent: string;
  kind: AgentEventKind;
  /** The agent's own session id (Claude Code's `session_id`), when it gives one. */
  sessionId?: string | null;
  /** The tool (`tool`, `tool-done`, and `waiting` for a permission request). */
  tool?: string | null;
  /** The tool's file or command, short (see agents/claude.ts `hookTarget`). */
  target?: string | null;
  /** The tool call's id, when the agent gives one. */
  toolUseId?: string | null;
  /** Why it waits (`waiting`): `permission` (a tool needs approval) or `input` (a question, an idle prompt). */
  reason?: 'permission' | 'input' | null;
  /** The agent's own words for it (`Claude needs your permission to use Bash`). */
  message?: string | null;
  /** The agent's name for the event (`PermissionRequest`), kept for the record. */
  event?: string | null;
  /**
   * The agent's process. Default: the hook's parent, skipping the shells and
   * wrappers in between ({@link agentProcess}). An agent that calls ckpt from
   * inside itself (a plugin) passes its own pid.
   */
  pid?: number | null;
  /** When it happened, ms since the epoch (default: now). */
  at?: number;
  /** The race and attempt it belongs to (default: from `CKPT_RACE_ID` / `CKPT_ATTEMPT`). */
  race?: { id: string; attempt: string } | null;
}

/** A worktree's agent state as recorded (`agent.json`). Times are ms since the epoch. */
export interface AgentState {
  version: 1;
  agent: string;
  sessionId: string | null;
  /** The agent's process id, or null when unknown. */
  pid: number | null;
  /** That process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), or null when unknown. */
  pidStart: string | null;
  /**
   * The PID namespace `pid` is counted in (`/proc/self/ns/pid` of the recorder,
   * `pid:[4026531836]`), or null when unknown. A race attempt's agent runs in
   * a namespace of its own: a reader elsewhere finds it through `NSpid`.
   */
  pidNs?: string | null;
  activity: AgentActivity;
  /** The tool running or waiting for approval (activity `tool`, `waiting`), else null. */
  tool: string | null;
  target: string | null;
  toolUseId: string | null;
  /** Since when it waits (activity `waiting`), else null. */
  waitingSince: number | null;
  /** Why it waits: `permission` or `input` (activity `waiting`), else null. */
  reason: 'permission' | 'input' | null;
  /** The agent's message for the wait, else null. */
  message: string | null;
  /** The last event's kind and the agent's name for it. */
  lastEvent: AgentEventKind;
  lastEventName: string | null;
  /** When the last event was recorded. */
  at: number;
  /** When ckpt first saw this session. */
  sessionStartedAt: number;
  /** The worktree's chain tip (snapshot id) when ckpt first saw this session; null when it had none. */
  baseSnapshot: string | null;
  race: { id: string; attempt: string } | null;
}

/** What a reader makes of a state: live ones as recorded, a live one whose process is gone as stale. */
export type AgentStatus = 'running' | 'waiting' | 'idle' | 'finished' | 'stale';

/** The file of a worktree's agent state. */
export function agentStatePath(repo: Repo): string {
  return path.join(repo.stateDir, 'agent.json');
}

/**
 * Reads the worktree's agent state; null when there is none or the file is
 * unreadable or not a state (a reader never fails on it: it is a report, not
 * a record ckpt depends on).
 */
export function readAgentState(repo: Repo): AgentState | null {
  try {
    const s = JSON.parse(readFileSync(agentStatePath(repo), 'utf8')) as Partial<AgentState> | null;
    if (!s || s.version !== 1 || typeof s.agent !== 'string' || typeof s.activity !== 'string' || typeof s.at !== 'number') return null;
    return s as AgentState;
  } catch {
    return null;
  }
}

/**
 * Records one event of the agent working in the worktree of `where` (a
 * directory inside it, or the worktree itself), and returns the new state.
 * `ckpt hook AGENT` calls it for every agent through {@link recordHookState};
 * an integration that runs no hook command (a plugin inside the agent) calls
 * it itself. Fast: no snapshot, no git process on the usual layout.
 *
 * Rules (beyond the table at the top of this module): a wait keeps its
 * first time while it lasts; a `tool-done` or `tool` of another tool
 * call while one waits for approval (parallel calls) leaves it waiting; an
 * ending event (`turn-end`, `session-end`) of another session never replaces
 * a live session's state; the first event of a session records the chain's
 * tip, from which `ckpt agents` counts the files changed since.
 *
 * @throws CkptError `NOT_A_REPO` (and the other errors of `openRepo`), `FS_FAILED`
 *   when the file cannot be written.
 */
export async function recordAgentEvent(where: string | Repo, ev: AgentEvent, env: NodeJS.ProcessEnv = process.env): Promise<AgentState> {
  const repo = typeof where === 'string' ? await openRepo(where) : where;
  const prev = readAgentState(repo);
  const proc = ev.pid === undefined ? agentProcess() : ev.pid === null ? null : { pid: ev.pid, start: processStart(ev.pid) };
  if (ev.target) ev = { ...ev, target: relativeTarget(ev.target, repo.worktree) };
  const next = nextState(prev, ev, proc, () => readStoreRefFast(repo, repo.ref) ?? null, raceOf(ev, env));
  if (next === prev) return prev;
  await writeAgentState(repo, next);
  return next;
}

/**
 * Records the state a parsed hook call reports ({@link ParsedHook.state},
 * filled by each agent's parser, agents/hooks.ts): what `ckpt hook AGENT`
 * does for every event of every agent, before any snapshot. The tool's target
 * and call id come from the call's step when it has one.
 *
 * @param fallbackCwd the directory when the payload names none (the hook's own cwd).
 * @param opts.pid the agent's process when it is not the hook's parent (a relay records for a fenced agent).
 * @param opts.env the environment naming the race (`CKPT_RACE_ID`, `CKPT_ATTEMPT`; default process.env).
 * @param opts.repo the repository of that directory, when the caller has opened it already (the daemon: one discovery per hook, not two).
 * @returns the new state, or null when the call reports none.
 * @throws CkptError `NOT_A_REPO`, `FS_FAILED`.
 */
export async function recordHookState(agent: string, parsed: ParsedHook, fallbackCwd: string, opts: { pid?: number | null; env?: NodeJS.ProcessEnv; repo?: Repo } = {}): Promise<AgentState | null> {
  const st = parsed.state;
  if (!st) return null;
  return recordAgentEvent(opts.repo ?? (parsed.cwd || fallbackCwd), {
    ...(opts.pid !== undefined ? { pid: opts.pid } : {}),
    agent,
    kind: st.state,
    sessionId: parsed.sessionId,
    tool: st.tool ?? parsed.step?.tool ?? null,
    target: parsed.step?.target ?? null,
    toolUseId: parsed.step?.toolUseId ?? null,
    reason: st.state === 'waiting' ? st.reason ?? 'input' : null,
    message: st.detail ?? null,
    event: parsed.event,
  }, opts.env);
}

/**
 * The state after `ev` (pure: {@link recordAgentEvent} without the files).
 * Returns `prev` itself when the event changes nothing that is kept.
 *
 * @param tip the chain's tip, read only when a session starts.
 */
export function nextState(
  prev: AgentState | null,
  ev: AgentEvent,
  proc: { pid: number; start: string | null } | null,
  tip: () => string | null,
  race: { id: string; attempt: string } | null,
): AgentState {
  const at = ev.at ?? Date.now();
  const sessionId = ev.sessionId ?? null;
  const prevLive = prev !== null && agentStatus(prev) !== 'finished' && agentStatus(prev) !== 'stale';
  const sameSession =
    prev !== null &&
    prev.activity !== 'finished' &&
    prev.agent === ev.agent &&
    (sessionId === null || prev.sessionId === null || prev.sessionId === sessionId) &&
    (proc === null || prev.pid === null || (prev.pid === proc.pid && (prev.pidStart === null || proc.start === null || prev.pidStart === proc.start)));
  const ending = ev.kind === 'turn-end' || ev.kind === 'session-end';
  // Another session ending must not hide a live one (two agents in one worktree).
  if (!sameSession && prevLive && ending) return prev!;
  const base: AgentState = sameSession
    ? { ...prev! }
    : {
        version: 1,
        agent: ev.agent,
        sessionId,
        pid: proc?.pid ?? null,
        pidStart: proc?.start ?? null,
        pidNs: proc ? ownPidNs() : null,
        activity: 'idle',
        tool: null,
        target: null,
        toolUseId: null,
        waitingSince: null,
        reason: null,
        message: null,
        lastEvent: ev.kind,
        lastEventName: null,
        at,
        sessionStartedAt: at,
        baseSnapshot: tip(),
        race,
      };
  if (base.sessionId === null && sessionId !== null) base.sessionId = sessionId;
  if (base.pid === null && proc) {
    base.pid = proc.pid;
    base.pidStart = proc.start;
    base.pidNs = ownPidNs();
  }
  base.lastEvent = ev.kind;
  base.lastEventName = ev.event ?? null;
  base.at = at;
  const waiting = sameSession && prev!.activity === 'waiting';
  const otherCall = (): boolean => waiting && !!ev.toolUseId && !!prev!.toolUseId && ev.toolUseId !== prev!.toolUseId;
  const clearWait = (): void => {
    base.waitingSince = null;
    base.reason = null;
    base.message = null;
  };
  switch (ev.kind) {
    case 'session-start':
      if (!sameSession) base.activity = 'idle';
      break;
    case 'prompt':
      base.activity = 'turn';
      base.tool = base.target = base.toolUseId = null;
      clearWait();
      break;
    case 'tool':
      if (otherCall()) break;
      base.activity = 'tool';
      base.tool = ev.tool ?? null;
      base.target = ev.target ?? null;
      base.toolUseId = ev.toolUseId ?? null;
      clearWait();
      break;
    case 'tool-done':
      if (otherCall()) break;
      base.activity = 'turn';
      base.tool = base.target = base.toolUseId = null;
      clearWait();
      break;
    case 'waiting': {
      const sameTool = (ev.tool ?? null) === null || ev.tool === base.tool;
      base.waitingSince = waiting ? prev!.waitingSince ?? at : at;
      base.activity = 'waiting';
      base.reason = ev.reason ?? 'input';
      base.message = ev.message ?? null;
      if (ev.tool) base.tool = ev.tool;
      if (ev.target) base.target = ev.target;
      if (ev.toolUseId) base.toolUseId = ev.toolUseId;
      else if (!sameTool) base.toolUseId = null;
      break;
    }
    case 'turn-end':
      base.activity = 'idle';
      base.tool = base.target = base.toolUseId = null;
      clearWait();
      break;
    case 'session-end':
      base.activity = 'finished';
      base.tool = base.target = base.toolUseId = null;
      clearWait();
      break;
  }
  return base;
}

/**
 * What a state means now: `finished` as recorded; any other state whose
 * process is gone, or whose pid now belongs to a process started after it
 * (the pid was reused), is `stale`; else `running` (a turn or a tool),
 * `waiting` or `idle`. A state without a pid cannot be checked and is shown
 * as recorded.
 */
export function agentStatus(s: AgentState): AgentStatus {
  if (s.activity === 'finished') return 'finished';
  if (s.pid !== null && !processMatches(s.pid, s.pidStart, s.pidNs ?? null)) return 'stale';
  if (s.activity === 'waiting') return 'waiting';
  if (s.activity === 'idle') return 'idle';
  return 'running';
}

/**
 * The words for a state: `running`, `running Bash npm test`, `waiting for
 * input (permission: Bash) since 12:04:05`, `idle`, `finished`, `stale (was
 * running Bash)`. Names and commands in it are as recorded: the caller
 * quotes the whole text for printing.
 *
 * @param time how a time is written (default: the local time of day).
 */
export function agentStatusText(s: AgentState, status: AgentStatus = agentStatus(s), time: (ms: number) => string = clock): string {
  const doing = s.activity === 'tool' && s.tool ? `running ${s.tool}${s.target ? ` ${s.target}` : ''}` : null;
  switch (status) {
    case 'running':
      return doing ?? 'running';
    case 'waiting': {
      const why = s.reason === 'permission' ? `permission${s.tool ? `: ${s.tool}` : ''}` : 'input';
      return `waiting for input (${why}) since ${time(s.waitingSince ?? s.at)}`;
    }
    case 'idle':
      return 'idle';
    case 'finished':
      return 'finished';
    case 'stale': {
      const was = s.activity === 'waiting' ? 'waiting for input' : s.activity === 'idle' ? 'idle' : doing ?? 'running';
      return `stale (was ${was}; its process ${s.pid} is gone)`;
    }
  }
}

function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

async function writeAgentState(repo: Repo, s: AgentState): Promise<void> {
  const file = agentStatePath(repo);
  const text = JSON.stringify(s) + '\n';
  // In the daemon: a ready file of its pool renamed over the state, as an atomic write does, without creating one (git/temp-pool.ts).
  if (placePooled(shadowObjectsDir(repo), file, text, 0o644)) return;
  // Loaded here: most ckpt commands never write an agent state.
  const { default: writeFileAtomic } = await import('write-file-atomic');
  try {
    mkdirSync(repo.stateDir, { recursive: true });
    writeFileAtomic.sync(file, text, { fsync: false });
  } catch (err) {
    throw fsFailure(err, "write the agent's state", file);
  }
}

function raceOf(ev: AgentEvent, env: NodeJS.ProcessEnv): { id: string; attempt: string } | null {
  if (ev.race !== undefined) return ev.race;
  return env.CKPT_RACE_ID && env.CKPT_ATTEMPT ? { id: env.CKPT_RACE_ID, attempt: env.CKPT_ATTEMPT } : null;
}

/** Programs that stand between an agent and its hook (the shell it runs the command with, wrappers). */
const BETWEEN = /^(sh|bash|dash|zsh|ksh|mksh|fish|busybox|env|nice|nohup|setsid|stdbuf|timeout|time|npm|npx|npm exec.*|node_modules\/\.bin.*)$/;

/**
 * The agent process that ran this hook: the parent, or the first ancestor
 * that is not a shell or wrapper (`sh -c`, `env`, `npx`…), with its start
 * time (Linux `/proc`). Elsewhere: the parent, start time unknown.
 */
export function agentProcess(from: number = process.ppid): { pid: number; start: string | null } | null {
  let pid = from;
  for (let depth = 0; depth < 8; depth++) {
    const st = procStat(pid);
    if (!st) return depth === 0 && pid > 0 ? { pid, start: null } : null;
    // Past a shell to its parent, even pid 1 (an agent at the top of its own PID namespace).
    if (!BETWEEN.test(st.comm) || st.ppid < 1) return { pid, start: st.start };
    pid = st.ppid;
  }
  return { pid, start: processStart(pid) };
}

/** A process's start time (clock ticks since boot, as text), or null when it cannot be read. */
export function processStart(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/**
 * Whether `pid` (counted in PID namespace `ns`) runs and, when `start` is
 * known, is the process that started then. A pid of another namespace is
 * looked up by the namespace's link and the last `NSpid` entry of each
 * process (proc(5)); a namespace this process cannot see is taken as gone.
 */
function processMatches(pid: number, start: string | null, ns: string | null = null): boolean {
  if (ns !== null && hasProc() && ns !== ownPidNs()) {
    const outer = outerPid(pid, ns);
    return outer !== null && (start === null || procStat(outer)?.start === start);
  }
  return processRunning(pid, start);
}

/** This process's PID namespace (`pid:[…]`), or null without /proc. */
function ownPidNs(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** The pid, in this namespace, of the process that is `pid` in namespace `ns`; null when none is visible. */
function outerPid(pid: number, ns: string): number | null {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
      const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      const ids = m ? m[1]!.trim().split(/\s+/) : [];
      if (ids.at(-1) === String(pid)) return procStat(Number(name))?.gone ? null : Number(name);
    } catch {
      // gone, or not ours to read
    }
  }
  return null;
}

let procChecked: boolean | null = null;
function hasProc(): boolean {
  if (procChecked === null) {
    try {
      readlinkSync('/proc/self');
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

/** `/proc/<pid>/stat`: command name, parent, start time, and whether it has ended (a zombie, not yet reaped); null when there is no such process (or no /proc). */
function procStat(pid: number): { comm: string; ppid: number; start: string; gone: boolean } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // After the name: state (3), ppid (4), …, starttime (22): indexes 0, 1, 19 here.
    const start = fields[19];
    if (start === undefined) return null;
    return { comm, ppid: Number(fields[1]), start, gone: fields[0] === 'Z' || fields[0] === 'X' };
  } catch {
    return null;
  }
}
