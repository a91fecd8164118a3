/**
 * ckpt's hooks for Gemini CLI and Codex CLI with the REAL clients, offline: each client is
 * driven by the scripted model server (test/support/model-server.ts) through a session of
 * three tool calls (write a file, edit it, run a shell command that writes another), with
 * the hooks `ckpt hooks install AGENT` wrote. Each tool call must give a before/after pair
 * named after the tool and its target with one Tool-Use-Id, and a rollback to every one of
 * them must give the files back byte for byte, the user's index, HEAD and ignored files
 * untouched. Also: install + uninstall gives an existing settings file back byte for byte.
 * A test is skipped (with the reason) only when a client cannot be installed.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadScript, startModelServer, type ModelServer } from './support/model-server.js';
import { cacheDir, claudeArgv, claudeEnv, codexArgv, codexEnv, ensureClient, geminiArgv, geminiEnv, parseClaudeResult, parseJsonLines, runClient, TEST_MODELS, explainRun, needClient, type EnsureResult } from './support/clients.js';
import { startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';
import { CLI, HOOK, git, indexBytes, makeRepo, picture, storeDir, tempDir, userRefs, write, type Entry } from './support/repo.js';

const INSTALL_TIMEOUT = 15 * 60_000;
const RACE = path.join(path.dirname(CLI), 'race.js');
const RUN_TIMEOUT = 240_000;

type Files = Record<string, string>;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  stopTestDaemons();
});

async function server(name: string): Promise<ModelServer> {
  const s = await startModelServer(loadScript(name));
  cleanups.push(() => s.close());
  return s;
}

async function ckpt(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  return execa(process.execPath, [CLI, ...args], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
}

interface Step {
  step: number;
  id: string;
  kind: string;
  tool: string | null;
  target: string | null;
  toolUseId: string | null;
  agent: string | null;
}

async function steps(dir: string, env: NodeJS.ProcessEnv): Promise<Step[]> {
  const r = await ckpt(dir, ['log', '--json'], env);
  expect(r.exitCode, explainRun(r)).toBe(0);
  return (JSON.parse(r.stdout).steps as Step[]).slice().reverse();
}

/** Every file of a snapshot (a commit in ckpt's store), as UTF-8 text. */
async function snapshotFiles(cwd: string, id: string): Promise<Files> {
  const store = `--git-dir=${storeDir(cwd)}`;
  const ls = await execa('git', [store, 'ls-tree', '-r', '-z', id], { cwd });
  const out: Files = {};
  for (const rec of ls.stdout.split('\0').filter(Boolean)) {
    const [meta, p] = rec.split('\t') as [string, string];
    out[p] = Buffer.from((await execa('git', [store, 'cat-file', 'blob', meta.split(' ')[2]!], { cwd, encoding: 'buffer', stripFinalNewline: false })).stdout).toString('utf8');
  }
  return out;
}

function pictureOf(files: Files): Record<string, Entry> {
  const dir = tempDir('ckpt-expect-');
  write(dir, files);
  return picture(dir);
}

/** The repository a session starts from: committed files, a staged change, an ignored file. */
const BASE: Files = { 'README.md': '# app\n', '.gitignore': 'secret.env\n', 'src/keep.js': 'export const keep = 1;\n' };
const STAGED: Files = { 'staged.txt': 'staged, not committed\n' };
const IGNORED: Files = { 'secret.env': 'KEY=do-not-touch\n' };

/** What the worktree's snapshot holds before call k (STATES[k]) and after it (STATES[k + 1]), for write-edit-bash. */
const S0: Files = { ...BASE, ...STAGED };
const STATES: Files[] = [
  S0,
  { ...S0, 'hello.txt': 'hello\nfrom ckpt\n' },
  { ...S0, 'hello.txt': 'hello world\nfrom ckpt\n' },
  { ...S0, 'hello.txt': 'hello world\nfrom ckpt\n', 'gen.txt': 'generated\n' },
];

function startRepo(): string {
  const repo = makeRepo(BASE);
  write(repo, { ...STAGED, ...IGNORED });
  git(repo, 'add', 'staged.txt');
  return repo;
}

/**
 * Checks a finished session: a before/after pair per call with the expected tools and
 * targets, one tool-use id per pair (distinct between calls), what each snapshot holds,
 * and a rollback to each step restoring exactly that (index, HEAD, ignored files and
 * the hook's settings file untouched); --undo then gives the end back.
 */
async function checkSession(o: {
  repo: string;
  env: NodeJS.ProcessEnv;
  agent: string;
  calls: [tool: string, target: string][];
  ids?: string[];
  idPattern?: RegExp;
  untouched: Files;
  index: Buffer;
  refs: string;
}): Promise<void> {
  const { repo, env } = o;
  const hookLog = path.join(repo, '.git', 'ckpt', 'hook.log');
  expect(fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8') : '').toBe('');
  const log = await steps(repo, env);
  const hooked = log.filter((s) => s.kind === 'before' || s.kind === 'after');
  expect(hooked.map((s) => [s.kind, s.tool, s.target, s.agent])).toEqual(
    o.calls.flatMap(([tool, target]) => [
      ['before', tool, target, o.agent],
      ['after', tool, target, o.agent],
    ]),
  );
  const ids = hooked.map((s) => s.toolUseId);
  for (let k = 0; k < o.calls.length; k++) {
    expect(ids[2 * k], `call ${k}: before and after carry one id`).toBe(ids[2 * k + 1]);
    if (o.ids) expect(ids[2 * k]).toBe(o.ids[k]);
    if (o.idPattern) expect(ids[2 * k]).toMatch(o.idPattern);
  }
  expect(new Set(ids).size).toBe(o.calls.length);
  for (let k = 0; k < o.calls.length; k++) {
    expect(await snapshotFiles(repo, hooked[2 * k]!.id), `before call ${k}`).toEqual(STATES[k]);
    expect(await snapshotFiles(repo, hooked[2 * k + 1]!.id), `after call ${k}`).toEqual(STATES[k + 1]);
  }
  const end = picture(repo);
  expect(end).toEqual(pictureOf({ ...STATES.at(-1)!, ...o.untouched }));
  for (const [i, s] of hooked.entries()) {
    const want = STATES[Math.floor(i / 2) + (s.kind === 'after' ? 1 : 0)]!;
    const rb = await ckpt(repo, ['rollback', String(s.step)], env);
    expect(rb.exitCode, explainRun(rb)).toBe(0);
    expect(picture(repo), `rollback to step ${s.step} (${s.kind} ${s.tool})`).toEqual(pictureOf({ ...want, ...o.untouched }));
    expect(indexBytes(repo).equals(o.index)).toBe(true);
    expect(userRefs(repo)).toBe(o.refs);
  }
  // --undo takes the last rollback back: to where the one before it had gone (the last call's before).
  const undo = await ckpt(repo, ['rollback', '--undo'], env);
  expect(undo.exitCode, explainRun(undo)).toBe(0);
  expect(picture(repo)).toEqual(pictureOf({ ...STATES.at(-2)!, ...o.untouched }));
}

// ===================================================================== Claude Code, through the daemon

describe("Claude Code with ckpt hooks, served by the repository's daemon (real client, offline)", () => {
  let claude: EnsureResult | undefined;
  beforeAll(async () => {
    claude = await ensureClient('claude');
    if ('skip' in claude) console.warn(`[agent-hooks-real.test] Claude Code skipped: ${claude.skip}`);
  }, INSTALL_TIMEOUT);

  it('hooks install claude, ckpt.daemon on, a session of 3 tool calls: the daemon takes every before/after pair (its status counts them), rollback to each through it is byte-exact', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, claude);
    const repo = startRepo();
    const srv = await server('write-edit-bash');
    const e = await claudeEnv({ url: srv.url });
    cleanups.push(e.cleanup);
    const inst = await ckpt(repo, ['hooks', 'install', 'claude'], e.env);
    expect(inst.exitCode, explainRun(inst)).toBe(0);
    const settings = fs.readFileSync(path.join(repo, '.claude', 'settings.local.json'), 'utf8');
    git(repo, 'config', 'ckpt.daemon', 'true');
    startTestDaemon(repo);
    const index = indexBytes(repo);
    const refs = userRefs(repo);

    const r = await runClient(claude.bin, claudeArgv({ task: 'go', model: TEST_MODELS.claude }), { cwd: repo, env: e.env, timeoutMs: RUN_TIMEOUT - 60_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    expect(parseClaudeResult(r.stdout).is_error).toBe(false);
    expect(srv.turnRequests().flatMap((t) => t.calls).map((c) => c.name)).toEqual(['Write', 'Edit', 'Bash']);
    // Every pair came from the daemon: six snapshots, those after its first read in process.
    const w0 = testDaemonStatus(repo).status.worktrees.find((x) => x.worktree === repo)!;
    expect(w0.snapshots).toBe(6);
    expect(w0.incremental).toBeGreaterThanOrEqual(5);

    await checkSession({
      repo,
      env: e.env,
      agent: 'claude',
      calls: [
        ['Write', 'hello.txt'],
        ['Edit', 'hello.txt'],
        ['Bash', "printf 'generated\\n' > gen.txt && echo made gen.txt"],
      ],
      idPattern: /^toolu_/,
      untouched: { ...IGNORED, '.claude/settings.local.json': settings },
      index,
      refs,
    });
    // The rollbacks read the worktree through the daemon.
    expect(testDaemonStatus(repo).status.worktrees.find((x) => x.worktree === repo)!.reads).toBeGreaterThanOrEqual(6);
  });
});

// ===================================================================== Gemini CLI

describe('Gemini CLI with ckpt hooks (real client, offline)', () => {
  let gemini: EnsureResult | undefined;
  beforeAll(async () => {
    gemini = await ensureClient('gemini');
    if ('skip' in gemini) console.warn(`[agent-hooks-real.test] Gemini CLI skipped: ${gemini.skip}`);
  }, INSTALL_TIMEOUT);

  it('hooks install gemini, a session of 3 tool calls: a before/after pair per call, rollback to each is byte-exact; uninstall leaves no trace', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, gemini);
    const repo = startRepo();
    const exclude0 = fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'));
    const srv = await server('write-edit-bash');
    const e = await geminiEnv({ url: srv.url });
    cleanups.push(e.cleanup);
    const inst = await ckpt(repo, ['hooks', 'install', 'gemini'], e.env);
    expect(inst.exitCode, explainRun(inst)).toBe(0);
    expect(inst.stdout).toContain('BeforeTool/AfterTool');
    const settingsFile = path.join(repo, '.gemini', 'settings.json');
    const settings = fs.readFileSync(settingsFile, 'utf8');
    expect(JSON.parse(settings).hooks.BeforeTool[0].hooks[0].command).toMatch(/\/bin\/ckpt-hook\.cjs gemini$/);
    const index = indexBytes(repo);
    const refs = userRefs(repo);

    const r = await runClient(gemini.bin, geminiArgv({ task: 'go', model: TEST_MODELS.gemini }), { cwd: repo, env: e.env, timeoutMs: RUN_TIMEOUT - 60_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    expect(srv.turnRequests().flatMap((t) => t.calls).map((c) => c.name)).toEqual(['write_file', 'replace', 'run_shell_command']);
    // The hook answered `{}` (allow): every call ran.
    const results = parseJsonLines(r.stdout).filter((ev) => ev.type === 'tool_result');
    expect(results.map((ev) => ev.status)).toEqual(['success', 'success', 'success']);

    await checkSession({
      repo,
      env: e.env,
      agent: 'gemini',
      calls: [
        ['write_file', 'hello.txt'],
        ['replace', 'hello.txt'],
        ['run_shell_command', "printf 'generated\\n' > gen.txt && echo made gen.txt"],
      ],
      idPattern: /^gemini-[0-9a-f]{16}$/,
      untouched: { ...IGNORED, '.gemini/settings.json': settings },
      index,
      refs,
    });

    const un = await ckpt(repo, ['hooks', 'uninstall', 'gemini'], e.env);
    expect(un.exitCode, explainRun(un)).toBe(0);
    expect(fs.existsSync(path.join(repo, '.gemini'))).toBe(false);
    expect(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude')).equals(exclude0)).toBe(true);
  });
});

describe('Gemini CLI in a race: hooks through GEMINI_CLI_SYSTEM_DEFAULTS_PATH, no file of the user touched', () => {
  let gemini: EnsureResult | undefined;
  beforeAll(async () => {
    gemini = await ensureClient('gemini');
  }, INSTALL_TIMEOUT);

  it('race gemini through bin/race.js: a before/after pair per tool call in the attempt, ~/.gemini and the checkout unchanged', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, gemini);
    const repo = startRepo();
    const srv = await server('write-edit-bash');
    const e = await geminiEnv({ url: srv.url });
    cleanups.push(e.cleanup);
    const userSettings = fs.readFileSync(e.settingsPath);
    const before = picture(repo);
    const worktrees = tempDir('ckpt-wt-');
    // Gemini CLI reads a system settings file only where root owns every directory above it:
    // not under /tmp (the repository's race directory here), so ckpt uses its state directory.
    const secure = path.join(cacheDir(), 'homes');
    fs.mkdirSync(secure, { recursive: true });
    const state = fs.mkdtempSync(path.join(secure, 'state-'));
    cleanups.push(() => fsp.rm(state, { recursive: true, force: true }));
    const env = { ...e.env, XDG_STATE_HOME: state, PATH: [path.dirname(gemini.bin), e.env.PATH].join(path.delimiter), NO_COLOR: '1' };
    const r = await execa(process.execPath, [RACE, 'go', '--models', `gemini@${TEST_MODELS.gemini}`, '--worktree-dir', worktrees, '--timeout', '3m'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: RUN_TIMEOUT - 60_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    const shown = JSON.parse((await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false })).stdout);
    const a = shown.attempts[0];
    expect(a.state, explainRun(r)).toBe('done');
    if (process.getuid?.() !== 0) {
      // Not root: Gemini CLI would skip a system file ckpt can write, so none is given and the watcher alone records the attempt.
      expect(a.env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH).toBeUndefined();
      expect((await steps(a.dir, env)).filter((s) => s.kind === 'before' || s.kind === 'after')).toEqual([]);
      expect(fs.readFileSync(e.settingsPath).equals(userSettings)).toBe(true);
      return;
    }
    expect(a.env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH).toBe(path.join(state, 'ckpt', 'races', shown.id, 'gemini-settings.json'));
    // Gone with the race's end.
    expect(fs.readdirSync(path.join(state, 'ckpt', 'races'))).toEqual([]);
    const log = await steps(a.dir, env);
    const hooked = log.filter((s) => s.kind === 'before' || s.kind === 'after');
    expect(hooked.map((s) => [s.kind, s.tool, s.agent])).toEqual(
      ['write_file', 'replace', 'run_shell_command'].flatMap((t) => [['before', t, 'gemini'], ['after', t, 'gemini']]),
    );
    for (let k = 0; k < 3; k++) {
      expect(hooked[2 * k]!.toolUseId).toBe(hooked[2 * k + 1]!.toolUseId);
      expect(await snapshotFiles(repo, hooked[2 * k + 1]!.id)).toEqual(STATES[k + 1]);
    }
    // The race's trailers are on the hooks' steps too.
    const body = git(repo, `--git-dir=${storeDir(repo)}`, 'log', '-1', '--format=%B', hooked[0]!.id);
    expect(body).toContain(`Race: ${shown.id}`);
    // Nothing of the user's changed: the checkout, ~/.gemini/settings.json (Gemini CLI adds its own history and tmp there).
    expect(picture(repo)).toEqual(before);
    expect(fs.readFileSync(e.settingsPath).equals(userSettings)).toBe(true);
  });
});

// ===================================================================== Codex CLI

describe('Codex CLI with ckpt hooks (real client, offline)', () => {
  let codex: EnsureResult | undefined;
  beforeAll(async () => {
    codex = await ensureClient('codex');
    if ('skip' in codex) console.warn(`[agent-hooks-real.test] Codex skipped: ${codex.skip}`);
  }, INSTALL_TIMEOUT);

  it('hooks install codex --global, a session of 3 tool calls (apply_patch x2, Bash): a pair per call with its call id, rollback to each is byte-exact', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, codex);
    const repo = startRepo();
    const srv = await server('write-edit-bash');
    const e = await codexEnv({ url: srv.url });
    cleanups.push(e.cleanup);
    const inst = await ckpt(repo, ['hooks', 'install', 'codex', '--global'], e.env);
    expect(inst.exitCode, explainRun(inst)).toBe(0);
    expect(inst.stdout).toContain(path.join(e.codexHome, 'hooks.json'));
    expect(inst.stdout).toMatch(/note: Codex runs a hook only once it is trusted/);
    const index = indexBytes(repo);
    const refs = userRefs(repo);

    // The hook was never reviewed in /hooks: only the bypass lets it run.
    const r = await runClient(codex.bin, codexArgv({ task: 'go', dir: repo, model: TEST_MODELS.codex, bypassHookTrust: true }), { cwd: repo, env: e.env, timeoutMs: RUN_TIMEOUT - 60_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    const calls = srv.turnRequests().flatMap((t) => t.calls);
    expect(calls.map((c) => c.name)).toEqual(['apply_patch', 'apply_patch', 'exec_command']);

    await checkSession({
      repo,
      env: e.env,
      agent: 'codex',
      calls: [
        ['apply_patch', 'hello.txt'],
        ['apply_patch', 'hello.txt'],
        ['Bash', "printf 'generated\\n' > gen.txt && echo made gen.txt"],
      ],
      ids: calls.map((c) => c.id),
      untouched: IGNORED,
      index,
      refs,
    });

    const before = fs.readdirSync(e.codexHome).sort();
    const un = await ckpt(repo, ['hooks', 'uninstall', 'codex', '--global'], e.env);
    expect(un.exitCode, explainRun(un)).toBe(0);
    expect(fs.existsSync(path.join(e.codexHome, 'hooks.json'))).toBe(false);
    expect(fs.readdirSync(e.codexHome).sort()).toEqual(before.filter((f) => f !== 'hooks.json'));
  });
});

// ===================================================================== install / uninstall

describe('hooks install / uninstall gemini: exactly what was added, nothing else', () => {
  const env = (home: string): NodeJS.ProcessEnv => ({ ...process.env, HOME: home, XDG_STATE_HOME: path.join(home, '.local', 'state') });

  it('an existing project settings file (its own formatting) comes back byte for byte; a tracked one is refused', async () => {
    const repo = startRepo();
    const home = tempDir('ckpt-home-');
    const original = '{\n\t"model": {"name": "gemini-2.5-pro"},\n\t"hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", "command": "echo mine"}]}]}\n}';
    write(repo, { '.gemini/settings.json': original });
    const exclude0 = fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'));
    const a = await ckpt(repo, ['hooks', 'install', 'gemini', '--json'], env(home));
    expect(a.exitCode, explainRun(a)).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ changed: true, excluded: true });
    const doc = JSON.parse(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8'));
    expect(doc.model).toEqual({ name: 'gemini-2.5-pro' });
    expect(doc.hooks.BeforeTool.map((m: any) => m.hooks[0].command)).toEqual(['echo mine', expect.stringMatching(/\/bin\/ckpt-hook\.cjs gemini$/)]);
    expect(doc.hooks.AfterTool).toHaveLength(1);
    // Twice: nothing more.
    const twice = await ckpt(repo, ['hooks', 'install', 'gemini', '--json'], env(home));
    expect(JSON.parse(twice.stdout)).toMatchObject({ changed: false });
    // The settings file is out of snapshots.
    const snap = await ckpt(repo, ['snap', '--json'], env(home));
    expect(snap.exitCode, explainRun(snap)).toBe(0);
    expect(Object.keys(await snapshotFiles(repo, (await steps(repo, env(home))).at(-1)!.id))).not.toContain('.gemini/settings.json');
    const b = await ckpt(repo, ['hooks', 'uninstall', 'gemini'], env(home));
    expect(b.exitCode, explainRun(b)).toBe(0);
    expect(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8')).toBe(original);
    expect(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude')).equals(exclude0)).toBe(true);

    // Edited after the install: uninstall removes ckpt's entries only, keeps the edit.
    await ckpt(repo, ['hooks', 'install', 'gemini'], env(home));
    const edited = JSON.parse(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8'));
    edited.ui = { theme: 'dark' };
    fs.writeFileSync(path.join(repo, '.gemini/settings.json'), JSON.stringify(edited));
    await ckpt(repo, ['hooks', 'uninstall', 'gemini'], env(home));
    const after = JSON.parse(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8'));
    expect(after).toEqual({ ...JSON.parse(original), ui: { theme: 'dark' } });

    // Tracked: the project's file, not the user's. Refused, nothing changed.
    fs.writeFileSync(path.join(repo, '.gemini/settings.json'), original);
    git(repo, 'add', '-f', '.gemini/settings.json');
    const index = indexBytes(repo);
    const t = await ckpt(repo, ['hooks', 'install', 'gemini', '--json'], env(home));
    expect(t.exitCode).toBe(2);
    expect(JSON.parse(t.stdout).error.code).toBe('AGENT_SETTINGS_TRACKED');
    expect(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8')).toBe(original);
    expect(indexBytes(repo).equals(index)).toBe(true);
  });

  it('--global: ~/.gemini/settings.json made and removed (with the directory it made), or given back byte for byte', async () => {
    const repo = startRepo();
    const home = tempDir('ckpt-home-');
    const a = await ckpt(repo, ['hooks', 'install', 'gemini', '--global'], env(home));
    expect(a.exitCode, explainRun(a)).toBe(0);
    expect(fs.existsSync(path.join(repo, '.gemini'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(home, '.gemini/settings.json'), 'utf8')).hooks.AfterTool[0].matcher).toBe('^(write_file|replace|run_shell_command)$');
    const b = await ckpt(repo, ['hooks', 'uninstall', 'gemini', '--global'], env(home));
    expect(b.exitCode, explainRun(b)).toBe(0);
    expect(fs.existsSync(path.join(home, '.gemini'))).toBe(false);

    const mine = '{"security":{"auth":{"selectedType":"gemini-api-key"}}}';
    write(home, { '.gemini/settings.json': mine });
    await ckpt(repo, ['hooks', 'install', 'gemini', '--global'], env(home));
    expect(fs.readFileSync(path.join(home, '.gemini/settings.json'), 'utf8')).not.toBe(mine);
    await ckpt(repo, ['hooks', 'uninstall', 'gemini', '--global'], env(home));
    expect(fs.readFileSync(path.join(home, '.gemini/settings.json'), 'utf8')).toBe(mine);
  });

  it('codex: an existing project .codex/hooks.json comes back byte for byte; the notes say what Codex needs to run it', async () => {
    const repo = startRepo();
    const home = tempDir('ckpt-home-');
    const original = '{ "hooks": { "Stop": [ { "hooks": [ { "type": "command", "command": "say done" } ] } ] } }\n';
    write(repo, { '.codex/hooks.json': original });
    const a = await ckpt(repo, ['hooks', 'install', 'codex', '--json'], env(home));
    expect(a.exitCode, explainRun(a)).toBe(0);
    const res = JSON.parse(a.stdout);
    expect(res).toMatchObject({ changed: true, excluded: true });
    expect(res.notes.join('\n')).toMatch(/trusted project/);
    const doc = JSON.parse(fs.readFileSync(path.join(repo, '.codex/hooks.json'), 'utf8'));
    expect(Object.keys(doc.hooks).sort()).toEqual(['PostToolUse', 'PreToolUse', 'Stop']);
    expect(doc.hooks.PreToolUse[0].hooks[0]).toMatchObject({ type: 'command', command: expect.stringMatching(/\/bin\/ckpt-hook\.cjs codex$/), timeout: 30 });
    const b = await ckpt(repo, ['hooks', 'uninstall', 'codex'], env(home));
    expect(b.exitCode, explainRun(b)).toBe(0);
    expect(fs.readFileSync(path.join(repo, '.codex/hooks.json'), 'utf8')).toBe(original);
  });

  it('ckpt hook gemini|codex for any stdin: exit 0, the reply each agent reads ({} for Gemini, nothing for Codex), what it could not use logged, no byte changed', async () => {
    const repo = startRepo();
    const before = picture(repo);
    const index = indexBytes(repo);
    const inputs = ['', 'null', '[1]', '{"hook_event_name": 3}', 'not json', JSON.stringify({ hook_event_name: 'BeforeTool', cwd: 'relative', tool_input: [] })];
    for (const [agent, reply] of [['gemini', '{}'], ['codex', '']] as const) {
      for (const input of inputs) {
        const r = await execa(process.execPath, [HOOK, agent], { cwd: repo, input, reject: false, timeout: 60_000 });
        expect([r.exitCode, r.stdout], `${agent} ${JSON.stringify(input)}`).toEqual([0, reply]);
      }
    }
    const logged = fs.readFileSync(path.join(repo, '.git', 'ckpt', 'hook.log'), 'utf8');
    for (const agent of ['gemini', 'codex']) {
      expect(logged).toContain(`ckpt hook ${agent}: stdin was empty`);
      expect(logged).toContain(`ckpt hook ${agent}: stdin is not JSON`);
      expect(logged).toContain(`ckpt hook ${agent}: hook_event_name is number, not a string: ignored`);
    }
    expect(logged).toContain('cwd "relative" is not an absolute path: ignored');
    expect(picture(repo)).toEqual(before);
    expect(indexBytes(repo).equals(index)).toBe(true);
  });

  it('malformed settings: AGENT_SETTINGS_INVALID naming the file, nothing changed', async () => {
    const repo = startRepo();
    const bad = '{"hooks": {"BeforeTool": {}}}';
    write(repo, { '.gemini/settings.json': bad });
    const r = await ckpt(repo, ['hooks', 'install', 'gemini', '--json'], process.env);
    expect(r.exitCode).toBe(2);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe('AGENT_SETTINGS_INVALID');
    expect(err.message).toContain('hooks.BeforeTool is an object');
    expect(fs.readFileSync(path.join(repo, '.gemini/settings.json'), 'utf8')).toBe(bad);
  });
});
