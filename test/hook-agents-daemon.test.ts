/**
 * Every agent's hooks through the daemon: Codex, Gemini CLI, OpenCode and
 * Cursor sessions of documented payloads, fed through the command line `ckpt
 * hooks install AGENT` wrote (`sh -c`, as the agent runs it; OpenCode's from
 * its plugin file), once in a repository with a daemon running and once, the
 * same payloads and the same writes, in a twin repository with
 * CKPT_NO_DAEMON=1 (the direct path).
 *
 * What is shown: with the daemon every hook process loads nothing of ckpt's
 * but the hook entry (the module tracer) and the daemon counts every step
 * (`ckpt daemon status --json`); each step's tree is git's own view of the
 * worktree when it was taken; both paths give the same steps (kinds,
 * messages, tools, targets, tool-use ids, trees), the same agent state
 * (agent.json), the same hook.log lines and the same stdout, which is what
 * the agent reads (`{}` for Gemini CLI, nothing for the others). Then what the
 * daemon leaves to the direct path: an event it asks nothing of, a payload
 * that is not JSON, an unknown agent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { loadAgentHooks } from '../src/agents/hook-registry.js';
import { readAgentState } from '../src/agents/state.js';
import { ckptIn, startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { ckptModules, runTraced, type TracedRun } from './support/hook-run.js';
import { gitView, makeRepo, write } from './support/repo.js';

afterEach(() => stopTestDaemons());

type Agent = 'codex' | 'gemini' | 'opencode' | 'cursor';
type Payload = Record<string, unknown>;

/** One hook call of a session: its payload for the worktree `dir`, and what the tool wrote before it (the after's changes). */
interface Call {
  payload: (dir: string) => Payload;
  writes?: Record<string, string | null>;
}

const FILES = { 'README.md': '# app\n', 'old.txt': 'old\n', '.gitignore': 'secret.env\n' };

/** The installed hook command line of `agent` in `dir`, read from the file `ckpt hooks install AGENT` wrote. */
function installed(agent: Agent, dir: string): string {
  const r = ckptIn(dir, ['hooks', 'install', agent]);
  expect(r.code, r.stderr).toBe(0);
  const read = (rel: string): string => fs.readFileSync(path.join(dir, rel), 'utf8');
  switch (agent) {
    case 'codex':
      return JSON.parse(read('.codex/hooks.json')).hooks.PreToolUse[0].hooks[0].command;
    case 'gemini':
      return JSON.parse(read('.gemini/settings.json')).hooks.BeforeTool[0].hooks[0].command;
    case 'cursor':
      return JSON.parse(read('.cursor/hooks.json')).hooks.preToolUse[0].command;
    case 'opencode':
      return JSON.parse(/^const COMMAND = (".*");$/m.exec(read('.opencode/plugins/ckpt.js'))![1]!);
  }
}

/** The sessions, in each agent's documented payloads (agents/codex.ts, gemini.ts, opencode.ts, cursor.ts). */
const SESSIONS: Record<Agent, { calls: Call[]; steps: number; reply: string; from: 'worktree' | 'elsewhere'; env?: NodeJS.ProcessEnv }> = {
  codex: {
    steps: 4,
    reply: '',
    from: 'worktree',
    // A wait that is no duration: logged by both paths, each hook waits its default.
    env: { CKPT_HOOK_WAIT: 'soon' },
    calls: [
      { payload: (cwd) => ({ session_id: 'cx-1', cwd, hook_event_name: 'SessionStart', model: 'gpt-5-codex', source: 'startup' }) },
      { payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'UserPromptSubmit', model: 'gpt-5-codex', prompt: 'add notes, drop old.txt' }) },
      { payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'PreToolUse', model: 'gpt-5-codex', tool_name: 'apply_patch', tool_input: { command: '*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n' }, tool_use_id: 'call_1' }) },
      { writes: { 'notes.txt': 'hello\n' }, payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'PostToolUse', model: 'gpt-5-codex', tool_name: 'apply_patch', tool_input: { command: '*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n' }, tool_use_id: 'call_1', tool_response: 'Success. Updated the following files:\nA notes.txt\n' }) },
      { payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'PreToolUse', model: 'gpt-5-codex', tool_name: 'Bash', tool_input: { command: 'rm old.txt && echo built >> README.md' }, tool_use_id: 'call_2' }) },
      { writes: { 'old.txt': null, 'README.md': '# app\nbuilt\n' }, payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'PostToolUse', model: 'gpt-5-codex', tool_name: 'Bash', tool_input: { command: 'rm old.txt && echo built >> README.md' }, tool_use_id: 'call_2', tool_response: '' }) },
      { payload: (cwd) => ({ session_id: 'cx-1', turn_id: 't1', cwd, hook_event_name: 'Stop', model: 'gpt-5-codex', stop_hook_active: false, last_assistant_message: 'done' }) },
    ],
  },
  gemini: {
    steps: 4,
    reply: '{}',
    from: 'worktree',
    calls: [
      { payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'BeforeAgent', timestamp: '2026-12-02T02:00:00.000Z', prompt: 'add notes' }) },
      { payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'BeforeTool', timestamp: '2026-12-02T02:00:01.000Z', tool_name: 'write_file', tool_input: { file_path: path.join(cwd, 'notes.txt'), content: 'hello\n' } }) },
      { writes: { 'notes.txt': 'hello\n' }, payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'AfterTool', timestamp: '2026-12-02T02:00:02.000Z', tool_name: 'write_file', tool_input: { file_path: path.join(cwd, 'notes.txt'), content: 'hello\n' }, tool_response: { llmContent: 'Successfully created and wrote to new file', returnDisplay: 'notes.txt' } }) },
      { payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'Notification', timestamp: '2026-12-02T02:00:03.000Z', notification_type: 'ToolPermission', message: 'Tool run_shell_command requires confirmation', details: {} }) },
      { payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'BeforeTool', timestamp: '2026-12-02T02:00:04.000Z', tool_name: 'run_shell_command', tool_input: { command: 'rm old.txt', description: 'drop old.txt' } }) },
      { writes: { 'old.txt': null }, payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'AfterTool', timestamp: '2026-12-02T02:00:05.000Z', tool_name: 'run_shell_command', tool_input: { command: 'rm old.txt', description: 'drop old.txt' }, tool_response: { llmContent: '', returnDisplay: '' } }) },
      { payload: (cwd) => ({ session_id: 'gm-1', transcript_path: '/tmp/gm-1.json', cwd, hook_event_name: 'AfterAgent', timestamp: '2026-12-02T02:00:06.000Z', prompt: 'add notes', prompt_response: 'done', stop_hook_active: false }) },
    ],
  },
  opencode: {
    steps: 4,
    reply: '',
    from: 'worktree',
    calls: [
      { payload: (cwd) => ({ hook_event_name: 'tool.execute.before', tool: 'write', sessionID: 'ses_1', callID: 'call_a', args: { filePath: path.join(cwd, 'notes.txt'), content: 'hello\n' }, cwd }) },
      { writes: { 'notes.txt': 'hello\n' }, payload: (cwd) => ({ hook_event_name: 'tool.execute.after', tool: 'write', sessionID: 'ses_1', callID: 'call_a', args: { filePath: path.join(cwd, 'notes.txt'), content: 'hello\n' }, cwd }) },
      { payload: (cwd) => ({ hook_event_name: 'permission.asked', sessionID: 'ses_1', detail: 'bash', cwd }) },
      { payload: (cwd) => ({ hook_event_name: 'permission.replied', sessionID: 'ses_1', cwd }) },
      { payload: (cwd) => ({ hook_event_name: 'tool.execute.before', tool: 'bash', sessionID: 'ses_1', callID: 'call_b', args: { command: 'rm old.txt', description: 'drop old.txt' }, cwd }) },
      { writes: { 'old.txt': null }, payload: (cwd) => ({ hook_event_name: 'tool.execute.after', tool: 'bash', sessionID: 'ses_1', callID: 'call_b', args: { command: 'rm old.txt', description: 'drop old.txt' }, cwd }) },
      { payload: (cwd) => ({ hook_event_name: 'session.idle', sessionID: 'ses_1', cwd }) },
    ],
  },
  cursor: {
    steps: 5,
    reply: '',
    // Run from elsewhere: the payload says where the agent works (cwd, else its first workspace root).
    from: 'elsewhere',
    calls: [
      { payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'preToolUse', tool_name: 'Write', tool_input: { file_path: path.join(dir, 'notes.txt'), contents: 'hello\n' }, tool_use_id: 'tu_1', cwd: dir }) },
      { writes: { 'notes.txt': 'hello\n' }, payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'postToolUse', tool_name: 'Write', tool_input: { file_path: path.join(dir, 'notes.txt'), contents: 'hello\n' }, tool_use_id: 'tu_1', tool_output: 'ok', duration: 12, cwd: dir }) },
      { payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'afterFileEdit', file_path: path.join(dir, 'notes.txt'), edits: [{ old_string: '', new_string: 'hello\n' }] }) },
      // A read: its state, no step. Its `status` is no string: a problem line, logged by both paths.
      { payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'preToolUse', tool_name: 'Read', tool_input: { file_path: path.join(dir, 'notes.txt') }, tool_use_id: 'tu_2', cwd: dir, status: 3 }) },
      { payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'preToolUse', tool_name: 'Shell', tool_input: { command: 'rm old.txt' }, tool_use_id: 'tu_3', cwd: dir }) },
      { writes: { 'old.txt': null }, payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'postToolUse', tool_name: 'Shell', tool_input: { command: 'rm old.txt' }, tool_use_id: 'tu_3', tool_output: '', duration: 30, cwd: dir }) },
      { payload: (dir) => ({ ...cursorCommon(dir), hook_event_name: 'stop', status: 'completed', loop_count: 0 }) },
    ],
  },
};

/** The fields of every Cursor event. */
function cursorCommon(dir: string): Payload {
  return { conversation_id: 'conv-1', generation_id: 'gen-1', model: 'gpt-5', cursor_version: '2.1.0', workspace_roots: [dir], user_email: null };
}

/** hook.log's lines without their time stamps ('' when there is no log). */
function hookLog(dir: string): string[] {
  const file = path.join(dir, '.git', 'ckpt', 'hook.log');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\S+ /, ''));
}

/** The agent state of `dir`'s worktree, without what differs between two runs (times, the chain's tip); its tool call as the number `calls` gives it. */
async function stateOf(dir: string, calls: Map<string, number>): Promise<Record<string, unknown> | null> {
  const s = readAgentState(await openRepo(dir));
  if (!s) return null;
  const { at: _at, sessionStartedAt: _s, waitingSince, baseSnapshot: _b, toolUseId, ...rest } = s;
  return { ...rest, call: toolUseId === null ? null : calls.get(toolUseId), waiting: waitingSince !== null };
}

describe.each(Object.keys(SESSIONS) as Agent[])('%s hooks through the daemon', (agent) => {
  it('the installed command: the daemon records every step (no CLI module loaded), as the direct path records it, with the same reply, state and log', async () => {
    const session = SESSIONS[agent];
    const hooks = (await loadAgentHooks(agent))!;
    const dirs = { daemon: makeRepo(FILES), direct: makeRepo(FILES) };
    const env = { daemon: { CKPT_DAEMON: '1', ...session.env }, direct: { CKPT_NO_DAEMON: '1', ...session.env } };
    const command = { daemon: installed(agent, dirs.daemon), direct: installed(agent, dirs.direct) };
    expect(command.daemon).toMatch(new RegExp(`^NODE_EXTRA_CA_CERTS= \\S+ \\S*/bin/ckpt-hook\\.cjs ${agent}$`));
    for (const dir of Object.values(dirs)) write(dir, { 'secret.env': 'TOKEN=1\n' });
    startTestDaemon(dirs.daemon);
    // The tool-use ids each path should record (Gemini's are made from the call's input, whose paths differ between the twins): by call.
    const ids = { daemon: new Map<string, number>(), direct: new Map<string, number>() };
    for (const [n, call] of session.calls.entries()) {
      const runs: Partial<Record<'daemon' | 'direct', TracedRun>> = {};
      for (const mode of ['daemon', 'direct'] as const) {
        const dir = dirs[mode];
        if (call.writes) write(dir, call.writes);
        const payload = call.payload(dir);
        const parsed = hooks.parse(JSON.stringify(payload));
        if (parsed.step?.toolUseId && !ids[mode].has(parsed.step.toolUseId)) ids[mode].set(parsed.step.toolUseId, n);
        const stepsBefore = (await listSteps(await openRepo(dir))).length;
        const r = await runTraced(command[mode], session.from === 'worktree' ? dir : os.tmpdir(), JSON.stringify(payload), env[mode]);
        runs[mode] = r;
        expect(r.code, `${mode} call ${n}`).toBe(0);
        const steps = await listSteps(await openRepo(dir));
        expect(steps.length, `${mode} call ${n}`).toBe(stepsBefore + (parsed.step ? 1 : 0));
        if (parsed.step) expect(steps[0]!.tree, `${mode} call ${n}: git's view`).toBe(gitView(dir));
      }
      const { daemon, direct } = runs as Record<'daemon' | 'direct', TracedRun>;
      expect([daemon.stdout, direct.stdout], `call ${n}: what the agent reads`).toEqual([session.reply, session.reply]);
      expect(ckptModules(daemon.modules), `call ${n}`).toEqual(['bin/ckpt-hook.cjs', 'dist/hook.cjs']);
      expect(ckptModules(direct.modules), `call ${n}`).toContain('dist/cli.js');
      expect(await stateOf(dirs.daemon, ids.daemon), `call ${n}: agent.json`).toEqual(await stateOf(dirs.direct, ids.direct));
    }
    expect(testDaemonStatus(dirs.daemon).status.worktrees.map((w) => w.snapshots)).toEqual([session.steps]);
    expect(testDaemonStatus(dirs.direct).running).toBe(false);
    const view = async (mode: 'daemon' | 'direct') =>
      (await listSteps(await openRepo(dirs[mode]))).reverse().map((s) => ({ step: s.step, kind: s.kind, message: s.message.replace(/\n\n[\s\S]*$/, ''), tool: s.tool, target: s.target, call: s.toolUseId === null ? null : ids[mode].get(s.toolUseId), agent: s.agent, tree: s.tree }));
    const steps = await view('daemon');
    expect(steps.length).toBe(session.steps);
    expect(steps.every((s) => s.agent === agent && s.call !== undefined)).toBe(true);
    expect(steps.map((s) => s.kind)).toEqual(agent === 'cursor' ? ['before', 'after', 'after', 'before', 'after'] : ['before', 'after', 'before', 'after']);
    expect(steps).toEqual(await view('direct'));
    expect(hookLog(dirs.daemon)).toEqual(hookLog(dirs.direct));
    if (session.env?.CKPT_HOOK_WAIT) expect(hookLog(dirs.daemon).length).toBe(session.calls.length);
    if (agent === 'cursor') expect(hookLog(dirs.daemon)).toEqual(['ckpt hook cursor: status is number, not a string: ignored']);
  });
});

describe('what the daemon leaves to the direct path', () => {
  it('an event it asks nothing of, a payload that is not JSON, an unknown agent: the direct path, which reports as it always did', async () => {
    const dir = makeRepo(FILES);
    const command = installed('cursor', dir);
    startTestDaemon(dir);
    const on = (stdin: string, cmd = command, env: NodeJS.ProcessEnv = { CKPT_DAEMON: '1' }) => runTraced(cmd, dir, stdin, env);
    for (const stdin of [JSON.stringify({ hook_event_name: 'beforeTabFileRead', cwd: dir, workspace_roots: [dir] }), 'garbage', '[]']) {
      const r = await on(stdin);
      expect([r.code, r.stdout], stdin).toEqual([0, '']);
      expect(ckptModules(r.modules), stdin).toContain('dist/cli.js');
    }
    expect(hookLog(dir)).toEqual([
      'ckpt hook cursor: hook_event_name "beforeTabFileRead" is not an event ckpt installs: ignored',
      expect.stringMatching(/^ckpt hook cursor: stdin is not JSON /),
      'ckpt hook cursor: stdin is an array, not a JSON object',
    ]);
    // An unknown agent: the direct path, which records nothing for it.
    const r = await on(JSON.stringify({ hook_event_name: 'preToolUse', cwd: dir, tool_name: 'Write' }), command.replace(/ cursor$/, ' nosuch'));
    expect([r.code, r.stdout]).toEqual([0, '']);
    expect(ckptModules(r.modules)).toContain('dist/cli.js');
    expect(testDaemonStatus(dir).status.worktrees.reduce((n, w) => n + w.snapshots, 0)).toBe(0);
    expect(await listSteps(await openRepo(dir))).toEqual([]);
  });
});
