/**
 * OpenCode's hooks through ckpt's plugin, with the REAL client (opencode-ai, pinned in
 * test/support/clients.ts) driven offline by the scripted model server's Chat Completions
 * API: `ckpt hooks install opencode` writes the plugin, a session makes real tool calls
 * (write, edit, bash), each one gets its before/after pair, and a rollback to any of them
 * is byte-exact with the user's index, HEAD and ignored files untouched. Also: install /
 * uninstall round-trips, the hook on garbage, the scripted server's Chat Completions and
 * the output parser. The plugin passed through OPENCODE_CONFIG_CONTENT (as a race passes
 * it) is tested by test/race-opencode-real.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCodePluginSource, openCodeRaceEnv, parseOpenCodeHook } from '../src/agents/opencode.js';
import { hookCommandLine } from '../src/agents/hooks.js';
import { parseOutput } from '../src/agents/presets.js';
import { loadScript, startModelServer, type ModelServer } from './support/model-server.js';
import { TEST_MODELS, ensureClient, opencodeArgv, opencodeEnv, runClient, seedOpenCodeDir, explainRun, needClient, type EnsureResult } from './support/clients.js';
import { CLI, git, indexBytes, makeRepo, picture, storeDir, tempDir, userRefs, write, type Entry } from './support/repo.js';

const INSTALL_TIMEOUT = 15 * 60_000;
const RUN_TIMEOUT = 180_000;

type Files = Record<string, string>;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function ckpt(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env, stdin?: string) {
  return execa(process.execPath, [CLI, ...args], { cwd, env, extendEnv: false, reject: false, timeout: 60_000, ...(stdin === undefined ? { stdin: 'ignore' as const } : { input: stdin }) });
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

/** A picture split in what snapshots hold and what they never do (ignored files, OpenCode's own directory with ckpt's excluded plugin). */
function split(pic: Record<string, Entry>): { seen: Record<string, Entry>; hidden: Record<string, Entry> } {
  const seen: Record<string, Entry> = {};
  const hidden: Record<string, Entry> = {};
  for (const [k, v] of Object.entries(pic)) (k === '.opencode' || k.startsWith('.opencode/') || k === 'secret.env' ? hidden : seen)[k] = v;
  return { seen, hidden };
}

// ------------------------------------------------------------------ expected worktrees

const BASE: Files = { 'README.md': '# app\n', 'old.txt': 'old\n', '.gitignore': 'secret.env\n' };
const BASH = "printf 'built\\n' > out.txt && printf '# app\\nbuilt\\n' > README.md && echo built";
/** STATES[k]: the worktree before tool call k of opencode-hooks.json (and after call k-1). */
const STATES: Files[] = (() => {
  const s0 = { ...BASE };
  const s1 = { ...s0, 'hello.txt': 'hello\nfrom ckpt\n' };
  const s2 = { ...s1, 'hello.txt': 'hello world\nfrom ckpt\n' };
  const s3 = { ...s2, 'out.txt': 'built\n', 'README.md': '# app\nbuilt\n' };
  const s4: Files = { ...s3 };
  delete s4['old.txt'];
  return [s0, s1, s2, s3, s4];
})();
/** [tool, target] of each tool call, as its checkpoints name it. */
const CALLS: [string, string][] = [
  ['write', 'hello.txt'],
  ['edit', 'hello.txt'],
  ['bash', BASH],
  ['bash', "rm 'old.txt'"],
];

describe('OpenCode (real client, offline) through ckpt\'s plugin', () => {
  let opencode: EnsureResult | undefined;
  beforeAll(async () => {
    opencode = await ensureClient('opencode');
    if ('skip' in opencode) console.warn(`[opencode-hooks.test] OpenCode skipped: ${opencode.skip}`);
  }, INSTALL_TIMEOUT);

  it(
    'a session of 4 tool calls: a before/after pair per call; a rollback to each is byte-exact and undoable; index, HEAD and ignored files untouched',
    async (ctx) => {
      needClient(ctx, opencode);
      const repo = makeRepo(BASE);
      write(repo, { 'secret.env': 'TOKEN=1\n' });
      // A staged entry the agent never sees: the user's index differs from HEAD and must stay as it is.
      git(repo, 'update-index', '--add', '--cacheinfo', `100644,${git(repo, 'hash-object', '-w', '/dev/null').trim()},staged-only.txt`);
      const srv: ModelServer = await startModelServer(loadScript('opencode-hooks'));
      cleanups.push(() => srv.close());
      const oc = await opencodeEnv({ url: srv.url });
      cleanups.push(oc.cleanup);
      await seedOpenCodeDir(path.join(repo, '.opencode'));

      const inst = await ckpt(repo, ['hooks', 'install', 'opencode', '--json'], oc.env);
      expect(inst.exitCode, explainRun(inst)).toBe(0);
      expect(JSON.parse(inst.stdout)).toMatchObject({ file: path.join(repo, '.opencode', 'plugins', 'ckpt.js'), changed: true, excluded: true });
      expect(git(repo, 'status', '--porcelain', '--untracked-files=all')).not.toContain('.opencode');
      const index0 = indexBytes(repo);
      const refs0 = userRefs(repo);

      const r = await runClient(opencode.bin, opencodeArgv({ task: 'Create hello.txt, greet the world in it, build, and remove old.txt.', model: TEST_MODELS.opencode }), { cwd: repo, env: oc.env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explainRun(r)).toBe(0);
      const hookLog = path.join(repo, '.git', 'ckpt', 'hook.log');
      expect(fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8') : '').toBe('');

      // The real client made the scripted calls, each answered with success.
      const turns = srv.turnRequests();
      expect(turns.map((t) => t.calls.map((c) => c.name).join(','))).toEqual(['write', 'edit', 'bash', 'bash', '']);
      expect(turns[0]!.cwd).toBe(repo);
      const ids = turns.flatMap((t) => t.calls.map((c) => c.id));
      expect(turns.at(-1)!.toolResults.map((t) => t.id)).toEqual(ids);
      const end = picture(repo);
      expect(split(end).seen).toEqual(pictureOf(STATES.at(-1)!));

      // A before/after pair per call, named after the tool and its target, with OpenCode's callID.
      const log = await steps(repo, oc.env);
      expect(log.map((s) => [s.kind, s.tool, s.target, s.toolUseId, s.agent])).toEqual(
        CALLS.flatMap(([tool, target], i) => [
          ['before', tool, target, ids[i], 'opencode'],
          ['after', tool, target, ids[i], 'opencode'],
        ]),
      );
      for (let k = 0; k < CALLS.length; k++) {
        expect(await snapshotFiles(repo, log[2 * k]!.id), `before call ${k}`).toEqual(STATES[k]);
        expect(await snapshotFiles(repo, log[2 * k + 1]!.id), `after call ${k}`).toEqual(STATES[k + 1]);
      }

      // Roll back to every checkpoint: exactly that state; --undo brings the end back. The
      // user's index, HEAD, refs, ignored file and the excluded plugin are never touched.
      for (const [n, s] of log.entries()) {
        const state = STATES[Math.floor(n / 2) + (s.kind === 'after' ? 1 : 0)]!;
        const rb = await ckpt(repo, ['rollback', String(s.step)], oc.env);
        expect(rb.exitCode, explainRun(rb)).toBe(0);
        const now = split(picture(repo));
        expect(now.seen, `rollback to ${s.kind} of call ${Math.floor(n / 2)}`).toEqual(pictureOf(state));
        expect(now.hidden).toEqual(split(end).hidden);
        expect(indexBytes(repo).equals(index0)).toBe(true);
        expect(userRefs(repo)).toBe(refs0);
        if (state === STATES.at(-1)) continue; // the live state already: nothing changed, nothing to undo
        const undo = await ckpt(repo, ['rollback', '--undo'], oc.env);
        expect(undo.exitCode, explainRun(undo)).toBe(0);
        expect(picture(repo)).toEqual(end);
      }
    },
    RUN_TIMEOUT + 120_000,
  );
});

describe('hooks install|uninstall opencode', () => {
  it('round-trips byte for byte: worktree, info/exclude, index; twice is a no-op; a foreign or tracked file is refused', async () => {
    const repo = makeRepo({ 'README.md': '# app\n', '.opencode/agents/review.md': 'review\n' });
    const exclude = path.join(repo, '.git', 'info', 'exclude');
    const before = { pic: picture(repo), exclude: fs.readFileSync(exclude), index: indexBytes(repo) };
    const first = await ckpt(repo, ['hooks', 'install', 'opencode', '--json']);
    expect(first.exitCode, explainRun(first)).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ changed: true, excluded: true });
    const plugin = path.join(repo, '.opencode', 'plugins', 'ckpt.js');
    expect(fs.readFileSync(plugin, 'utf8')).toContain(hookCommandLine('opencode', CLI));
    const again = await ckpt(repo, ['hooks', 'install', 'opencode', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false, excluded: false });
    // Kept out of snapshots: a snapshot taken now does not hold it.
    expect((await ckpt(repo, ['snap', '-m', 'x'])).exitCode).toBe(0);
    expect(git(repo, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    const un = await ckpt(repo, ['hooks', 'uninstall', 'opencode', '--json']);
    expect(un.exitCode, explainRun(un)).toBe(0);
    expect(JSON.parse(un.stdout)).toMatchObject({ changed: true, excluded: true });
    expect(picture(repo)).toEqual(before.pic);
    expect(fs.readFileSync(exclude).equals(before.exclude)).toBe(true);
    expect(indexBytes(repo).equals(before.index)).toBe(true);
    expect(JSON.parse((await ckpt(repo, ['hooks', 'uninstall', 'opencode', '--json'])).stdout)).toMatchObject({ changed: false });

    // Somebody else's ckpt.js: refused, nothing changed.
    write(repo, { '.opencode/plugins/ckpt.js': 'export const Mine = async () => ({});\n' });
    const foreign = await ckpt(repo, ['hooks', 'install', 'opencode']);
    expect(foreign.exitCode).toBe(2);
    expect(foreign.stderr).toContain("is not ckpt's plugin");
    expect(fs.readFileSync(path.join(repo, '.opencode/plugins/ckpt.js'), 'utf8')).toBe('export const Mine = async () => ({});\n');
    const kept = await ckpt(repo, ['hooks', 'uninstall', 'opencode', '--json']);
    expect(JSON.parse(kept.stdout)).toMatchObject({ changed: false });
    expect(fs.existsSync(path.join(repo, '.opencode/plugins/ckpt.js'))).toBe(true);

    // A tracked plugin path (shared with every clone): refused, pointing at --global.
    const tracked = makeRepo({ 'README.md': '# app\n', '.opencode/plugins/ckpt.js': openCodePluginSource('true') });
    const pic = picture(tracked);
    const t = await ckpt(tracked, ['hooks', 'install', 'opencode']);
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toMatch(/tracked by git[\s\S]*--global/);
    expect(picture(tracked)).toEqual(pic);
  });

  it('--global writes $XDG_CONFIG_HOME/opencode/plugins/ckpt.js and removes exactly it', async () => {
    const repo = makeRepo({ 'README.md': '# app\n' });
    const xdg = tempDir('ckpt-xdg-');
    write(xdg, { 'opencode/opencode.json': '{}\n' });
    const env = { ...process.env, XDG_CONFIG_HOME: xdg };
    const before = picture(xdg);
    const repoBefore = picture(repo);
    const i = await ckpt(repo, ['hooks', 'install', 'opencode', '--global', '--json'], env);
    expect(i.exitCode, explainRun(i)).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ file: path.join(xdg, 'opencode', 'plugins', 'ckpt.js'), changed: true, excluded: false });
    expect(picture(repo)).toEqual(repoBefore);
    const u = await ckpt(repo, ['hooks', 'uninstall', 'opencode', '--global'], env);
    expect(u.exitCode, explainRun(u)).toBe(0);
    expect(picture(xdg)).toEqual(before);
  });
});

describe('ckpt hook opencode', () => {
  it('exits 0 on any stdin and logs what it could not use; a real payload records its step', async () => {
    const repo = makeRepo({ 'README.md': '# app\n' });
    const hookLog = path.join(repo, '.git', 'ckpt', 'hook.log');
    for (const stdin of ['', 'not json', 'null', '[1,2]', '42', '{"hook_event_name": 7, "args": "x"}', '{"hook_event_name": "tool.execute.middle"}']) {
      const r = await ckpt(repo, ['hook', 'opencode'], process.env, stdin);
      expect([r.exitCode, r.stdout], JSON.stringify(stdin)).toEqual([0, '']);
    }
    const logged = fs.readFileSync(hookLog, 'utf8');
    for (const line of ['stdin was empty', 'stdin is not JSON', 'stdin is null', 'stdin is an array', 'stdin is a number', 'hook_event_name is number', 'args is string', 'tool.execute.middle']) expect(logged).toContain(line);
    expect((await steps(repo, process.env)).length).toBe(0);

    const payload = { hook_event_name: 'tool.execute.before', tool: 'write', sessionID: 's1', callID: 'call_1', args: { filePath: path.join(repo, 'a.txt'), content: 'a' }, cwd: repo };
    expect((await ckpt(os.tmpdir(), ['hook', 'opencode'], process.env, JSON.stringify(payload))).exitCode).toBe(0);
    const log = await steps(repo, process.env);
    expect(log.map((s) => [s.kind, s.tool, s.target, s.toolUseId, s.agent])).toEqual([['before', 'write', 'a.txt', 'call_1', 'opencode']]);
  });

  it('reads states: a permission asked is waiting, session.idle ends the turn', () => {
    expect(parseOpenCodeHook(JSON.stringify({ hook_event_name: 'permission.asked', sessionID: 's', detail: 'bash', cwd: '/r' }))).toMatchObject({ step: null, state: { state: 'waiting', reason: 'permission', detail: 'permission: bash' }, sessionId: 's', cwd: '/r' });
    expect(parseOpenCodeHook(JSON.stringify({ hook_event_name: 'session.idle', sessionID: 's' }))).toMatchObject({ step: null, state: { state: 'turn-end' } });
    expect(parseOpenCodeHook(JSON.stringify({ hook_event_name: 'tool.execute.after', tool: 'bash', callID: 'c', args: { command: 'ls' } }))).toMatchObject({ step: { kind: 'after', tool: 'bash', target: 'ls', toolUseId: 'c' }, state: { state: 'tool-done', tool: 'bash' } });
  });

  it('OPENCODE_CONFIG_CONTENT of the user is kept and extended; one that is not a JSON object is left alone', () => {
    expect(openCodeRaceEnv('/p/ckpt.js', {}).env).toEqual({ OPENCODE_CONFIG_CONTENT: JSON.stringify({ plugin: ['file:///p/ckpt.js'] }) });
    const mine = JSON.stringify({ model: 'x/y', plugin: ['their-plugin'] });
    expect(JSON.parse(openCodeRaceEnv('/p/ckpt.js', { OPENCODE_CONFIG_CONTENT: mine }).env.OPENCODE_CONFIG_CONTENT!)).toEqual({ model: 'x/y', plugin: ['their-plugin', 'file:///p/ckpt.js'] });
    const bad = openCodeRaceEnv('/p/ckpt.js', { OPENCODE_CONFIG_CONTENT: '[1]' });
    expect(bad.env).toEqual({});
    expect(bad.problem).toMatch(/not a JSON object/);
  });
});

describe('scripted model server: Chat Completions (OpenCode)', () => {
  const body = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    model: 'test-model',
    messages: [{ role: 'system', content: 'You are opencode.\nWorking directory: /w/repo\n' }, { role: 'user', content: 'go' }],
    tools: ['bash', 'write', 'edit', 'read'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } })),
    ...extra,
  });
  /** A response's JSON body, as the assertions read it (their matchers check its shape). */
  const jsonOf = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
  const post = (url: string, b: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(b) });

  it('streams tool calls as deltas (name first, then the arguments in pieces), answers plain JSON, a side request without a turn, and errors OpenAI-shaped', async () => {
    const srv = await startModelServer({ turns: [{ text: 'writing', write: { path: 'a.txt', content: 'A\n' } }, { bash: 'ls {cwd}' }, { error: { status: 500, message: 'boom' } }, { final: 'done' }] });
    cleanups.push(() => srv.close());
    const side = await jsonOf(post(`${srv.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'title?' }] }));
    expect(side.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'OK' }, finish_reason: 'stop' });

    const res = await post(`${srv.url}/v1/chat/completions`, body({ stream: true, stream_options: { include_usage: true } }), { 'x-session-id': 'ses_1' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const lines = (await res.text()).split('\n\n').filter(Boolean).map((l) => l.replace(/^data: /, ''));
    expect(lines.at(-1)).toBe('[DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[1].choices[0].delta).toEqual({ content: 'writing' });
    const calls = chunks.flatMap((c) => c.choices.flatMap((ch: any) => ch.delta?.tool_calls ?? []));
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'write', arguments: '' } });
    expect(JSON.parse(calls.map((c: any) => c.function.arguments).join(''))).toEqual({ filePath: '/w/repo/a.txt', content: 'A\n' });
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } });

    const plain = await jsonOf(post(`${srv.url}/v1/chat/completions`, body(), { 'x-session-id': 'ses_1' }));
    expect(plain.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'bash' } }] } });
    expect(JSON.parse(plain.choices[0].message.tool_calls[0].function.arguments)).toMatchObject({ command: 'ls /w/repo' });
    const err = await post(`${srv.url}/v1/chat/completions`, body(), { 'x-session-id': 'ses_1' });
    expect(err.status).toBe(500);
    expect((await jsonOf(err)).error).toMatchObject({ message: 'boom', type: 'api_error' });
    const last = await post(`${srv.url}/v1/chat/completions`, body({ messages: [...(body().messages as unknown[]), { role: 'tool', tool_call_id: 'call_x', content: 'ok' }] }), { 'x-session-id': 'ses_1' });
    expect((await jsonOf(last)).choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'done' } });
    // Another session starts at turn 0; every recorded request knows its session, cwd, tools and tool results.
    const other = await jsonOf(post(`${srv.url}/v1/chat/completions`, body(), { 'x-session-id': 'ses_2' }));
    expect(other.choices[0].message.tool_calls[0].function.name).toBe('write');
    const turns = srv.turnRequests();
    expect(turns.map((t) => [t.api, t.session, t.turn])).toEqual([['chat', 'ses_1', 0], ['chat', 'ses_1', 1], ['chat', 'ses_1', 2], ['chat', 'ses_1', 3], ['chat', 'ses_2', 0]]);
    expect(turns[0]!.cwd).toBe('/w/repo');
    expect(turns[0]!.tools).toEqual(['bash', 'write', 'edit', 'read']);
    expect(turns[3]!.toolResults).toEqual([{ id: 'call_x', output: 'ok' }]);
  });
});

describe('parseOutput opencode-jsonl (run --format json, 1.18.33)', () => {
  it('sums tokens and cost over step_finish parts, takes the session id and the last text; an error line fails the run with its message', () => {
    const lines = [
      { type: 'step_start', sessionID: 'ses_1', part: { type: 'step-start' } },
      { type: 'text', sessionID: 'ses_1', part: { type: 'text', text: 'first' } },
      { type: 'step_finish', sessionID: 'ses_1', part: { type: 'step-finish', tokens: { total: 150, input: 120, output: 30, reasoning: 0, cache: { write: 0, read: 5 } }, cost: 0.001 } },
      { type: 'text', sessionID: 'ses_1', part: { type: 'text', text: 'done' } },
      { type: 'step_finish', sessionID: 'ses_1', part: { type: 'step-finish', tokens: { total: 150, input: 120, output: 30, reasoning: 0, cache: { write: 0, read: 0 } }, cost: 0.002 } },
    ].map((l) => JSON.stringify(l)).join('\n');
    const ok = parseOutput('opencode-jsonl', lines);
    expect(ok).toMatchObject({ tokens: { input: 240, output: 60, cached: 5 }, resultText: 'done', isError: false, sessionId: 'ses_1' });
    expect(ok.costUsd).toBeCloseTo(0.003);
    const err = parseOutput('opencode-jsonl', JSON.stringify({ type: 'error', sessionID: 'ses_2', error: { name: 'APIError', data: { message: 'ckpt test: internal server error', statusCode: 500 } } }));
    expect(err).toMatchObject({ tokens: null, costUsd: null, resultText: 'ckpt test: internal server error', isError: true, sessionId: 'ses_2' });
  });
});
