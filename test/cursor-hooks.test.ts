/**
 * Cursor's hooks (cursor-agent is not on npm: the payloads are the documented ones,
 * fed through the command line `ckpt hooks install cursor` wrote, run with `sh -c` as
 * Cursor runs it): install / uninstall round-trips byte for byte, a session's events give
 * a before/after pair per file-changing tool call that a rollback restores exactly, and
 * the hook exits 0 with nothing on stdout whatever arrives.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCursorHook } from '../src/agents/cursor.js';
import { CLI, git, indexBytes, makeRepo, picture, tempDir, userRefs, write, type Entry } from './support/repo.js';

function ckpt(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs an installed hook command as Cursor does: through a shell, the event's JSON on stdin. */
function fire(command: string, payload: unknown, cwd: string): { code: number; stdout: string } {
  const r = spawnSync('sh', ['-c', command], { cwd, input: typeof payload === 'string' ? payload : JSON.stringify(payload), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout };
}

interface Step {
  step: number;
  kind: string;
  tool: string | null;
  target: string | null;
  toolUseId: string | null;
  agent: string | null;
}

function steps(dir: string): Step[] {
  const r = ckpt(dir, ['log', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout).steps as Step[]).slice().reverse();
}

function pictureOf(files: Record<string, string>): Record<string, Entry> {
  const dir = tempDir('ckpt-expect-');
  write(dir, files);
  return picture(dir);
}

/** What snapshots hold: everything but the ignored file and the excluded hooks file. */
function seen(pic: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(pic).filter(([k]) => k !== 'secret.env' && k !== '.cursor' && !k.startsWith('.cursor/')));
}

describe('hooks install|uninstall cursor', () => {
  it('into a worktree without .cursor: a new hooks.json kept out of snapshots; uninstall leaves every byte as it was', () => {
    const repo = makeRepo({ 'README.md': '# app\n' });
    const exclude = path.join(repo, '.git', 'info', 'exclude');
    const before = { pic: picture(repo), exclude: fs.readFileSync(exclude), index: indexBytes(repo) };
    const i = ckpt(repo, ['hooks', 'install', 'cursor', '--json']);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ file: path.join(repo, '.cursor', 'hooks.json'), changed: true, excluded: true });
    const doc = JSON.parse(fs.readFileSync(path.join(repo, '.cursor', 'hooks.json'), 'utf8'));
    expect(doc.version).toBe(1);
    expect(Object.keys(doc.hooks)).toEqual(['preToolUse', 'postToolUse', 'afterFileEdit', 'stop']);
    for (const list of Object.values(doc.hooks) as { command: string }[][]) expect(list).toEqual([{ command: expect.stringMatching(/bin\/ckpt-hook\.cjs cursor$/) }]);
    expect(JSON.parse(ckpt(repo, ['hooks', 'install', 'cursor', '--json']).stdout)).toMatchObject({ changed: false, excluded: false });
    expect(git(repo, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    const u = ckpt(repo, ['hooks', 'uninstall', 'cursor', '--json']);
    expect(u.code, u.stderr).toBe(0);
    expect(JSON.parse(u.stdout)).toMatchObject({ changed: true, excluded: true });
    expect(picture(repo)).toEqual(before.pic);
    expect(fs.readFileSync(exclude).equals(before.exclude)).toBe(true);
    expect(indexBytes(repo).equals(before.index)).toBe(true);
  });

  it("into the user's own hooks.json: their hooks and keys are kept, ckpt's entries go back out exactly", () => {
    const repo = makeRepo({ 'README.md': '# app\n', '.cursor/rules/style.mdc': 'be brief\n' });
    // Their own formatting (tabs, no final newline): uninstall gives these very bytes back.
    const theirs = JSON.stringify({ version: 1, hooks: { afterFileEdit: [{ command: './format.sh' }], beforeShellExecution: [{ command: './guard.sh', matcher: 'rm' }] }, note: 'mine' }, null, '\t');
    write(repo, { '.cursor/hooks.json': theirs });
    const before = picture(repo);
    expect(ckpt(repo, ['hooks', 'install', 'cursor']).code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(repo, '.cursor', 'hooks.json'), 'utf8'));
    expect(doc.note).toBe('mine');
    expect(doc.hooks.afterFileEdit).toEqual([{ command: './format.sh' }, { command: expect.stringMatching(/bin\/ckpt-hook\.cjs cursor$/) }]);
    expect(doc.hooks.beforeShellExecution).toEqual([{ command: './guard.sh', matcher: 'rm' }]);
    expect(ckpt(repo, ['hooks', 'uninstall', 'cursor']).code).toBe(0);
    expect(picture(repo)).toEqual(before);

    // Edited by the user after the install: uninstall takes out ckpt's entries only, keeping the edit.
    expect(ckpt(repo, ['hooks', 'install', 'cursor']).code).toBe(0);
    const file = path.join(repo, '.cursor', 'hooks.json');
    const edited = JSON.parse(fs.readFileSync(file, 'utf8'));
    edited.hooks.stop.unshift({ command: './notify.sh' });
    fs.writeFileSync(file, JSON.stringify(edited));
    expect(ckpt(repo, ['hooks', 'uninstall', 'cursor']).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ ...JSON.parse(theirs), hooks: { ...JSON.parse(theirs).hooks, stop: [{ command: './notify.sh' }] } });
  });

  it('refuses a tracked hooks.json, one that is not JSON or not the shape Cursor reads, changing nothing', () => {
    const tracked = makeRepo({ 'README.md': '# app\n', '.cursor/hooks.json': '{"version":1,"hooks":{}}\n' });
    const pic = picture(tracked);
    const t = ckpt(tracked, ['hooks', 'install', 'cursor']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/tracked by git[\s\S]*--global/);
    expect(picture(tracked)).toEqual(pic);
    for (const bad of ['{"version":1,', '[]', '{"version":2}', '{"hooks":{"stop":{}}}', '{"hooks":{"stop":[1]}}']) {
      const repo = makeRepo({ 'README.md': '# app\n' });
      write(repo, { '.cursor/hooks.json': bad });
      const p = picture(repo);
      const exclude = fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'));
      const r = ckpt(repo, ['hooks', 'install', 'cursor']);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('hooks.json');
      expect(picture(repo)).toEqual(p);
      expect(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude')).equals(exclude)).toBe(true);
    }
  });

  it('--global writes ~/.cursor/hooks.json and takes it out again', () => {
    const repo = makeRepo({ 'README.md': '# app\n' });
    const home = tempDir('ckpt-home-');
    // ckpt's install record goes to its own state dir ($XDG_STATE_HOME/ckpt/hooks), not among your files.
    const env = { ...process.env, HOME: home, XDG_STATE_HOME: tempDir('ckpt-state-') };
    const repoPic = picture(repo);
    const i = ckpt(repo, ['hooks', 'install', 'cursor', '--global', '--json'], env);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ file: path.join(home, '.cursor', 'hooks.json'), changed: true, excluded: false });
    expect(picture(repo)).toEqual(repoPic);
    expect(ckpt(repo, ['hooks', 'uninstall', 'cursor', '--global'], env).code).toBe(0);
    expect(picture(home)).toEqual({});
  });
});

describe('ckpt hook cursor, fed documented payloads through the installed command line', () => {
  it('a session: a before/after pair per file-changing call (none for Read), an after per afterFileEdit; rollback to each is byte-exact', () => {
    const repo = makeRepo({ 'README.md': '# app\n', 'old.txt': 'old\n', '.gitignore': 'secret.env\n' });
    write(repo, { 'secret.env': 'TOKEN=1\n' });
    expect(ckpt(repo, ['hooks', 'install', 'cursor']).code).toBe(0);
    const hooks = JSON.parse(fs.readFileSync(path.join(repo, '.cursor', 'hooks.json'), 'utf8')).hooks as Record<string, { command: string }[]>;
    const on = (event: string, extra: Record<string, unknown>): void => {
      const common = { hook_event_name: event, conversation_id: 'conv-1', generation_id: 'gen-1', model: 'gpt-5', cursor_version: '2.1.0', workspace_roots: [repo], user_email: null };
      // Run from elsewhere: the payload says where the agent works.
      const r = fire(hooks[event]![0]!.command, { ...common, ...extra }, os.tmpdir());
      expect([r.code, r.stdout], event).toEqual([0, '']);
    };
    const index0 = indexBytes(repo);
    const refs0 = userRefs(repo);
    const s0 = { 'README.md': '# app\n', 'old.txt': 'old\n', '.gitignore': 'secret.env\n' };
    const s1 = { ...s0, 'a.txt': 'A\n' };
    const s2: Record<string, string> = { ...s1, 'README.md': '# app\nbuilt\n' };
    delete s2['old.txt'];

    on('preToolUse', { tool_name: 'Write', tool_input: { file_path: path.join(repo, 'a.txt'), contents: 'A\n' }, tool_use_id: 'tu_1', cwd: repo });
    write(repo, { 'a.txt': 'A\n' });
    on('postToolUse', { tool_name: 'Write', tool_input: { file_path: path.join(repo, 'a.txt'), contents: 'A\n' }, tool_use_id: 'tu_1', tool_output: 'ok', duration: 12, cwd: repo });
    on('afterFileEdit', { file_path: path.join(repo, 'a.txt'), edits: [{ old_string: '', new_string: 'A\n' }] });
    on('preToolUse', { tool_name: 'Read', tool_input: { file_path: path.join(repo, 'a.txt') }, tool_use_id: 'tu_2', cwd: repo });
    on('postToolUse', { tool_name: 'Read', tool_input: { file_path: path.join(repo, 'a.txt') }, tool_use_id: 'tu_2', tool_output: 'A', duration: 1, cwd: repo });
    on('preToolUse', { tool_name: 'Shell', tool_input: { command: "printf '# app\\nbuilt\\n' > README.md && rm old.txt" }, tool_use_id: 'tu_3', cwd: repo });
    write(repo, { 'README.md': '# app\nbuilt\n', 'old.txt': null });
    on('postToolUse', { tool_name: 'Shell', tool_input: { command: "printf '# app\\nbuilt\\n' > README.md && rm old.txt" }, tool_use_id: 'tu_3', tool_output: '', duration: 30, cwd: repo });
    on('stop', { status: 'completed', loop_count: 0 });

    const shell = "printf '# app\\nbuilt\\n' > README.md && rm old.txt";
    const log = steps(repo);
    expect(log.map((s) => [s.kind, s.tool, s.target, s.toolUseId, s.agent])).toEqual([
      ['before', 'Write', 'a.txt', 'tu_1', 'cursor'],
      ['after', 'Write', 'a.txt', 'tu_1', 'cursor'],
      ['after', 'Edit', 'a.txt', null, 'cursor'],
      ['before', 'Shell', shell, 'tu_3', 'cursor'],
      ['after', 'Shell', shell, 'tu_3', 'cursor'],
    ]);
    const expected = [s0, s1, s1, s1, s2];
    const end = picture(repo);
    const hidden = Object.fromEntries(Object.entries(end).filter(([k]) => !(k in seen(end))));
    for (const [n, s] of log.entries()) {
      const r = ckpt(repo, ['rollback', String(s.step)]);
      expect(r.code, r.stderr).toBe(0);
      const now = picture(repo);
      expect(seen(now), `rollback to step ${s.step}`).toEqual(pictureOf(expected[n]!));
      expect(Object.fromEntries(Object.entries(now).filter(([k]) => !(k in seen(now))))).toEqual(hidden);
      expect(indexBytes(repo).equals(index0)).toBe(true);
      expect(userRefs(repo)).toBe(refs0);
      if (expected[n] === s2) continue; // already the live state: nothing to undo
      const undo = ckpt(repo, ['rollback', '--undo']);
      expect(undo.code, undo.stderr).toBe(0);
      expect(picture(repo)).toEqual(end);
    }
  });

  it('exits 0 with nothing on stdout on any stdin, and logs what it could not use', () => {
    const repo = makeRepo({ 'README.md': '# app\n' });
    expect(ckpt(repo, ['hooks', 'install', 'cursor']).code).toBe(0);
    const command = JSON.parse(fs.readFileSync(path.join(repo, '.cursor', 'hooks.json'), 'utf8')).hooks.preToolUse[0].command as string;
    for (const stdin of ['', 'garbage', 'null', '[]', '"x"', '{"hook_event_name":"preToolUse","tool_input":[1],"workspace_roots":"/x"}', '{"hook_event_name":"beforeTabFileRead"}']) {
      expect(fire(command, stdin, repo), JSON.stringify(stdin)).toEqual({ code: 0, stdout: '' });
    }
    const logged = fs.readFileSync(path.join(repo, '.git', 'ckpt', 'hook.log'), 'utf8');
    for (const line of ['stdin was empty', 'stdin is not JSON', 'stdin is null', 'stdin is an array', 'stdin is a string', 'tool_input is an array', 'workspace_roots is string', 'beforeTabFileRead']) expect(logged).toContain(line);
    // The one call with a usable event recorded its before (named "tool": it had no tool_name).
    expect(steps(repo).map((s) => `${s.kind}:${s.tool}`)).toEqual(['before:tool']);
  });

  it('reads stop as the end of a turn and the payload\'s directory from cwd, else the first workspace root', () => {
    expect(parseCursorHook(JSON.stringify({ hook_event_name: 'stop', status: 'aborted', conversation_id: 'c', workspace_roots: ['/w'] }))).toMatchObject({ step: null, state: { state: 'turn-end', detail: 'aborted' }, sessionId: 'c', cwd: '/w' });
    expect(parseCursorHook(JSON.stringify({ hook_event_name: 'preToolUse', tool_name: 'Delete', tool_input: { path: 'x.txt' }, cwd: '/a', workspace_roots: ['/w'] }))).toMatchObject({ step: { kind: 'before', tool: 'Delete', target: 'x.txt' }, cwd: '/a' });
  });
});
