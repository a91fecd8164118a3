/**
 * Agent states (agents/state.ts) and `ckpt agents`: the state machine, the
 * state file written by real hook processes, stale states of dead agents,
 * `hooks install|uninstall claude` with the state events, and `ckpt agents
 * [--watch] [--json]` over several worktrees.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRepo } from '../src/index.js';
import { agentStatus, agentStatusText, nextState, processStart, readAgentState, type AgentEvent, type AgentState } from '../src/agents/state.js';
import { parseClaudeHook } from '../src/agents/claude.js';
import { CLI, git, makeRepo, tempDir, write } from './support/repo.js';
import { runCli, type CliResult } from './support/cli.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const ckpt = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult => runCli(cwd, args, { env: { NO_COLOR: '1', ...env } });

/** Runs the installed hook command as Claude Code does (`sh -c COMMAND`, JSON on stdin): its parent is the agent, here this test process. */
function hookViaShell(dir: string, payload: Record<string, unknown>, command = `${process.execPath} ${CLI} hook claude`): number {
  const r = spawnSync('sh', ['-c', command], { cwd: dir, input: JSON.stringify({ cwd: dir, session_id: 'sess-1', ...payload }), encoding: 'utf8', timeout: 60_000 });
  return r.status ?? -1;
}

/** A long-lived process standing in for an agent (killed at the end of the test). */
function fakeAgent(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

async function waitFor<T>(what: string, fn: () => T | null | undefined | false, boundMs = 30_000): Promise<T> {
  const until = Date.now() + boundMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${boundMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const me = { pid: process.pid, start: processStart(process.pid) };
const ev = (kind: AgentEvent['kind'], more: Partial<AgentEvent> = {}): AgentEvent => ({ agent: 'claude', kind, sessionId: 's1', ...more });

describe('agent state machine', () => {
  it('a turn: prompt, tool, permission wait (keeping its first time), answered, reply ended, session ended', () => {
    const tip = (): string => 'tip0';
    let s = nextState(null, ev('prompt', { at: 1000 }), me, tip, null);
    expect(s).toMatchObject({ activity: 'turn', sessionStartedAt: 1000, baseSnapshot: 'tip0', pid: process.pid });
    expect(agentStatus(s)).toBe('running');
    s = nextState(s, ev('tool', { tool: 'Bash', target: 'npm test', toolUseId: 't1', at: 2000 }), me, () => 'other', null);
    expect(agentStatusText(s)).toBe('running Bash npm test');
    expect(s.baseSnapshot).toBe('tip0'); // read once, when the session began
    s = nextState(s, ev('waiting', { reason: 'permission', tool: 'Bash', at: 3000 }), me, tip, null);
    s = nextState(s, ev('waiting', { reason: 'permission', message: 'Claude needs your permission to use Bash', at: 4000 }), me, tip, null);
    expect(s).toMatchObject({ activity: 'waiting', waitingSince: 3000, reason: 'permission', tool: 'Bash', toolUseId: 't1' });
    expect(agentStatusText(s, 'waiting', () => 'T')).toBe('waiting for input (permission: Bash) since T');
    // A parallel call ending does not end the wait; this call's end does.
    expect(nextState(s, ev('tool-done', { tool: 'Read', toolUseId: 't2' }), me, tip, null).activity).toBe('waiting');
    s = nextState(s, ev('tool-done', { tool: 'Bash', toolUseId: 't1', at: 5000 }), me, tip, null);
    expect(s).toMatchObject({ activity: 'turn', waitingSince: null, tool: null });
    s = nextState(s, ev('turn-end', { at: 6000 }), me, tip, null);
    expect(agentStatus(s)).toBe('idle');
    s = nextState(s, ev('session-end', { at: 7000 }), me, tip, null);
    expect(agentStatus(s)).toBe('finished');
    // The next session starts afresh, with its own base.
    const s2 = nextState(s, ev('prompt', { sessionId: 's2', at: 8000 }), me, () => 'tip1', null);
    expect(s2).toMatchObject({ sessionId: 's2', sessionStartedAt: 8000, baseSnapshot: 'tip1', activity: 'turn' });
  });

  it("another session's end never hides a live session", () => {
    const live = nextState(null, ev('tool', { tool: 'Edit' }), me, () => null, null);
    const other = nextState(live, ev('session-end', { sessionId: 'other' }), me, () => null, null);
    expect(other).toBe(live);
  });

  it('stale: the agent process is gone, or its pid is another process now; finished stays finished', async () => {
    const agent = fakeAgent();
    await waitFor('the fake agent to start', () => processStart(agent.pid!));
    const proc = { pid: agent.pid!, start: processStart(agent.pid!) };
    const s = nextState(null, ev('waiting', { reason: 'input' }), proc, () => null, null);
    expect(agentStatus(s)).toBe('waiting');
    // Same pid, other start time: a reused pid is not the agent.
    expect(agentStatus({ ...s, pidStart: String(Number(proc.start) - 1) })).toBe('stale');
    agent.kill('SIGKILL');
    await waitFor('the fake agent to be gone', () => processStart(agent.pid!) === null);
    expect(agentStatus(s)).toBe('stale');
    expect(agentStatusText(s)).toMatch(/^stale \(was waiting for input; its process \d+ is gone\)$/);
    expect(agentStatus({ ...s, activity: 'finished' } as AgentState)).toBe('finished');
  });

  it('stale: an agent that ended but was not reaped yet (a zombie) is gone too', async () => {
    // sh starts the "agent" in the background, prints its pid, then becomes a sleep that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    let out = '';
    parent.stdout!.on('data', (c) => (out += c));
    const pid = await waitFor('the pid', () => (/^\d+\n/.test(out) ? Number(out.trim()) : null));
    const s = nextState(null, ev('prompt'), { pid, start: processStart(pid) }, () => null, null);
    await waitFor('the agent to end', () => /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')));
    expect(processStart(pid)).not.toBeNull(); // still listed by the kernel
    expect(agentStatus(s)).toBe('stale');
  });

  it("Claude Code's events map to states; events that say nothing map to none", () => {
    const state = (p: Record<string, unknown>) => parseClaudeHook(JSON.stringify(p)).state;
    expect(state({ hook_event_name: 'UserPromptSubmit', session_id: 'x' })).toEqual({ state: 'prompt' });
    expect(state({ hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: '/w/src/a.ts' }, tool_use_id: 't' })).toEqual({ state: 'tool', tool: 'Write' });
    expect(state({ hook_event_name: 'PostToolUseFailure', tool_name: 'Bash' })).toEqual({ state: 'tool-done', tool: 'Bash' });
    expect(state({ hook_event_name: 'PermissionRequest', tool_name: 'Bash' })).toMatchObject({ state: 'waiting', reason: 'permission', tool: 'Bash' });
    expect(state({ hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' })).toEqual({ state: 'waiting', reason: 'permission', detail: 'Claude needs your permission to use Bash' });
    expect(state({ hook_event_name: 'Notification', notification_type: 'idle_prompt', message: 'Claude is waiting for your input' })).toMatchObject({ state: 'waiting', reason: 'input' });
    expect(state({ hook_event_name: 'Notification', notification_type: 'auth_success' })).toBeNull();
    expect(state({ hook_event_name: 'Stop' })).toEqual({ state: 'turn-end' });
    expect(state({ hook_event_name: 'SessionEnd' })).toEqual({ state: 'session-end' });
    expect(state({ hook_event_name: 'SubagentStop' })).toBeNull();
    expect(state({})).toBeNull();
  });
});

describe('state through the hook', () => {
  it('`ckpt hook claude` records each event in agent.json (the agent: the process past the shell); state-only events take no snapshot', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    expect(hookViaShell(dir, { hook_event_name: 'UserPromptSubmit', prompt: 'go' })).toBe(0);
    expect(readAgentState(repo)).toMatchObject({ agent: 'claude', sessionId: 'sess-1', activity: 'turn', pid: process.pid, pidStart: processStart(process.pid) });
    expect(JSON.parse(ckpt(dir, ['log', '--json']).stdout).steps ?? []).toEqual([]); // no snapshot for a state-only event
    expect(hookViaShell(dir, { hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'make' }, tool_use_id: 't1' })).toBe(0);
    expect(readAgentState(repo)).toMatchObject({ activity: 'tool', tool: 'Bash', target: 'make' });
    expect(JSON.parse(ckpt(dir, ['log', '--json']).stdout).steps).toHaveLength(1); // the tool events still snapshot
    expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'make' } })).toBe(0);
    const waiting = readAgentState(repo)!;
    expect(waiting).toMatchObject({ activity: 'waiting', reason: 'permission', tool: 'Bash' });
    expect(hookViaShell(dir, { hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' })).toBe(0);
    expect(readAgentState(repo)!.waitingSince).toBe(waiting.waitingSince);
    expect(hookViaShell(dir, { hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'make' }, tool_use_id: 't1' })).toBe(0);
    expect(readAgentState(repo)).toMatchObject({ activity: 'turn', waitingSince: null });
    expect(hookViaShell(dir, { hook_event_name: 'Stop' })).toBe(0);
    expect(readAgentState(repo)!.activity).toBe('idle');
    expect(hookViaShell(dir, { hook_event_name: 'SessionEnd', reason: 'other' })).toBe(0);
    expect(readAgentState(repo)!.activity).toBe('finished');
    expect(fs.existsSync(path.join(repo.commonDir, 'ckpt', 'hook.log'))).toBe(false);
    // The file is replaced whole (write-file-atomic): no temp file stays beside it.
    expect(fs.readdirSync(repo.stateDir).filter((f) => f.startsWith('agent.json'))).toEqual(['agent.json']);
  });

  it("every agent's hook records its state the same way: Codex's PermissionRequest through `ckpt hook codex`", async () => {
    const dir = makeRepo();
    const r = spawnSync(process.execPath, [CLI, 'hook', 'codex'], { cwd: dir, input: JSON.stringify({ hook_event_name: 'PermissionRequest', cwd: dir, session_id: 'cx', tool_name: 'exec_command' }), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(readAgentState(await openRepo(dir))).toMatchObject({ agent: 'codex', sessionId: 'cx', activity: 'waiting', reason: 'permission', tool: 'exec_command', pid: process.pid });
  });

  const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
  it.skipIf(!canUnshare)('an agent in a PID namespace of its own (as race attempts run): live while it runs, seen from outside through NSpid; stale once it is gone', async () => {
    const dir = makeRepo();
    const stop = path.join(tempDir(), 'stop');
    const payload = JSON.stringify({ hook_event_name: 'PermissionRequest', cwd: dir, session_id: 'ns', tool_name: 'Bash' });
    // The shell is pid 1 of the namespace and the hook's parent: the "agent".
    const script = `printf %s "$P" | ${process.execPath} ${CLI} hook claude; while [ ! -e "$STOP" ]; do sleep 0.05; done`;
    const agent = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', script], { cwd: dir, stdio: 'ignore', env: { ...process.env, P: payload, STOP: stop } });
    children.push(agent);
    const repo = await openRepo(dir);
    const s = await waitFor('the state', () => readAgentState(repo));
    expect(s).toMatchObject({ activity: 'waiting', pid: 1 });
    expect(s.pidNs).not.toBe(fs.readlinkSync('/proc/self/ns/pid'));
    expect(agentStatus(s)).toBe('waiting'); // pid 1 there is not pid 1 here
    fs.writeFileSync(stop, '');
    await new Promise((r) => agent.on('exit', r));
    await waitFor('the state to go stale', () => agentStatus(s) === 'stale');
  });

  it('hooks install claude adds the state events, uninstall removes exactly them; the installed command records a state', async () => {
    const dir = makeRepo();
    const file = path.join(dir, '.claude', 'settings.local.json');
    const mine = { permissions: { allow: ['Bash(ls)'] }, hooks: { Notification: [{ hooks: [{ type: 'command', command: 'my-notifier' }] }], Stop: [{ hooks: [{ type: 'command', command: 'my-stop' }] }] } };
    write(dir, { '.claude/settings.local.json': JSON.stringify(mine, null, 2) + '\n' });
    const before = fs.readFileSync(file);
    expect(ckpt(dir, ['hooks', 'install', 'claude']).code).toBe(0);
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(Object.keys(s.hooks).sort()).toEqual(['Notification', 'PermissionRequest', 'PostToolUse', 'PreToolUse', 'SessionEnd', 'Stop', 'UserPromptSubmit']);
    expect(s.hooks.Notification).toHaveLength(2);
    expect(s.hooks.Notification[0].hooks[0].command).toBe('my-notifier');
    const ours = s.hooks.UserPromptSubmit[0];
    expect(ours.matcher).toBeUndefined();
    expect(ours.hooks[0].command).toMatch(/bin\/ckpt-hook\.cjs claude$/);
    expect(s.hooks.PreToolUse[0].matcher).toBe('Bash|Write|Edit|MultiEdit|NotebookEdit');
    expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Write' }, ours.hooks[0].command)).toBe(0);
    expect(readAgentState(await openRepo(dir))).toMatchObject({ activity: 'waiting', tool: 'Write' });
    expect(JSON.parse(ckpt(dir, ['hooks', 'install', 'claude', '--json']).stdout).changed).toBe(false);
    expect(ckpt(dir, ['hooks', 'uninstall', 'claude']).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(mine);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});

describe('ckpt agents', () => {
  it('--json: every worktree (a race attempt included) with its agent, state, last step and files changed since the session began, newest first; stale once the agent is gone', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const other = path.join(tempDir(), 'two');
    git(dir, 'worktree', 'add', '-q', '-b', 'two', other);
    const attempt = path.join(tempDir(), 'att');
    git(dir, 'worktree', 'add', '-q', '-b', 'ckpt/race/r1/claude', attempt);
    expect(ckpt(dir, ['snap', '-m', 'before the session']).code).toBe(0);
    // The main worktree: a session that edited two files, then asks for permission.
    expect(hookViaShell(dir, { hook_event_name: 'UserPromptSubmit' })).toBe(0);
    expect(hookViaShell(dir, { hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(dir, 'a.txt') }, tool_use_id: 'w1' })).toBe(0);
    write(dir, { 'a.txt': 'A\n', 'new.txt': 'n\n' });
    expect(hookViaShell(dir, { hook_event_name: 'PostToolUse', tool_name: 'Write', tool_input: { file_path: path.join(dir, 'a.txt') }, tool_use_id: 'w1' })).toBe(0);
    // The attempt: an agent that is gone (a process that exited).
    const agent = fakeAgent();
    await waitFor('the fake agent to start', () => processStart(agent.pid!));
    const { recordAgentEvent } = await import('../src/agents/state.js');
    await recordAgentEvent(attempt, { agent: 'codex', kind: 'tool', tool: 'exec_command', sessionId: 'c1', pid: agent.pid! });
    await new Promise((r) => setTimeout(r, 20));
    expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'rm -rf build' } })).toBe(0);

    let rows = JSON.parse(ckpt(dir, ['agents', '--json']).stdout).agents as any[];
    expect(rows.map((r) => r.worktree)).toEqual([dir, attempt, other]); // newest activity first, the idle worktree last
    expect(rows[0]).toMatchObject({ current: true, agent: 'claude', status: 'waiting', changed: 2, lastStep: { step: 3, kind: 'after', tool: 'Write', target: 'a.txt' } });
    expect(rows[0].statusText).toMatch(/^waiting for input \(permission: Bash\) since \d\d:\d\d:\d\d$/);
    expect(rows[0].changedPaths).toEqual([{ status: 'M', path: 'a.txt' }, { status: 'A', path: 'new.txt' }]);
    expect(rows[1]).toMatchObject({ agent: 'codex', status: 'running', statusText: 'running exec_command', race: { id: 'r1', attempt: 'claude' }, branch: 'ckpt/race/r1/claude' });
    expect(rows[2]).toMatchObject({ agent: null, status: 'none', lastStep: null, changed: null });
    agent.kill('SIGKILL');
    await waitFor('the fake agent to be gone', () => processStart(agent.pid!) === null);
    rows = JSON.parse(ckpt(dir, ['agents', '--json']).stdout).agents;
    expect(rows.find((r) => r.worktree === attempt)).toMatchObject({ status: 'stale' });
    // The human table quotes names: a worktree's control bytes never reach the terminal.
    const text = ckpt(dir, ['agents']).stdout;
    expect(text).toContain('waiting for input (permission: Bash)');
    expect(text).toMatch(/stale \(was running exec_command; its process \d+ is gone\)/);
  });

  it('--watch: redraws when a state changes and rings the bell when an agent starts waiting (--no-notify: no bell)', async () => {
    const dir = makeRepo();
    expect(hookViaShell(dir, { hook_event_name: 'UserPromptSubmit' })).toBe(0);
    const run = (args: string[]): { child: ChildProcess; out: () => string } => {
      const child = spawn(process.execPath, [CLI, 'agents', '--watch', '--interval', '100ms', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', PATH: '/usr/bin:/bin' } });
      children.push(child);
      let text = '';
      child.stdout!.on('data', (c) => (text += c));
      return { child, out: () => text };
    };
    const w = run([]);
    const quiet = run(['--no-notify']);
    await waitFor('the first drawing', () => w.out().includes('running') && quiet.out().includes('running'));
    expect(w.out()).not.toContain('\x07');
    expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'ls' } })).toBe(0);
    await waitFor('the redraw with the wait and the bell', () => w.out().includes('\x07') && w.out().includes('waiting for input'));
    await waitFor('the quiet redraw', () => quiet.out().includes('waiting for input'));
    const exited = (c: ChildProcess): Promise<number | null> => new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.on('exit', (code) => r(code))));
    w.child.kill('SIGINT');
    quiet.child.kill('SIGINT');
    expect(await exited(w.child)).toBe(0);
    expect(await exited(quiet.child)).toBe(0);
    expect(w.out().split('\x07')).toHaveLength(2); // one bell: one wait began
    expect(quiet.out()).not.toContain('\x07');
    // Each redraw is a whole table: the first without the wait, a later one with it.
    expect(w.out().indexOf('running')).toBeLessThan(w.out().indexOf('waiting for input'));
  });
});

describe('ckpt agents --watch notifications', () => {
  it('a desktop notification through notify-send where it exists; notify.bell / notify.desktop false in .ckpt/config.json turn each off', async () => {
    const bin = tempDir();
    const calls = path.join(bin, 'calls');
    fs.writeFileSync(path.join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${calls}'\n`, { mode: 0o755 });
    const watch = async (dir: string): Promise<string> => {
      const child = spawn(process.execPath, [CLI, 'agents', '--watch', '--interval', '100ms'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', PATH: `${bin}:/usr/bin:/bin` } });
      children.push(child);
      let text = '';
      child.stdout!.on('data', (c) => (text += c));
      await waitFor('the first drawing', () => text.includes('running'));
      expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'ls' } })).toBe(0);
      await waitFor('the redraw with the wait', () => text.includes('waiting for input'));
      child.kill('SIGINT');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('exit', r)));
      return text;
    };
    // A worktree whose name is markup: the notification's body shows it as text.
    const dir = path.join(tempDir(), 'w<b>&');
    fs.mkdirSync(dir);
    git(dir, 'init', '-q');
    expect(hookViaShell(dir, { hook_event_name: 'UserPromptSubmit' })).toBe(0);
    const out = await watch(dir);
    expect(out).toContain('\x07');
    const sent = await waitFor('the notification', () => fs.existsSync(calls) && fs.readFileSync(calls, 'utf8'));
    const lines = sent.split('\n');
    expect(lines.slice(0, 2)).toEqual(['--app-name=ckpt', 'claude is waiting for input']);
    expect(lines[2]!.startsWith(`${path.dirname(dir)}/w&lt;b&gt;&amp;: waiting for input (permission: Bash) since `)).toBe(true);
    fs.rmSync(calls);
    // Opted out in the config: neither the bell nor the notification.
    const quiet = makeRepo({ '.ckpt/config.json': JSON.stringify({ notify: { bell: false, desktop: false } }) });
    expect(hookViaShell(quiet, { hook_event_name: 'UserPromptSubmit' })).toBe(0);
    const text = await watch(quiet);
    expect(text).not.toContain('\x07');
    expect(fs.existsSync(calls)).toBe(false);
  });
});

describe('agent states in the race progress lines', () => {
  it('refreshLive reads each running attempt\'s state (not one older than the attempt); renderLive shows it before the last line', async () => {
    const { refreshLive } = await import('../src/race/progress.js');
    const { renderLive } = await import('../src/cli/race-table.js');
    const dir = makeRepo();
    const repo = await openRepo(dir);
    expect(hookViaShell(dir, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'make' } })).toBe(0);
    const attempt = { name: 'claude', state: 'running', startedAt: Date.now() - 60_000, endedAt: null, steps: 0, files: 0, error: null, lastLine: 'Bash make', agentState: undefined } as any;
    const race = { attempts: [attempt], base: { tree: '' } } as any;
    await refreshLive(repo, race, { attempts: [{ dir }] } as any);
    expect(attempt.agentState).toMatchObject({ status: 'waiting', waitingSince: expect.any(Number) });
    const line = renderLive(race, false, 200);
    expect(line).toMatch(/^claude\s+running .* waiting for input \(permission: Bash\) since \d\d:\d\d:\d\d · Bash make$/);
    // A state from before the attempt started (a previous run's) is not shown.
    attempt.startedAt = Date.now() + 60_000;
    await refreshLive(repo, race, { attempts: [{ dir }] } as any);
    expect(attempt.agentState).toBeNull();
    expect(renderLive(race, false, 200)).not.toContain('waiting');
  });
});
