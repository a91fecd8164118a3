/**
 * The REAL Claude Code and Codex CLI clients, run offline against the scripted model
 * server (test/support/model-server.ts). The clients are installed once into the test
 * cache (test/support/clients.ts); a test is skipped only when that install is impossible.
 * Findings are written up in docs/agents-findings.md.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadScript, startModelServer, type ModelServer, type Script } from './support/model-server.js';
import {
  TEST_MODELS,
  claudeArgv,
  claudeEnv,
  claudeHookSettings,
  codexArgv,
  codexEnv,
  ensureClient,
  geminiArgv,
  parseClaudeResult,
  parseJsonLines,
  runClient,
  needClient,
  type EnsureResult,
} from './support/clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOOK_RECORDER = path.join(HERE, 'fixtures', 'hook-recorder.mjs');
const INSTALL_TIMEOUT = 15 * 60_000;
const RUN_TIMEOUT = 240_000;

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Things to undo after each test. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function tempRepo(files: Record<string, string> = {}): Promise<string> {
  const dir = fs.realpathSync(await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-clients-')));
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  const git = (...a: string[]) => execa('git', a, { cwd: dir, env: { GIT_CONFIG_NOSYSTEM: '1', HOME: dir } });
  await git('init', '-q', '-b', 'main');
  for (const [p, c] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await fsp.writeFile(path.join(dir, p), c);
  }
  await git('add', '-A');
  await git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'init');
  return dir;
}

async function server(script: Script | string): Promise<ModelServer> {
  const s = await startModelServer(typeof script === 'string' ? loadScript(script) : script);
  cleanups.push(() => s.close());
  return s;
}

function readHooks(file: string): any[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Print the client output when an assertion fails: the message is the useful part. */
function explain(r: { exitCode: number | undefined; stdout: string; stderr: string }): string {
  return `exit ${r.exitCode}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

// ===================================================================== model server (no client)

function sseEvents(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => {
      const event = /^event: (.*)$/m.exec(b)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(b)?.[1] ?? 'null');
      return { event, data };
    });
}

describe('scripted model server', () => {
  const claudeBody = (extra: Record<string, unknown> = {}) => ({
    model: 'claude-x',
    max_tokens: 100,
    system: [{ type: 'text', text: 'hi' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'task' }] }, { role: 'system', content: 'x\n - Primary working directory: /w/repo\n - Is a git repository: true' }],
    tools: [{ name: 'Bash' }, { name: 'Write' }, { name: 'Edit' }, { name: 'Read' }],
    ...extra,
  });
  /** A response's JSON body, as the assertions read it (their matchers check its shape). */
  const jsonOf = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('answers meta and side requests without consuming turns, then plays turns in order', async () => {
    const srv = await server({ turns: [{ text: 'writing', write: { path: 'a.txt', content: 'A\n' } }, { bash: 'ls {cwd}' }, { final: 'done' }] });
    expect((await fetch(`${srv.url}/api/hello`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${srv.url}/v1/models`)).status).toBe(200);
    const count = await jsonOf(post(`${srv.url}/v1/messages/count_tokens?beta=true`, claudeBody()));
    expect(count.input_tokens).toBeGreaterThan(0);
    // A request without agent tools (title generation, summaries, ...) is a side request.
    const side = await jsonOf(post(`${srv.url}/v1/messages?beta=true`, claudeBody({ tools: undefined, model: 'claude-haiku-x' })));
    expect(side).toMatchObject({ type: 'message', stop_reason: 'end_turn', content: [{ type: 'text', text: 'OK' }] });

    // Non-streaming turn 0: text + Write with the path made absolute from the system prompt's cwd.
    const t0 = await jsonOf(post(`${srv.url}/v1/messages?beta=true`, claudeBody()));
    expect(t0.stop_reason).toBe('tool_use');
    expect(t0.content).toEqual([
      { type: 'text', text: 'writing' },
      { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'Write', input: { file_path: '/w/repo/a.txt', content: 'A\n' } },
    ]);
    expect(t0.usage).toMatchObject({ input_tokens: 120, output_tokens: 30 });

    // Streaming turn 1: Bash with {cwd} filled in, input streamed as input_json_delta.
    const res = await post(`${srv.url}/v1/messages?beta=true`, claudeBody({ stream: true }));
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const evs = sseEvents(await res.text());
    expect(evs.map((e) => e.event)).toEqual([
      'message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(evs[1]!.data.content_block).toMatchObject({ type: 'tool_use', name: 'Bash', input: {} });
    const json = evs.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.partial_json).join('');
    expect(JSON.parse(json)).toMatchObject({ command: 'ls /w/repo' });
    expect(evs[5]!.data).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } });

    const t2 = await jsonOf(post(`${srv.url}/v1/messages?beta=true`, claudeBody()));
    expect(t2).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text', text: 'done' }] });
    const t3 = await jsonOf(post(`${srv.url}/v1/messages?beta=true`, claudeBody()));
    expect(t3.content[0].text).toBe('(script exhausted)');
    expect(srv.turnRequests().map((r) => r.turn)).toEqual([0, 1, 2, -1]);
    expect(srv.requests.filter((r) => r.kind === 'side').length).toBe(1);
  });

  it('repeats an error turn `times` times, gives each session its own cursor, and speaks the Responses API', async () => {
    const srv = await server({
      turns: [
        { error: { status: 500, message: 'boom' }, times: 2 },
        { bash: 'echo hi' },
        { write: { path: 'x.txt', content: 'no newline' } },
        { edit: { path: 'missing.txt', old: 'a', new: 'b' } },
        { delete: 'gone.txt' },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const r = await post(`${srv.url}/v1/messages?beta=true`, claudeBody(), { 'x-claude-code-session-id': 's1' });
      expect(r.status).toBe(500);
      expect(await r.json()).toEqual({ type: 'error', error: { type: 'api_error', message: 'boom' } });
    }
    const ok = await jsonOf(post(`${srv.url}/v1/messages?beta=true`, claudeBody(), { 'x-claude-code-session-id': 's1' }));
    expect(ok.content[0]).toMatchObject({ name: 'Bash', input: { command: 'echo hi' } });

    // A Codex session starts at turn 0 again: its error body is OpenAI-shaped.
    const codexBody = {
      model: 'gpt-x',
      stream: true,
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: '<environment_context>\n  <cwd>/w/other</cwd>\n</environment_context>' }] }],
      tools: [{ type: 'function', name: 'exec_command' }, { type: 'custom', name: 'apply_patch' }],
    };
    const e1 = await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' });
    expect(e1.status).toBe(500);
    expect((await jsonOf(e1)).error).toMatchObject({ message: 'boom', type: 'api_error' });
    await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' });
    const evs = sseEvents(await (await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' })).text());
    expect(evs.map((e) => e.event)).toEqual(['response.created', 'response.output_item.added', 'response.output_item.done', 'response.completed']);
    expect(evs[2]!.data.item).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: 'echo hi' }), call_id: expect.stringMatching(/^call_/) });
    expect(evs[3]!.data.response.usage).toMatchObject({ input_tokens: 120, output_tokens: 30, total_tokens: 150 });
    // Content without a final newline cannot be an apply_patch Add File: it goes through the shell.
    const w = sseEvents(await (await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' })).text());
    expect(JSON.parse(w[2]!.data.item.arguments).cmd).toBe(`printf '%s' 'no newline' > 'x.txt'`);
    // An edit of a file the server cannot read becomes a failing command (as a bad model edit would).
    const m = sseEvents(await (await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' })).text());
    expect(JSON.parse(m[2]!.data.item.arguments).cmd).toContain('exit 1');
    const d = sseEvents(await (await post(`${srv.url}/v1/responses`, codexBody, { 'session-id': 'c1' })).text());
    expect(d[2]!.data.item).toMatchObject({ type: 'custom_tool_call', name: 'apply_patch', input: '*** Begin Patch\n*** Delete File: gone.txt\n*** End Patch\n' });
    expect(srv.turnRequests().find((r) => r.session === 'c1')!.cwd).toBe('/w/other');
  });
});

// ===================================================================== Claude Code

describe('Claude Code (real client, offline)', () => {
  let claude: EnsureResult | undefined;
  beforeAll(async () => {
    claude = await ensureClient('claude');
    if ('skip' in claude) console.warn(`[clients.test] Claude Code skipped: ${claude.skip}`);
  }, INSTALL_TIMEOUT);

  it(
    'writes, edits and runs bash through the preset argv; JSON has cost and tokens; hooks fire per tool',
    async (ctx) => {
      needClient(ctx, claude);
      const repo = await tempRepo();
      const srv = await server('write-edit-bash');
      const { env, home, cleanup } = await claudeEnv({ url: srv.url });
      cleanups.push(cleanup);
      const hooksLog = path.join(home, 'hooks.jsonl');
      const settings = path.join(home, 'settings.json');
      await fsp.writeFile(settings, JSON.stringify(claudeHookSettings(`node ${q(HOOK_RECORDER)} ${q(hooksLog)}`)));

      const argv = claudeArgv({ task: 'Create hello.txt and gen.txt.', settings, model: TEST_MODELS.claude });
      expect(argv).toEqual([
        '-p', 'Create hello.txt and gen.txt.', '--output-format', 'json', '--permission-mode', 'acceptEdits',
        '--allowedTools', 'Bash Write Edit', '--settings', settings, '--model', TEST_MODELS.claude,
      ]);
      const r = await runClient(claude.bin, argv, { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      expect(r.stderr).not.toMatch(/unknown option/i);

      // Files, byte for byte.
      expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
      expect(fs.readFileSync(path.join(repo, 'gen.txt'), 'utf8')).toBe('generated\n');

      // Model requests: 4 scripted turns, each a separate tool call, model from --model.
      const turns = srv.turnRequests();
      expect(turns.map((t) => t.calls.map((c) => c.name).join(','))).toEqual(['Write', 'Edit', 'Bash', '']);
      expect(turns.every((t) => t.model === TEST_MODELS.claude)).toBe(true);
      expect(turns[0]!.cwd).toBe(repo);
      expect(turns[0]!.tools).toEqual(expect.arrayContaining(['Bash', 'Write', 'Edit', 'Read']));
      expect(turns[1]!.toolResults.at(-1)).toMatchObject({ id: turns[0]!.calls[0]!.id, isError: false });

      // Output JSON: cost and tokens (4 turns x the server's default usage 120 in / 30 out).
      const out = parseClaudeResult(r.stdout);
      expect(out).toMatchObject({ type: 'result', subtype: 'success', is_error: false, num_turns: 4, result: 'Done: hello.txt and gen.txt are in place.' });
      expect(out.total_cost_usd).toBeGreaterThan(0);
      expect(out.usage).toMatchObject({ input_tokens: 480, output_tokens: 120 });
      expect(out.modelUsage[TEST_MODELS.claude]).toMatchObject({ inputTokens: 480, outputTokens: 120 });
      expect(typeof out.session_id).toBe('string');

      // Hooks: PreToolUse then PostToolUse for each tool call, in order.
      const hooks = readHooks(hooksLog);
      expect(hooks.map((h) => `${h.hook_event_name}:${h.tool_name}`)).toEqual([
        'PreToolUse:Write', 'PostToolUse:Write', 'PreToolUse:Edit', 'PostToolUse:Edit', 'PreToolUse:Bash', 'PostToolUse:Bash',
      ]);
      const ids = turns.slice(0, 3).map((t) => t.calls[0]!.id);
      expect(hooks.map((h) => h.tool_use_id)).toEqual([ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]]);
      for (const h of hooks) {
        expect(h.cwd).toBe(repo);
        expect(h.session_id).toBe(out.session_id);
        expect(h._hook.cwd).toBe(repo);
        expect(h._hook.env.CLAUDE_PROJECT_DIR).toBe(repo);
      }
      expect(hooks[0].tool_input).toEqual({ file_path: path.join(repo, 'hello.txt'), content: 'hello\nfrom ckpt\n' });
      expect(hooks[2].tool_input).toMatchObject({ file_path: path.join(repo, 'hello.txt'), old_string: 'hello\n', new_string: 'hello world\n' });
      expect(hooks[4].tool_input).toMatchObject({ command: "printf 'generated\\n' > gen.txt && echo made gen.txt" });
      expect(hooks[1].tool_response).toMatchObject({ type: 'create', filePath: path.join(repo, 'hello.txt') });
      expect(hooks[5].tool_response).toMatchObject({ stdout: 'made gen.txt', interrupted: false });
    },
    RUN_TIMEOUT + 30_000,
  );

  it(
    'edits a committed file (after Read), deletes via rm and writes a file without a trailing newline',
    async (ctx) => {
      needClient(ctx, claude);
      const repo = await tempRepo({ 'README.md': '# demo\nversion 1\n', 'old.txt': 'old\n' });
      const srv = await server('edit-existing-delete');
      const { env, cleanup } = await claudeEnv({ url: srv.url });
      cleanups.push(cleanup);
      const r = await runClient(claude.bin, claudeArgv({ task: 'Update the repo.' }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      expect(fs.readFileSync(path.join(repo, 'README.md'), 'utf8')).toBe('# demo\nversion 2\n');
      expect(fs.existsSync(path.join(repo, 'old.txt'))).toBe(false);
      expect(fs.readFileSync(path.join(repo, 'notes.txt'), 'utf8')).toBe('no trailing newline');
      const turns = srv.turnRequests();
      expect(turns.map((t) => t.calls.map((c) => c.name).join(','))).toEqual(['Read', 'Edit', 'Bash', 'Write', '']);
      expect(turns.slice(1).every((t) => t.toolResults.at(-1)?.isError === false)).toBe(true);
    },
    RUN_TIMEOUT + 30_000,
  );

  it.for([
    { status: 500, script: 'error-500', pattern: /API Error: 500 ckpt test: internal server error/, type: 'api_error' },
    { status: 401, script: 'error-401', pattern: /Invalid API key/, type: 'authentication_error' },
  ])(
    'exits non-zero with a message on an HTTP $status from the API', { timeout: RUN_TIMEOUT + 30_000 },
    async ({ status, script, pattern, type }, ctx) => {
      needClient(ctx, claude);
      const repo = await tempRepo();
      const srv = await server(script);
      const { env, cleanup } = await claudeEnv({ url: srv.url });
      cleanups.push(cleanup);
      const r = await runClient(claude.bin, claudeArgv({ task: 'Say hello.' }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(1);
      const out = parseClaudeResult(r.stdout);
      expect(out).toMatchObject({ type: 'result', is_error: true, api_error_status: status, api_error_type: type, terminal_reason: 'api_error' });
      expect(out.result).toMatch(pattern);
      expect(srv.turnRequests().length).toBe(1); // CLAUDE_CODE_MAX_RETRIES=0
    },
  );

  it('--help lists every flag of the preset', async (ctx) => {
    needClient(ctx, claude);
    const r = await execa(claude.bin, ['--help'], { reject: false, stdin: 'ignore', env: { HOME: os.tmpdir() } });
    expect(r.exitCode).toBe(0);
    for (const flag of ['-p, --print', '--output-format', '--permission-mode', 'acceptEdits', '--allowedTools', '--settings', '--model']) {
      expect(r.stdout).toContain(flag);
    }
  });
});

// ===================================================================== Codex CLI

describe('Codex CLI (real client, offline)', () => {
  let codex: EnsureResult | undefined;
  beforeAll(async () => {
    codex = await ensureClient('codex');
    if ('skip' in codex) console.warn(`[clients.test] Codex skipped: ${codex.skip}`);
  }, INSTALL_TIMEOUT);

  it(
    'writes (apply_patch), edits (apply_patch) and runs a command (exec_command) with the preset argv in workspace-write',
    async (ctx) => {
      needClient(ctx, codex);
      const repo = await tempRepo();
      const srv = await server('write-edit-bash');
      const { env, cleanup } = await codexEnv({ url: srv.url });
      cleanups.push(cleanup);
      const argv = codexArgv({ task: 'Create hello.txt and gen.txt.', dir: repo, model: TEST_MODELS.codex });
      expect(argv).toEqual(['exec', 'Create hello.txt and gen.txt.', '--json', '--sandbox', 'workspace-write', '-m', TEST_MODELS.codex, '-C', repo, '--skip-git-repo-check']);
      const r = await runClient(codex.bin, argv, { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      expect(r.stderr).not.toMatch(/unexpected argument|unknown option/i);

      expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
      expect(fs.readFileSync(path.join(repo, 'gen.txt'), 'utf8')).toBe('generated\n');

      const turns = srv.turnRequests();
      expect(turns.map((t) => t.calls.map((c) => c.name).join(','))).toEqual(['apply_patch', 'apply_patch', 'exec_command', '']);
      expect(turns[0]!.model).toBe(TEST_MODELS.codex);
      expect(turns[0]!.cwd).toBe(repo);
      expect(turns[0]!.tools).toEqual(expect.arrayContaining(['exec_command', 'apply_patch']));
      expect(turns[0]!.headers.authorization).toBe('Bearer test');

      const events = parseJsonLines(r.stdout);
      const types = events.map((e) => e.type);
      expect(types[0]).toBe('thread.started');
      expect(types.at(-1)).toBe('turn.completed');
      expect(events.at(-1).usage).toMatchObject({ input_tokens: 480, output_tokens: 120, cached_input_tokens: 0 });
      const done = events.filter((e) => e.type === 'item.completed').map((e) => e.item);
      expect(done.map((i) => i.type)).toEqual(['agent_message', 'file_change', 'file_change', 'command_execution', 'agent_message']);
      expect(done[1].changes).toEqual([{ path: path.join(repo, 'hello.txt'), kind: 'add' }]);
      expect(done[2].changes).toEqual([{ path: path.join(repo, 'hello.txt'), kind: 'update' }]);
      expect(done[3]).toMatchObject({ exit_code: 0, aggregated_output: 'made gen.txt\n', status: 'completed' });
      expect(done[4].text).toBe('Done: hello.txt and gen.txt are in place.');
    },
    RUN_TIMEOUT + 30_000,
  );

  it(
    'runs PreToolUse/PostToolUse hooks from config.toml with --dangerously-bypass-hook-trust',
    async (ctx) => {
      needClient(ctx, codex);
      const repo = await tempRepo();
      const srv = await server('write-edit-bash');
      const hooksLog = path.join(repo, '..', `${path.basename(repo)}-hooks.jsonl`);
      cleanups.push(() => fsp.rm(hooksLog, { force: true }));
      const cmd = `node ${q(HOOK_RECORDER)} ${q(hooksLog)}`;
      const { env, cleanup } = await codexEnv({ url: srv.url, hooks: { PreToolUse: cmd, PostToolUse: cmd } });
      cleanups.push(cleanup);

      // Without trust the hooks are silently not run.
      const untrusted = await runClient(codex.bin, codexArgv({ task: 't', dir: repo, model: TEST_MODELS.codex }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(untrusted.exitCode, explain(untrusted)).toBe(0);
      expect(readHooks(hooksLog)).toEqual([]);

      await execa('git', ['clean', '-fdq'], { cwd: repo });
      const srv2 = await server('write-edit-bash');
      const { env: env2, cleanup: cleanup2 } = await codexEnv({ url: srv2.url, hooks: { PreToolUse: cmd, PostToolUse: cmd } });
      cleanups.push(cleanup2);
      const r = await runClient(codex.bin, codexArgv({ task: 't', dir: repo, model: TEST_MODELS.codex, bypassHookTrust: true }), { cwd: repo, env: env2, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');

      const hooks = readHooks(hooksLog);
      expect(hooks.map((h) => `${h.hook_event_name}:${h.tool_name}`)).toEqual([
        'PreToolUse:apply_patch', 'PostToolUse:apply_patch', 'PreToolUse:apply_patch', 'PostToolUse:apply_patch', 'PreToolUse:Bash', 'PostToolUse:Bash',
      ]);
      const ids = srv2.turnRequests().slice(0, 3).map((t) => t.calls[0]!.id);
      expect(hooks.map((h) => h.tool_use_id)).toEqual([ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]]);
      const thread = parseJsonLines(r.stdout).find((e) => e.type === 'thread.started').thread_id;
      for (const h of hooks) {
        expect(h.cwd).toBe(repo);
        expect(h.session_id).toBe(thread);
        expect(h.model).toBe(TEST_MODELS.codex);
        expect(typeof h.turn_id).toBe('string');
      }
      expect(hooks[0].tool_input).toEqual({ command: '*** Begin Patch\n*** Add File: hello.txt\n+hello\n+from ckpt\n*** End Patch\n' });
      expect(hooks[2].tool_input.command).toContain('*** Update File: hello.txt');
      expect(hooks[4].tool_input).toEqual({ command: "printf 'generated\\n' > gen.txt && echo made gen.txt" });
      expect(hooks[1].tool_response).toContain('Success. Updated the following files:\nA hello.txt');
      expect(hooks[5].tool_response).toBe('made gen.txt\n');
    },
    2 * RUN_TIMEOUT + 30_000,
  );

  it(
    'edits a committed file, deletes one (apply_patch) and writes one without a trailing newline (shell)',
    async (ctx) => {
      needClient(ctx, codex);
      const repo = await tempRepo({ 'README.md': '# demo\nversion 1\n', 'old.txt': 'old\n' });
      const srv = await server('edit-existing-delete');
      const { env, cleanup } = await codexEnv({ url: srv.url });
      cleanups.push(cleanup);
      const r = await runClient(codex.bin, codexArgv({ task: 'Update the repo.', dir: repo, model: TEST_MODELS.codex }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      expect(fs.readFileSync(path.join(repo, 'README.md'), 'utf8')).toBe('# demo\nversion 2\n');
      expect(fs.existsSync(path.join(repo, 'old.txt'))).toBe(false);
      expect(fs.readFileSync(path.join(repo, 'notes.txt'), 'utf8')).toBe('no trailing newline');
      expect(srv.turnRequests().map((t) => t.calls.map((c) => c.name).join(','))).toEqual(['exec_command', 'apply_patch', 'apply_patch', 'exec_command', '']);
    },
    RUN_TIMEOUT + 30_000,
  );

  it(
    'workspace-write sandbox works here: writes outside the workspace fail, rm -f is refused, rm works',
    async (ctx) => {
      needClient(ctx, codex);
      const repo = await tempRepo({ 'victim.txt': 'v\n' });
      const srv = await server('sandbox-probe');
      const { env, home, cleanup } = await codexEnv({ url: srv.url });
      cleanups.push(cleanup);
      const r = await runClient(codex.bin, codexArgv({ task: 'Probe.', dir: repo, model: TEST_MODELS.codex }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(0);
      const turns = srv.turnRequests();
      const result = (i: number) => turns[i + 1]!.toolResults.find((t) => t.id === turns[i]!.calls[0]!.id)!.output;
      expect(result(0)).toMatch(/Read-only file system/);
      expect(fs.existsSync(path.join(home, 'outside.txt'))).toBe(false);
      expect(result(1)).toMatch(/rm -f style commands are not permitted/);
      expect(result(2)).toMatch(/removed/);
      expect(fs.existsSync(path.join(repo, 'victim.txt'))).toBe(false);
      expect(fs.readFileSync(path.join(repo, 'inside.txt'), 'utf8')).toBe('inside\n');
    },
    RUN_TIMEOUT + 30_000,
  );

  it.for([
    { status: 500, script: 'error-500', pattern: /high demand/ },
    { status: 401, script: 'error-401', pattern: /unexpected status 401 Unauthorized: ckpt test: invalid x-api-key/ },
  ])(
    'exits non-zero with a turn.failed message on an HTTP $status from the API', { timeout: RUN_TIMEOUT + 30_000 },
    async ({ script, pattern }, ctx) => {
      needClient(ctx, codex);
      const repo = await tempRepo();
      const srv = await server(script);
      const { env, cleanup } = await codexEnv({ url: srv.url });
      cleanups.push(cleanup);
      const r = await runClient(codex.bin, codexArgv({ task: 'Say hello.', dir: repo, model: TEST_MODELS.codex }), { cwd: repo, env, timeoutMs: RUN_TIMEOUT });
      expect(r.exitCode, explain(r)).toBe(1);
      const events = parseJsonLines(r.stdout);
      const failed = events.find((e) => e.type === 'turn.failed');
      expect(failed?.error?.message).toMatch(pattern);
      expect(events.find((e) => e.type === 'error')?.message).toMatch(pattern);
      expect(srv.turnRequests().length).toBe(1); // request_max_retries = 0
    },
  );

  it('exec --help lists every flag of the preset', async (ctx) => {
    needClient(ctx, codex);
    const r = await execa(codex.bin, ['exec', '--help'], { reject: false, stdin: 'ignore', env: { HOME: os.tmpdir() } });
    expect(r.exitCode).toBe(0);
    for (const flag of ['--json', '--sandbox <SANDBOX_MODE>', 'workspace-write', '-m, --model', '-C, --cd', '--skip-git-repo-check', '--dangerously-bypass-hook-trust']) {
      expect(r.stdout).toContain(flag);
    }
  });
});

// ===================================================================== Gemini CLI

describe('Gemini CLI (flags only)', () => {
  let gemini: EnsureResult | undefined;
  beforeAll(async () => {
    gemini = await ensureClient('gemini');
    if ('skip' in gemini) console.warn(`[clients.test] Gemini CLI skipped: ${gemini.skip}`);
  }, INSTALL_TIMEOUT);

  it('--help lists every flag of the preset', async (ctx) => {
    needClient(ctx, gemini);
    const argv = geminiArgv({ task: 'T', model: 'M' });
    expect(argv).toEqual(['-p', 'T', '--approval-mode=yolo', '--output-format', 'stream-json', '-m', 'M']);
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-gemini-home-'));
    cleanups.push(() => fsp.rm(home, { recursive: true, force: true }));
    const r = await execa(gemini.bin, ['--help'], { reject: false, stdin: 'ignore', env: { HOME: home }, timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const help = r.stdout;
    expect(help).toMatch(/-p, --prompt\b/);
    expect(help).toMatch(/--approval-mode[^\n]*choices:[^\n]*"yolo"/);
    expect(help).toMatch(/-o, --output-format[^\n]*choices:[^\n]*"stream-json"/);
    expect(help).toMatch(/-m, --model\b/);
  }, 180_000);
});


// ===================================================================== both at once

describe('Claude Code and Codex racing on one server', () => {
  let claude: EnsureResult | undefined;
  let codex: EnsureResult | undefined;
  beforeAll(async () => {
    claude = await ensureClient('claude');
    codex = await ensureClient('codex');
  }, INSTALL_TIMEOUT);

  it(
    'each client session plays the script from the start; both produce the same files',
    async (ctx) => {
      needClient(ctx, claude);
      needClient(ctx, codex);
      const srv = await server('write-edit-bash');
      const [repoA, repoB] = [await tempRepo(), await tempRepo()];
      const ce = await claudeEnv({ url: srv.url });
      const xe = await codexEnv({ url: srv.url });
      cleanups.push(ce.cleanup, xe.cleanup);
      const [a, b] = await Promise.all([
        runClient(claude.bin, claudeArgv({ task: 'race', model: TEST_MODELS.claude }), { cwd: repoA, env: ce.env, timeoutMs: RUN_TIMEOUT }),
        runClient(codex.bin, codexArgv({ task: 'race', dir: repoB, model: TEST_MODELS.codex }), { cwd: repoB, env: xe.env, timeoutMs: RUN_TIMEOUT }),
      ]);
      expect(a.exitCode, explain(a)).toBe(0);
      expect(b.exitCode, explain(b)).toBe(0);
      for (const repo of [repoA, repoB]) {
        expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
        expect(fs.readFileSync(path.join(repo, 'gen.txt'), 'utf8')).toBe('generated\n');
      }
      const sessions = new Set(srv.turnRequests().map((r) => r.session));
      expect(sessions.size).toBe(2);
      for (const s of sessions) expect(srv.turnRequests().filter((r) => r.session === s).map((r) => r.turn)).toEqual([0, 1, 2, 3]);
    },
    RUN_TIMEOUT + 30_000,
  );
});
