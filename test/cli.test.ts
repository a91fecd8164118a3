/**
 * The built CLI end to end: real processes, real git, exact exit codes and
 * JSON shapes, hooks fed the JSON Claude Code sends, the watcher on real
 * file events, and round trips through the commands that change files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, git, indexBytes, makeRepo, picture, tempDir, write } from './support/repo.js';
import { runCli, type CliResult as Run } from './support/cli.js';

const ckpt = (cwd: string, args: string[], input?: string): Run => runCli(cwd, args, { env: { NO_COLOR: '1' }, input });

/** This process's PID namespace, as the lock's owner record holds it. */
function pidNs(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

function json<T = Record<string, unknown>>(r: Run): T {
  return JSON.parse(r.stdout) as T;
}

describe('ckpt CLI', () => {
  it('snap, log, diff and rollback with --json, and the undo round trip', () => {
    const dir = makeRepo({ 'a.txt': 'one\n', '.gitignore': '.env\n' });
    write(dir, { '.env': 'KEY=1\n' });
    const index0 = indexBytes(dir);
    expect(ckpt(dir, ['snap', '-m', 'start']).code).toBe(0);
    const before = picture(dir);
    write(dir, { 'a.txt': 'two\n', 'b.txt': 'new\n' });
    const s = ckpt(dir, ['snap', '--json']);
    expect(s.code).toBe(0);
    expect(json(s)).toMatchObject({ created: true, snapshot: { step: 2, kind: 'manual' } });
    const after = picture(dir);

    const log = json<{ steps: { step: number; stats: unknown }[] }>(ckpt(dir, ['log', '--json']));
    expect(log.steps.map((x) => x.step)).toEqual([2, 1]);
    expect(log.steps[0]!.stats).toEqual({ files: 2, insertions: 2, deletions: 1 });
    const table = ckpt(dir, ['log']).stdout;
    expect(table).toContain('step');
    expect(table).toMatch(/│\s+2 │/);

    const d = ckpt(dir, ['diff', '1', '2']);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('-one');
    expect(d.stdout).toContain('+two');
    expect(d.stdout).not.toContain('\x1b['); // no colour when piped
    const stat = json<{ files: { path: string; status: string }[] }>(ckpt(dir, ['diff', '1', '--stat', '--json']));
    expect(stat.files.map((f) => `${f.status} ${f.path}`)).toEqual(['M a.txt', 'A b.txt']);
    expect(ckpt(dir, ['diff']).stdout).toContain('no changes');
    expect(ckpt(dir, ['diff', '1', '--', 'b.txt']).stdout).not.toContain('a.txt');

    const dry = ckpt(dir, ['rollback', '1', '--dry-run']);
    expect(dry.stdout).toContain('would restore');
    expect(picture(dir)).toEqual(after);
    const rb = ckpt(dir, ['rollback', '1']);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain('ckpt rollback --undo');
    expect(picture(dir)).toEqual(before);
    const undo = ckpt(dir, ['rollback', '--undo', '--json']);
    expect(json<{ changes: unknown[] }>(undo).changes).toHaveLength(2);
    expect(picture(dir)).toEqual(after);
    expect(indexBytes(dir).equals(index0)).toBe(true);

    // single path, given relative to a subdirectory
    write(dir, { 'sub/c.txt': 'c1\n' });
    ckpt(dir, ['snap']);
    write(dir, { 'sub/c.txt': 'c2\n', 'a.txt': 'three\n' });
    ckpt(dir, ['snap']);
    const partial = ckpt(path.join(dir, 'sub'), ['rollback', '-1', '--', 'c.txt']);
    expect(partial.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'sub/c.txt'), 'utf8')).toBe('c1\n');
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('three\n');
  });

  it('errors carry a stable code, a hint and the documented exit code, and change nothing', () => {
    const none = tempDir();
    const r = ckpt(none, ['log']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a git repository');
    expect(r.stderr).toContain('hint:');
    const j = ckpt(none, ['log', '--json']);
    expect(j.code).toBe(2);
    expect(json(j)).toMatchObject({ error: { code: 'NOT_A_REPO' } });

    const dir = makeRepo();
    expect(json(ckpt(dir, ['rollback', '--json']))).toMatchObject({ error: { code: 'NO_SNAPSHOTS' } });
    ckpt(dir, ['snap']);
    const pic = picture(dir);
    const bad = ckpt(dir, ['rollback', '42', '--json']);
    expect(bad.code).toBe(2);
    expect(json(bad)).toMatchObject({ error: { code: 'SNAPSHOT_NOT_FOUND' } });
    expect(ckpt(dir, ['rollback', '1', '--undo']).code).toBe(2);
    expect(ckpt(dir, ['rollback', '--to', 'whenever']).code).toBe(2);
    expect(ckpt(dir, ['log', '-n', 'lots']).code).toBe(2);
    expect(ckpt(dir, ['no-such-command']).code).toBe(2);
    expect(ckpt(dir, ['rollback', '1', '--', '../outside']).code).toBe(2);
    expect(picture(dir)).toEqual(pic);

    // a refusal exits 3
    write(dir, { '.gitignore': '*.log\n' });
    ckpt(dir, ['snap']);
    write(dir, { 'out': 'file' });
    ckpt(dir, ['snap']);
    fs.rmSync(path.join(dir, 'out'));
    write(dir, { 'out/x.log': 'ignored' });
    ckpt(dir, ['snap']);
    const refused = ckpt(dir, ['rollback', '-1', '--json']);
    expect(refused.code).toBe(3);
    expect(json(refused)).toMatchObject({ error: { code: 'ROLLBACK_WOULD_CLOBBER' } });
    expect(fs.readFileSync(path.join(dir, 'out/x.log'), 'utf8')).toBe('ignored');
  });

  it('hook claude: a before/after pair per tool call, named after the tool; never fails the agent', () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const pre = { hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Edit', tool_input: { file_path: path.join(dir, 'a.txt'), old_string: 'a', new_string: 'b' }, tool_use_id: 'toolu_1' };
    const r1 = ckpt(dir, ['hook', 'claude'], JSON.stringify(pre));
    expect(r1).toMatchObject({ code: 0, stdout: '' });
    write(dir, { 'a.txt': 'b\n' });
    const r2 = ckpt(dir, ['hook', 'claude'], JSON.stringify({ ...pre, hook_event_name: 'PostToolUse', tool_response: {} }));
    expect(r2).toMatchObject({ code: 0, stdout: '' });
    const bash = { hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'echo hi > gen.txt' }, tool_use_id: 'toolu_2' };
    ckpt(dir, ['hook', 'claude'], JSON.stringify(bash));
    write(dir, { 'gen.txt': 'hi\n' });
    ckpt(dir, ['hook', 'claude'], JSON.stringify({ ...bash, hook_event_name: 'PostToolUse' }));
    const steps = json<{ steps: { kind: string; tool: string; target: string; toolUseId: string; agent: string }[] }>(ckpt(dir, ['log', '--json'])).steps;
    expect(steps.map((s) => `${s.kind} ${s.tool} ${s.target}`)).toEqual(['after Bash echo hi > gen.txt', 'before Bash echo hi > gen.txt', 'after Edit a.txt', 'before Edit a.txt']);
    expect(steps[0]!.agent).toBe('claude');
    expect(steps[0]!.toolUseId).toBe('toolu_2');
    // roll back to the state before the Bash call: gen.txt goes, a.txt stays edited
    ckpt(dir, ['rollback', '2']);
    expect(fs.existsSync(path.join(dir, 'gen.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('b\n');

    // garbage, no repository, unknown events: exit 0, nothing on stdout
    expect(ckpt(dir, ['hook', 'claude'], 'not json')).toMatchObject({ code: 0, stdout: '' });
    const outside = tempDir();
    expect(ckpt(outside, ['hook', 'claude'], JSON.stringify({ ...pre, cwd: outside }))).toMatchObject({ code: 0, stdout: '' });
    expect(ckpt(dir, ['hook', 'claude'], JSON.stringify({ hook_event_name: 'Stop', cwd: dir }))).toMatchObject({ code: 0, stdout: '' });
    expect(ckpt(dir, ['hook', 'claude'], '')).toMatchObject({ code: 0, stdout: '' });
  });

  it('hook errors go to the hook log, and the hook waits its turn for the worktree lock (CKPT_HOOK_WAIT)', () => {
    const dir = makeRepo();
    // A lock held by a live process (fresh mtime): the hook waits, then gives up
    // with exit 0 and a line in the log.
    const repoId = fs.readdirSync(path.join(dir, '.git')).includes('ckpt');
    expect(repoId).toBe(false);
    ckpt(dir, ['snap']);
    const wtDir = path.join(dir, '.git', 'ckpt', 'wt');
    const id = fs.readdirSync(wtDir)[0]!;
    const lock = path.join(wtDir, id, 'lock');
    // The lock file's owner record names a live process (this one): never taken over.
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), ns: pidNs(), start: null, token: 'x' }));
    const r = spawnSync(process.execPath, [CLI, 'hook', 'claude'], {
      cwd: dir,
      input: JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'x' } }),
      encoding: 'utf8',
      env: { ...process.env, CKPT_HOOK_WAIT: '2s' },
      timeout: 60_000,
    });
    // a fresh lock held by someone else is never removed
    expect(fs.existsSync(lock)).toBe(true);
    fs.rmSync(lock);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(fs.readFileSync(path.join(dir, '.git', 'ckpt', 'hook.log'), 'utf8')).toContain('LOCKED');
    // The request was withdrawn: nothing left queued to be recorded late.
    expect(fs.readdirSync(path.join(wtDir, id, 'queue'))).toEqual([]);
  });

  it('a lock left by a killed ckpt process is taken over at once, not after the stale timeout', () => {
    const dir = makeRepo();
    ckpt(dir, ['snap']);
    const wtDir = path.join(dir, '.git', 'ckpt', 'wt');
    const id = fs.readdirSync(wtDir)[0]!;
    // What a holder killed with SIGKILL leaves: its lock (fresh mtime), which holds its owner record.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(wtDir, id, 'lock'), JSON.stringify({ pid: gone, host: os.hostname(), ns: pidNs(), start: null, token: 'dead' }));
    const r = spawnSync(process.execPath, [CLI, 'hook', 'claude'], {
      cwd: dir,
      input: JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'x' } }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(dir, '.git', 'ckpt', 'hook.log'))).toBe(false); // no LOCKED: the snapshot was taken
    const log = JSON.parse(ckpt(dir, ['log', '--json']).stdout) as { steps: Array<{ kind: string; tool: string | null }> };
    expect(log.steps[0]).toMatchObject({ kind: 'before', tool: 'Bash' });
    // Released cleanly: nothing of the lock left behind.
    expect(fs.readdirSync(path.join(wtDir, id)).filter((n) => n.startsWith('lock'))).toEqual([]);
  });

  it('hooks install / uninstall claude: adds and removes exactly its entries, keeps the rest', () => {
    const dir = makeRepo();
    const file = path.join(dir, '.claude', 'settings.local.json');
    write(dir, { '.claude/settings.local.json': JSON.stringify({ permissions: { allow: ['Bash(ls)'] }, hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'my-own-hook' }] }] } }) });
    expect(ckpt(dir, ['hooks', 'install', 'claude']).code).toBe(0);
    const s1 = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(s1.permissions).toEqual({ allow: ['Bash(ls)'] });
    expect(JSON.stringify(s1.hooks.PreToolUse)).toContain('my-own-hook');
    expect(JSON.stringify(s1.hooks.PreToolUse)).toContain('bin/ckpt-hook.cjs claude');
    expect(JSON.stringify(s1.hooks.PostToolUse)).toContain('bin/ckpt-hook.cjs claude');
    const again = json(ckpt(dir, ['hooks', 'install', 'claude', '--json']));
    expect(again.changed).toBe(false);
    // the installed command really works as a hook
    const cmd = s1.hooks.PostToolUse[0].hooks[0].command as string;
    const run = spawnSync('sh', ['-c', cmd], { cwd: dir, input: JSON.stringify({ hook_event_name: 'PostToolUse', cwd: dir, tool_name: 'Write', tool_input: { file_path: 'x' } }), encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(json<{ steps: { tool: string }[] }>(ckpt(dir, ['log', '--json'])).steps[0]!.tool).toBe('Write');
    expect(ckpt(dir, ['hooks', 'uninstall', 'claude']).code).toBe(0);
    const s2 = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(s2).toEqual({ permissions: { allow: ['Bash(ls)'] }, hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'my-own-hook' }] }] } });
    // An agent ckpt has no hooks for is bad input: exit 2, nothing written.
    const before = picture(dir);
    expect(ckpt(dir, ['hooks', 'install', 'no-such-agent']).code).toBe(2);
    expect(picture(dir)).toEqual(before);
  });

  it('hooks install / uninstall codex (project): writes only in the repository, never in HOME or CODEX_HOME', () => {
    const dir = makeRepo();
    const home = tempDir('ckpt-home-');
    try {
      const env = { ...process.env, NO_COLOR: '1', HOME: home, CODEX_HOME: path.join(home, 'codex-home'), XDG_STATE_HOME: path.join(home, 'state'), XDG_CONFIG_HOME: path.join(home, 'config') };
      const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env });
      const inst = run(['hooks', 'install', 'codex', '--json']);
      expect(inst.status, inst.stderr).toBe(0);
      expect(JSON.parse(inst.stdout).file).toBe(path.join(dir, '.codex', 'hooks.json'));
      expect(fs.readFileSync(path.join(dir, '.codex', 'hooks.json'), 'utf8')).toContain('bin/ckpt-hook.cjs codex');
      expect(fs.readdirSync(home)).toEqual([]);
      expect(run(['hooks', 'uninstall', 'codex']).status).toBe(0);
      expect(fs.existsSync(path.join(dir, '.codex', 'hooks.json'))).toBe(false);
      expect(fs.readdirSync(home)).toEqual([]);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('watch: one auto snapshot per settled burst, bash-made changes included; Ctrl-C ends it cleanly', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', '.gitignore': 'node_modules/\n' });
    const other = path.join(tempDir(), 'wt2');
    git(dir, 'worktree', 'add', '-q', '-b', 'two', other);
    const child = spawn(process.execPath, [CLI, 'watch', '--json', '--quiet', '150ms', dir, other], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: { event: string; worktree?: string; created?: boolean; snapshot?: { step: number } }[] = [];
    let buf = '';
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    const waitFor = async (pred: () => boolean, ms = 15_000): Promise<void> => {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > ms) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(() => events.some((e) => e.event === 'ready'));
    const created = (wt: string): number => events.filter((e) => e.event === 'snapshot' && e.created && e.worktree === wt).length;
    await waitFor(() => created(dir) >= 1 && created(other) >= 1);
    // a burst of writes: one snapshot
    for (let i = 0; i < 5; i++) write(dir, { [`burst${i}.txt`]: String(i) });
    await waitFor(() => created(dir) >= 2);
    // a change through a shell command, and an ignored write that must not trigger
    spawnSync('sh', ['-c', 'sed -i s/a/A/ a.txt && mkdir -p node_modules/x && echo 1 > node_modules/x/i.js'], { cwd: dir });
    await waitFor(() => created(dir) >= 3);
    // chmod only
    fs.chmodSync(path.join(dir, 'a.txt'), 0o755);
    await waitFor(() => created(dir) >= 4);
    // the other worktree
    write(other, { 'o.txt': 'o' });
    await waitFor(() => created(other) >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(created(dir)).toBe(4);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(events.at(-1)!.event).toBe('stopped');
    const steps = json<{ steps: { kind: string; message: string }[] }>(ckpt(dir, ['log', '--json'])).steps;
    expect(steps.map((s) => s.kind)).toEqual(['auto', 'auto', 'auto', 'auto']);
    expect(steps[1]!.message).toBe('M a.txt');
    // roll back the shell step, single file
    ckpt(dir, ['rollback', '2', '--', 'a.txt']);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a\n');
    expect(fs.existsSync(path.join(dir, 'node_modules/x/i.js'))).toBe(true);
  });

  it('gc keeps the newest N (ids change, steps stay), rollback still works; status reports chains and storage', () => {
    const dir = makeRepo({ 'f.txt': '0' });
    for (let i = 1; i <= 6; i++) {
      write(dir, { 'f.txt': String(i) });
      ckpt(dir, ['snap']);
    }
    const dry = json(ckpt(dir, ['gc', '--keep', '3', '--dry-run', '--json']));
    expect(dry).toMatchObject({ kept: 3, dropped: 3, dryRun: true });
    expect(json<{ steps: unknown[] }>(ckpt(dir, ['log', '--json'])).steps).toHaveLength(6);
    expect(json(ckpt(dir, ['gc', '--keep', '3', '--json']))).toMatchObject({ kept: 3, dropped: 3, droppedSteps: [3, 2, 1] });
    const steps = json<{ steps: { step: number }[] }>(ckpt(dir, ['log', '--json'])).steps;
    expect(steps.map((s) => s.step)).toEqual([6, 5, 4]);
    ckpt(dir, ['rollback', '4']);
    expect(fs.readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('4');
    expect(ckpt(dir, ['gc']).code).toBe(2);
    expect(json(ckpt(dir, ['gc', '--older-than', '1h', '--json']))).toMatchObject({ dropped: 0 });
    const st = json<{ worktrees: { worktree: string; snapshots: number; bytes: number; present: boolean }[] }>(ckpt(dir, ['status', '--json']));
    expect(st.worktrees).toHaveLength(1);
    expect(st.worktrees[0]).toMatchObject({ worktree: dir, snapshots: 5, present: true });
    expect(st.worktrees[0]!.bytes).toBeGreaterThan(0);
    expect(ckpt(dir, ['status']).stdout).toContain(dir);
  });

  it('demo runs end to end and checks itself', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--no-race', '--json'], { encoding: 'utf8', env: { ...process.env, DEMO_PAUSE_MS: '500' }, timeout: 120_000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    // Six steps (a first snapshot and the agent's five) when the watcher sees
    // each edit settle; a loaded machine can merge neighbours (the watcher's
    // settle time is a heuristic; the daemon's steps are not), so the exact
    // count is not asserted, only what the demo must prove.
    expect(out.steps).toBeGreaterThanOrEqual(3);
    expect(out.steps).toBeLessThanOrEqual(6);
    expect(out.rollback.changes).toBeGreaterThan(0);
    expect(out.rollback).toEqual({ changes: out.rollback.changes, undone: out.rollback.changes, identical: true, indexSame: true, ignoredSame: true });
  });
});
