/**
 * Races with the REAL agent clients (Claude Code, Codex CLI), offline: both are driven by
 * the scripted model server (test/support/model-server.ts) and run through the built
 * CLI (`node bin/race.js`), exactly as a user would run them, with ckpt's hooks passed to
 * Claude Code and the watcher on every attempt. The presets' argv is checked against the
 * installed clients (Gemini CLI included). The clients come from the test cache
 * (test/support/clients.ts); a test is skipped only when the install is impossible.
 * What is verified here is written up in docs/agents.md.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expandArgv, PRESETS } from '../src/agents/presets.js';
import { loadScript, startModelServer, type ModelServer, type Script } from './support/model-server.js';
import {
  CLIENTS,
  TEST_MODELS,
  baseEnv,
  claudeEnv,
  claudeHookSettings,
  clientVersion,
  codexEnv,
  ensureClient,
  parseClaudeResult,
  parseJsonLines,
  runClient,
  explainRun,
  needClient,
  type EnsureResult,
  type Installed,
} from './support/clients.js';
import { CLI, makeRepo, picture, storeDir, tempDir, write, type Entry } from './support/repo.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RACE = path.join(path.dirname(CLI), 'race.js');
const HOOK_RECORDER = path.join(HERE, 'fixtures', 'hook-recorder.mjs');
const INSTALL_TIMEOUT = 15 * 60_000;
/** One race of two real clients takes a few seconds here; leave room for a loaded 2-core machine. */
const RACE_TIMEOUT = 240_000;
const RUN_TIMEOUT = 180_000;

type Files = Record<string, string>;

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function server(script: Script | string): Promise<ModelServer> {
  const s = await startModelServer(typeof script === 'string' ? loadScript(script) : script);
  cleanups.push(() => s.close());
  return s;
}

/**
 * A proxy to the model server that cuts the `nth` Responses stream short once (headers and
 * `response.created`, then the end: no `response.completed`), as a dropped connection would.
 */
async function cutNthStream(target: string, nth: number): Promise<{ url: string; cut: () => number }> {
  let seen = 0;
  let cut = 0;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && req.url?.startsWith('/v1/responses') && ++seen === nth) {
          cut++;
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { id: 'resp_cut', status: 'in_progress', output: [] } })}\n\n`);
          return;
        }
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
        const r = await fetch(target + req.url, { method: req.method, headers, ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}) });
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      })().catch((err: unknown) => res.destroy(err as Error));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => (proxy.closeAllConnections(), proxy.close(resolve))));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, cut: () => cut };
}

// ------------------------------------------------------------------ expected worktrees

/** The repository every race starts from (committed, nothing else). */
const BASE: Files = {
  'README.md': '# app\n',
  'old.txt': 'old\n',
  'src/keep.js': 'export const keep = 1;\n',
};

const GREET = 'export const greet = (name) => `hello ${name}`;\n';
const MKDIR_OUT = "mkdir -p out && cp src/greet.js out/greet.js && printf 'built\\n' > out/build.txt && echo built";

function without(files: Files, p: string): Files {
  const out = { ...files };
  delete out[p];
  return out;
}

/**
 * The worktree after each file-changing tool call of race-real.json (its Read changes
 * nothing): STATES[k] is the state before call k and after call k-1.
 */
const STATES: Files[] = (() => {
  const s0: Files = { ...BASE };
  const s1: Files = { ...s0, 'src/greet.js': GREET };
  const s2: Files = { ...s1, 'README.md': '# app\n\nGreets people: `greet(name)`.\n' };
  const s3: Files = { ...s2, 'out/greet.js': GREET, 'out/build.txt': 'built\n' };
  const s4 = without(s3, 'old.txt');
  const s5: Files = { ...s4, 'notes.txt': 'naïve café ✓ — no trailing newline' };
  return [s0, s1, s2, s3, s4, s5];
})();

/** A checkpoint's target for a Bash call: the command, cut at 80 characters (src/agents/claude.ts). */
const cut = (cmd: string): string => (cmd.length > 80 ? `${cmd.slice(0, 79)}…` : cmd);

/** The hooked Claude Code tool calls of race-real.json, in order: [tool, target]. */
const CLAUDE_CALLS: [string, string][] = [
  ['Write', 'src/greet.js'],
  ['Edit', 'README.md'],
  ['Bash', cut(MKDIR_OUT)],
  ['Bash', "rm 'old.txt'"],
  ['Write', 'notes.txt'],
];

/** `picture()` of a worktree holding exactly `files` (directories included, as picture() lists them). */
function pictureOf(files: Files): Record<string, Entry> {
  const dir = tempDir('ckpt-expect-');
  write(dir, files);
  return picture(dir);
}

/** Every file of a snapshot (a commit in ckpt's store), as UTF-8 text. */
async function snapshotFiles(cwd: string, id: string): Promise<Files> {
  const store = `--git-dir=${storeDir(cwd)}`;
  const ls = await execa('git', [store, 'ls-tree', '-r', '-z', id], { cwd });
  const out: Files = {};
  for (const rec of ls.stdout.split('\0').filter(Boolean)) {
    const [meta, p] = rec.split('\t') as [string, string];
    const oid = meta.split(' ')[2]!;
    out[p] = Buffer.from((await execa('git', [store, 'cat-file', 'blob', oid], { cwd, encoding: 'buffer', stripFinalNewline: false })).stdout).toString('utf8');
  }
  return out;
}

// ------------------------------------------------------------------ running race / ckpt

interface Step {
  step: number;
  id: string;
  kind: string;
  tool: string | null;
  target: string | null;
  toolUseId: string | null;
  message: string;
  agent: string | null;
}

/** `node bin/race.js ARGS` in `cwd` (async: the model server lives in this process). */
async function race(cwd: string, args: string[], env: NodeJS.ProcessEnv, timeout = RACE_TIMEOUT - 30_000) {
  return execa(process.execPath, [RACE, ...args], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout, killSignal: 'SIGKILL' });
}

async function ckpt(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  return execa(process.execPath, [CLI, ...args], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
}

async function raceShow(cwd: string, env: NodeJS.ProcessEnv): Promise<any> {
  const r = await race(cwd, ['show', '--json'], env, 60_000);
  expect(r.exitCode, explainRun(r)).toBe(0);
  return JSON.parse(r.stdout);
}

/** The steps of a worktree, oldest first. */
async function steps(dir: string, env: NodeJS.ProcessEnv): Promise<Step[]> {
  const r = await ckpt(dir, ['log', '--json'], env);
  expect(r.exitCode, explainRun(r)).toBe(0);
  return (JSON.parse(r.stdout).steps as Step[]).slice().reverse();
}

/** The summary table's row of one attempt. */
function tableRow(stdout: string, attempt: string): string {
  const row = stdout.split('\n').find((l) => new RegExp(`^│[^│]*│ ${attempt}\\s+│`).test(l));
  expect(row, `no row for ${attempt} in:\n${stdout}`).toBeDefined();
  return row!;
}

// ===================================================================== races

describe('race with the real Claude Code and Codex clients (offline)', () => {
  let claude: EnsureResult | undefined;
  let codex: EnsureResult | undefined;
  beforeAll(async () => {
    [claude, codex] = await Promise.all([ensureClient('claude'), ensureClient('codex')]);
    for (const [n, c] of [['Claude Code', claude], ['Codex', codex]] as const) if ('skip' in c) console.warn(`[agents-real.test] ${n} skipped: ${c.skip}`);
  }, INSTALL_TIMEOUT);

  /**
   * What the race process needs for both clients: their bin dirs first on PATH, Claude's
   * offline env (ANTHROPIC_BASE_URL, key, temp HOME/CLAUDE_CONFIG_DIR, no telemetry…) and
   * Codex's CODEX_HOME (config.toml naming the server) and key. Both point at `url`.
   */
  async function raceEnv(url: string, o: { codexRetries?: number } = {}): Promise<NodeJS.ProcessEnv & { CODEX_HOME: string }> {
    const ce = await claudeEnv({ url });
    const xe = await codexEnv({ url, maxRetries: o.codexRetries ?? 0 });
    cleanups.push(ce.cleanup, xe.cleanup);
    const bins = [claude, codex].filter((c): c is Installed => !!c && 'bin' in c).map((c) => path.dirname(c.bin));
    return { ...ce.env, CODEX_HOME: xe.codexHome, CKPT_TEST_KEY: 'test', PATH: [...bins, ce.env.PATH].join(path.delimiter), NO_COLOR: '1' };
  }

  it(
    'race claude,codex through bin/race.js: both done, each worktree holds exactly what its script wrote, tokens and cost shown',
    async (ctx) => {
      needClient(ctx, claude);
      needClient(ctx, codex);
      const script = loadScript('race-real');
      const srv = await server(script);
      const env = await raceEnv(srv.url);
      const repo = makeRepo(BASE);
      const worktrees = tempDir('ckpt-wt-');
      const models = `claude@${TEST_MODELS.claude},codex@${TEST_MODELS.codex}`;

      const r = await race(repo, [script.task!, '--models', models, '--worktree-dir', worktrees, '--timeout', '3m'], env);
      expect(r.exitCode, explainRun(r)).toBe(0);
      expect(r.stdout).toMatch(/\[claude\] done in /);
      expect(r.stdout).toMatch(/\[codex\] done in /);

      const shown = await raceShow(repo, env);
      expect(shown.state).toBe('finished');
      const [a, b] = shown.attempts;
      expect(shown.attempts.map((x: any) => `${x.name}:${x.agent}@${x.model}:${x.state}:${x.exitCode}`)).toEqual([
        `claude:claude@${TEST_MODELS.claude}:done:0`,
        `codex:codex@${TEST_MODELS.codex}:done:0`,
      ]);
      for (const x of shown.attempts) {
        expect(x.error).toBeNull();
        expect(x.dir.startsWith(worktrees + path.sep) && x.dir.endsWith(path.join(shown.id, x.name))).toBe(true);
        // Exactly the script's files, byte for byte: nothing more (no .claude/, no transcripts), nothing less.
        expect(picture(x.dir)).toEqual(pictureOf(STATES.at(-1)!));
        expect(x).toMatchObject({ files: 6, insertions: 6, deletions: 1 });
      }
      // Both sessions played the whole script (7 turns each), with the model given in --models.
      const turns = srv.turnRequests();
      const sessions = [...new Set(turns.map((t) => t.session))];
      expect(sessions.length).toBe(2);
      for (const s of sessions) expect(turns.filter((t) => t.session === s).map((t) => t.turn)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(turns.filter((t) => t.api === 'anthropic').every((t) => t.model === TEST_MODELS.claude && t.cwd === a.dir)).toBe(true);
      expect(turns.filter((t) => t.api === 'openai').every((t) => t.model === TEST_MODELS.codex && t.cwd === b.dir)).toBe(true);

      // Tokens (7 turns x the server's 120 in / 30 out) for both; cost from Claude's JSON only.
      expect(a.tokens).toEqual({ input: 840, output: 210 });
      expect(b.tokens).toEqual({ input: 840, output: 210 });
      expect(a.costUsd).toBeGreaterThan(0);
      expect(a.costUsd).toBeCloseTo(840 * 3e-6 + 210 * 15e-6, 6); // sonnet 4.5 list prices: $3 / $15 per M
      expect(b.costUsd).toBeNull();
      expect(a.resultText).toBe('Added src/greet.js, documented it, built out/, removed old.txt and wrote notes.txt.');
      expect(b.resultText).toBe(a.resultText);

      // The summary table shows them.
      const rowA = tableRow(r.stdout, 'claude');
      const rowB = tableRow(r.stdout, 'codex');
      expect(rowA).toContain(`claude@${TEST_MODELS.claude}`);
      expect(rowA).toMatch(/│ done\s+│\s+0 │/);
      expect(rowA).toContain(`1.1k tok $${a.costUsd.toFixed(4)}`);
      expect(rowB).toContain(`codex@${TEST_MODELS.codex}`);
      expect(rowB).toMatch(/│ done\s+│\s+0 │/);
      expect(rowB).toMatch(/│\s+1\.1k tok │$/);
      expect(r.stdout).toMatch(/best: (claude|codex)/);

      // The user's checkout was not touched, and no warning says otherwise.
      expect(picture(repo)).toEqual(pictureOf(BASE));
      expect(shown.warnings).toEqual([]);
    },
    RACE_TIMEOUT,
  );

  it(
    "Claude Code through ckpt's hooks: a before/after pair per tool call, Bash changes captured, rollback to each before is byte-exact and undoable",
    async (ctx) => {
      needClient(ctx, claude);
      const script = loadScript('race-real');
      const srv = await server(script);
      const env = await raceEnv(srv.url);
      const repo = makeRepo(BASE);
      const worktrees = tempDir('ckpt-wt-');
      write(repo, { '.git/info/exclude': '.ckpt/\n', '.ckpt/config.json': JSON.stringify({ race: { worktreeDir: worktrees } }) });

      const r = await race(repo, [script.task!, '--models', `claude@${TEST_MODELS.claude}`, '--timeout', '3m'], env);
      expect(r.exitCode, explainRun(r)).toBe(0);
      const shown = await raceShow(repo, env);
      const a = shown.attempts[0];
      expect(a.state, explainRun(r)).toBe('done');
      expect(a.dir.startsWith(worktrees + path.sep)).toBe(true);
      expect(picture(a.dir)).toEqual(pictureOf(STATES.at(-1)!));
      // No hook failed (a failing ckpt hook is logged here, never shown to the agent).
      expect(fs.existsSync(path.join(repo, '.git', 'ckpt', 'hook.log')) ? fs.readFileSync(path.join(repo, '.git', 'ckpt', 'hook.log'), 'utf8') : '').toBe('');
      // The client saw no permission denial: the hooks let every tool run.
      expect(JSON.parse(fs.readFileSync(a.log, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).at(-1)!).permission_denials).toEqual([]);

      // ckpt log inside the attempt: base, then a before/after pair per hooked call (Read is not hooked).
      const log = await steps(a.dir, env);
      expect(log[0]).toMatchObject({ step: 1, kind: 'base' });
      const hooked = log.filter((s) => s.kind === 'before' || s.kind === 'after');
      const ids = srv.turnRequests().flatMap((t) => t.calls).filter((c) => c.name !== 'Read').map((c) => c.id);
      expect(ids.length).toBe(CLAUDE_CALLS.length);
      expect(hooked.map((s) => [s.kind, s.tool, s.target, s.toolUseId, s.agent])).toEqual(
        CLAUDE_CALLS.flatMap(([tool, target], i) => [
          ['before', tool, target, ids[i], 'claude'],
          ['after', tool, target, ids[i], 'claude'],
        ]),
      );
      // Anything else is the watcher's (auto) or the race's end-of-attempt snapshot.
      expect(log.filter((s) => !['base', 'before', 'after'].includes(s.kind)).every((s) => s.kind === 'auto')).toBe(true);

      // What each snapshot holds: before call k = STATES[k], after = STATES[k + 1].
      // The Bash call (mkdir/cp/printf) is captured like the file tools: its after has out/.
      for (let k = 0; k < CLAUDE_CALLS.length; k++) {
        expect(await snapshotFiles(repo, hooked[2 * k]!.id), `before ${CLAUDE_CALLS[k]}`).toEqual(STATES[k]);
        expect(await snapshotFiles(repo, hooked[2 * k + 1]!.id), `after ${CLAUDE_CALLS[k]}`).toEqual(STATES[k + 1]);
      }
      const bashAfter = await snapshotFiles(repo, hooked[5]!.id);
      expect(bashAfter['out/build.txt']).toBe('built\n');
      expect(hooked[4]!.id).not.toBe(hooked[5]!.id);

      // Roll back to the `before` of every call: the worktree is that state byte for byte; --undo brings the end back.
      const end = picture(a.dir);
      for (let k = 0; k < CLAUDE_CALLS.length; k++) {
        const rb = await ckpt(a.dir, ['rollback', String(hooked[2 * k]!.step)], env);
        expect(rb.exitCode, explainRun(rb)).toBe(0);
        expect(picture(a.dir), `rollback to before ${CLAUDE_CALLS[k]}`).toEqual(pictureOf(STATES[k]!));
        const undo = await ckpt(a.dir, ['rollback', '--undo'], env);
        expect(undo.exitCode, explainRun(undo)).toBe(0);
        expect(picture(a.dir), `undo of rollback ${k}`).toEqual(end);
      }
      // Each rollback recorded a pre-rollback checkpoint (and the undo its own).
      const after = await steps(a.dir, env);
      expect(after.filter((s) => s.kind === 'pre-rollback').length).toBeGreaterThanOrEqual(CLAUDE_CALLS.length);
    },
    RACE_TIMEOUT,
  );

  it(
    'Codex (hooks passed with -c and --dangerously-bypass-hook-trust): a before/after pair per tool call, and with the watcher a checkpoint for every settled step',
    async (ctx) => {
      needClient(ctx, codex);
      const script = loadScript('watcher-steps');
      const srv = await server(script);
      const env = await raceEnv(srv.url);
      const repo = makeRepo(BASE);
      const worktrees = tempDir('ckpt-wt-');

      const r = await race(repo, [script.task!, '--models', `codex@${TEST_MODELS.codex}`, '--worktree-dir', worktrees, '--timeout', '3m'], env);
      expect(r.exitCode, explainRun(r)).toBe(0);
      const shown = await raceShow(repo, env);
      const a = shown.attempts[0];
      expect(a.state, explainRun(r)).toBe('done');
      const s1: Files = { ...BASE, 'a.txt': 'one\n' };
      const s2: Files = { ...BASE, 'a.txt': 'two\n' };
      const s3: Files = { ...s2, 'gen/x.txt': 'x\n', 'gen/y.txt': 'y\n' };
      const s4 = without(s3, 'old.txt');
      const s5: Files = { ...s4, 'notes.txt': 'last step, no newline' };
      expect(picture(a.dir)).toEqual(pictureOf(s5));

      const log = await steps(a.dir, env);
      expect(log[0]).toMatchObject({ step: 1, kind: 'base' });
      // ckpt's hooks reached Codex on its command line (the user's CODEX_HOME has no hooks): a pair per call.
      expect(fs.existsSync(path.join(env.CODEX_HOME, 'hooks.json'))).toBe(false);
      const calls = srv.turnRequests().flatMap((t) => t.calls);
      const hooked = log.filter((s) => s.kind === 'before' || s.kind === 'after');
      expect(hooked.map((s) => [s.kind, s.agent, s.toolUseId])).toEqual(calls.flatMap((c) => [['before', 'codex', c.id], ['after', 'codex', c.id]]));
      expect(hooked.filter((s) => s.kind === 'before').map((s) => s.tool)).toEqual(calls.map((c) => (c.name === 'exec_command' ? 'Bash' : c.name)));
      // Anything else is the watcher's (auto) or the race's end-of-attempt snapshot.
      expect(log.slice(1).every((s) => ['before', 'after', 'auto'].includes(s.kind))).toBe(true);
      // The checkpoints (not the race's end-of-attempt one) hold every settled step,
      // the two files of the one shell command together.
      const watched = log.slice(1).filter((s) => !s.message.startsWith('end of '));
      const held = await Promise.all(watched.map((s) => snapshotFiles(repo, s.id)));
      for (const [i, state] of [s1, s2, s3, s4, s5].entries()) {
        expect(held, `step ${i + 1} (${JSON.stringify(state)}) has no watcher checkpoint; log: ${JSON.stringify(log.map((s) => s.message))}`).toContainEqual(state);
      }
      expect(held.some((h) => 'gen/x.txt' in h !== 'gen/y.txt' in h)).toBe(false);
      expect(a.steps).toBeGreaterThanOrEqual(5);
    },
    RACE_TIMEOUT,
  );

  it(
    'codex: a dropped stream that Codex retries ("Reconnecting..." error event) still makes a done attempt',
    async (ctx) => {
      needClient(ctx, codex);
      const srv = await server('write-edit-bash');
      const proxy = await cutNthStream(srv.url, 2);
      const env = await raceEnv(proxy.url, { codexRetries: 1 });
      const repo = makeRepo(BASE);
      const worktrees = tempDir('ckpt-wt-');

      const r = await race(repo, ['Create hello.txt and gen.txt.', '--models', `codex@${TEST_MODELS.codex}`, '--worktree-dir', worktrees, '--timeout', '3m'], env);
      expect(r.exitCode, explainRun(r)).toBe(0);
      expect(proxy.cut()).toBe(1);
      const a = (await raceShow(repo, env)).attempts[0];
      const events = parseJsonLines(fs.readFileSync(a.log, 'utf8'));
      expect(events.find((e) => e.type === 'error')?.message).toMatch(/^Reconnecting\.\.\. 1\/1 \(stream disconnected before completion/);
      expect(events.some((e) => e.type === 'turn.failed')).toBe(false);
      expect(a).toMatchObject({ state: 'done', exitCode: 0, error: null, resultText: 'Done: hello.txt and gen.txt are in place.', tokens: { input: 480, output: 120 } });
      expect(picture(a.dir)).toEqual(pictureOf({ ...BASE, 'hello.txt': 'hello world\nfrom ckpt\n', 'gen.txt': 'generated\n' }));
    },
    RACE_TIMEOUT,
  );

  it.for([
    { failing: 'claude', script: 'error-500', message: /^API Error: 500 ckpt test: internal server error/ },
    { failing: 'codex', script: 'error-401', message: /unexpected status 401 Unauthorized: ckpt test: invalid x-api-key/ },
  ] as const)(
    'a client that exits on an API error ($failing, $script) is a failed attempt with its message; the other finishes done',
    { timeout: RACE_TIMEOUT },
    async ({ failing, script: errScript, message }, ctx) => {
      needClient(ctx, claude);
      needClient(ctx, codex);
      const good = await server('write-edit-bash');
      const bad = await server(errScript);
      const env = await raceEnv(good.url);
      // The failing agent is pointed at the failing server through the config's per-agent env.
      const agentEnv = failing === 'claude' ? { ANTHROPIC_BASE_URL: bad.url } : { CODEX_HOME: (await codexEnv({ url: bad.url }).then((x) => (cleanups.push(x.cleanup), x))).codexHome };
      const repo = makeRepo(BASE);
      const worktrees = tempDir('ckpt-wt-');
      write(repo, { '.git/info/exclude': '.ckpt/\n', '.ckpt/config.json': JSON.stringify({ agents: { [failing]: { env: agentEnv } }, race: { worktreeDir: worktrees } }) });

      const r = await race(repo, ['Create hello.txt and gen.txt.', '--models', `claude@${TEST_MODELS.claude},codex@${TEST_MODELS.codex}`, '--timeout', '3m'], env);
      expect(r.exitCode, explainRun(r)).toBe(0);
      const shown = await raceShow(repo, env);
      const byName = Object.fromEntries(shown.attempts.map((x: any) => [x.name, x]));
      const f = byName[failing];
      const ok = byName[failing === 'claude' ? 'codex' : 'claude'];
      expect(f.state).toBe('failed');
      expect(f.exitCode).toBe(1);
      expect(f.error).toMatch(message);
      expect(f.files).toBe(0);
      expect(picture(f.dir)).toEqual(pictureOf(BASE));
      expect(bad.turnRequests().length).toBe(1); // no retries: the clients are set to fail at once
      expect(ok.state).toBe('done');
      expect(ok.error).toBeNull();
      expect(picture(ok.dir)).toEqual(pictureOf({ ...BASE, 'hello.txt': 'hello world\nfrom ckpt\n', 'gen.txt': 'generated\n' }));
      expect(shown.best).toBe(ok.name);
      // The live lines and the table say so too.
      expect(r.stdout).toMatch(new RegExp(`\\[${failing}\\] failed in [^:]+: ${message.source.replace(/^\^/, '')}`));
      expect(tableRow(r.stdout, failing)).toMatch(/│ failed\s+│\s+1 │/);
      expect(tableRow(r.stdout, ok.name)).toMatch(/│ done\s+│\s+0 │/);
    },
  );
});

// ===================================================================== preset argv

/** Tasks that must reach the client as one prompt, never as options. */
const TASKS = [
  { label: 'a plain task', task: 'Create hello.txt and gen.txt.', model: true },
  { label: 'a task starting with -', task: '-p is not a flag here: create hello.txt', model: false },
  { label: 'a task starting with --', task: '--help: create hello.txt and gen.txt', model: true },
] as const;

/** The options a preset's argv uses (`--prompt=X` → `--prompt`), to find in `--help`. */
function presetFlags(argv: string[], task: string): string[] {
  return argv.filter((a) => a.startsWith('-') && a !== '--' && a !== task).map((a) => a.split('=')[0]!);
}

function expectHelpLists(help: string, flags: string[]): void {
  for (const f of flags) {
    const re = new RegExp(`(^|[\\s,])${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s,=<\\[]|$)`, 'm');
    expect(help, `${f} is not in --help`).toMatch(re);
  }
}

describe("the presets' argv is accepted by the installed clients", () => {
  let claude: EnsureResult | undefined;
  let codex: EnsureResult | undefined;
  let gemini: EnsureResult | undefined;
  beforeAll(async () => {
    [claude, codex, gemini] = await Promise.all([ensureClient('claude'), ensureClient('codex'), ensureClient('gemini')]);
  }, INSTALL_TIMEOUT);

  it.for(TASKS)('claude: the exact preset argv (+ --settings as run.ts inserts it) with $label', { timeout: RUN_TIMEOUT }, async ({ task, model }, ctx) => {
    needClient(ctx, claude);
    const repo = makeRepo(BASE);
    const srv = await server('write-edit-bash');
    const { env, home, cleanup } = await claudeEnv({ url: srv.url });
    cleanups.push(cleanup);
    const hooksLog = path.join(home, 'hooks.jsonl');
    const settings = path.join(home, 'settings.json');
    await fsp.writeFile(settings, JSON.stringify(claudeHookSettings(`node ${q(HOOK_RECORDER)} ${q(hooksLog)}`)));

    const preset = expandArgv(PRESETS.claude!.command, { task, model: model ? TEST_MODELS.claude : null, dir: repo });
    const argv = [preset[0]!, '--settings', settings, ...preset.slice(1)];
    expect(argv).toEqual([
      'claude', '--settings', settings, '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits',
      '--allowedTools', 'Bash Write Edit MultiEdit', ...(model ? ['--model', TEST_MODELS.claude] : []), '--', task,
    ]);
    const r = await runClient(claude.bin, argv.slice(1), { cwd: repo, env, timeoutMs: RUN_TIMEOUT - 30_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    expect(r.stderr).not.toMatch(/unknown option|unknown argument|error:/i);
    const out = parseClaudeResult(r.stdout);
    expect(out).toMatchObject({ type: 'result', subtype: 'success', is_error: false, num_turns: 4 });
    // acceptEdits + --allowedTools let Write, Edit and Bash run with no prompt; the unknown
    // name MultiEdit in that list (2.1.330 has no such tool) changes nothing.
    expect(out.permission_denials).toEqual([]);
    expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
    expect(fs.readFileSync(path.join(repo, 'gen.txt'), 'utf8')).toBe('generated\n');

    const turns = srv.turnRequests();
    // The task arrives whole, as the prompt (the user message's last text block), after `--`.
    const first = turns[0]!.body.messages[0];
    const texts = (Array.isArray(first.content) ? first.content : [{ type: 'text', text: first.content }]).filter((c: any) => c.type === 'text');
    expect(texts.at(-1).text).toBe(task);
    expect(turns.every((t) => t.model === (model ? TEST_MODELS.claude : turns[0]!.model))).toBe(true);
    if (clientVersion('claude') === CLIENTS.claude.version) expect(turns[0]!.tools).not.toContain('MultiEdit');
    // --settings was read: the hooks ran for every tool call.
    const hooks = fs.readFileSync(hooksLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(hooks.map((h) => `${h.hook_event_name}:${h.tool_name}`)).toEqual([
      'PreToolUse:Write', 'PostToolUse:Write', 'PreToolUse:Edit', 'PostToolUse:Edit', 'PreToolUse:Bash', 'PostToolUse:Bash',
    ]);
  });

  it.for(TASKS)('codex: the exact preset argv with $label', { timeout: RUN_TIMEOUT }, async ({ task, model }, ctx) => {
    needClient(ctx, codex);
    const repo = makeRepo(BASE);
    const srv = await server('write-edit-bash');
    // Without -m, Codex uses the config's model (a user's default); here the same test model.
    const { env, cleanup } = await codexEnv({ url: srv.url, ...(model ? {} : { model: TEST_MODELS.codex }) });
    cleanups.push(cleanup);

    const argv = expandArgv(PRESETS.codex!.command, { task, model: model ? TEST_MODELS.codex : null, dir: repo });
    expect(argv).toEqual(['codex', 'exec', '--json', '--sandbox', 'workspace-write', ...(model ? ['-m', TEST_MODELS.codex] : []), '-C', repo, '--skip-git-repo-check', '--', task]);
    const r = await runClient(codex.bin, argv.slice(1), { cwd: repo, env, timeoutMs: RUN_TIMEOUT - 30_000 });
    expect(r.exitCode, explainRun(r)).toBe(0);
    expect(r.stderr).not.toMatch(/unexpected argument|unrecognized|error:/i);
    const events = parseJsonLines(r.stdout);
    expect(events.find((e) => e.type === 'turn.completed')?.usage).toMatchObject({ input_tokens: 480, output_tokens: 120 });
    expect(events.some((e) => e.type === 'turn.failed' || e.type === 'error')).toBe(false);
    expect(fs.readFileSync(path.join(repo, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
    expect(fs.readFileSync(path.join(repo, 'gen.txt'), 'utf8')).toBe('generated\n');
    // The task arrives whole as the user's prompt; the model is the one asked for.
    const turns = srv.turnRequests();
    const userTexts = (turns[0]!.body.input as any[])
      .filter((i) => i.role === 'user')
      .flatMap((i) => (Array.isArray(i.content) ? i.content : []))
      .map((c: any) => c.text);
    expect(userTexts).toContain(task);
    expect(turns.every((t) => t.model === TEST_MODELS.codex && t.cwd === repo)).toBe(true);
  });

  it('claude and codex --help list every option of their presets (and --settings)', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, claude);
    needClient(ctx, codex);
    const home = tempDir('ckpt-help-home-');
    const env = { ...baseEnv(), HOME: home };
    const c = await execa(claude.bin, ['--help'], { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    expect(c.exitCode, explainRun(c)).toBe(0);
    expectHelpLists(c.stdout, ['--settings', ...presetFlags(expandArgv(PRESETS.claude!.command, { task: 'T', model: 'M', dir: '/d' }), 'T')]);
    const x = await execa(codex.bin, ['exec', '--help'], { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    expect(x.exitCode, explainRun(x)).toBe(0);
    expectHelpLists(x.stdout, presetFlags(expandArgv(PRESETS.codex!.command, { task: 'T', model: 'M', dir: '/d' }), 'T'));
  });

  it('gemini: --help lists every option of the preset; its argv and env get a prompt that starts with - to the API', { timeout: RUN_TIMEOUT }, async (ctx) => {
    needClient(ctx, gemini);
    const home = tempDir('ckpt-gemini-home-');
    const help = await execa(gemini.bin, ['--help'], { env: { ...baseEnv(), HOME: home }, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
    expect(help.exitCode, explainRun(help)).toBe(0);
    const task = '--starts-with-dashes: fix it';
    const argv = expandArgv(PRESETS.gemini!.command, { task, model: TEST_MODELS.gemini, dir: '/d' });
    expect(argv).toEqual(['gemini', `--prompt=${task}`, '--approval-mode=yolo', '--output-format', 'stream-json', '-m', TEST_MODELS.gemini]);
    expectHelpLists(help.stdout, presetFlags(argv, task));
    expect(help.stdout).toMatch(/--approval-mode[^\n]*choices:[^\n]*"yolo"/);
    expect(help.stdout).toMatch(/-o, --output-format[^\n]*choices:[^\n]*"stream-json"/);

    // The scripted server answers with one final text (an empty script): far enough to show
    // the argv parses, the workspace is trusted (yolo stays yolo) and the prompt and model
    // arrive as given.
    const srv = await server({ turns: [{ final: 'nothing to do' }] });
    const repo = makeRepo(BASE);
    write(home, { '.gemini/settings.json': JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }) });
    const env = { ...baseEnv(), HOME: home, TMPDIR: home, GEMINI_API_KEY: 'test', GOOGLE_GEMINI_BASE_URL: srv.url };
    const bin = gemini.bin;
    const run = (extra: Record<string, string>) => runClient(bin, argv.slice(1), { cwd: repo, env: { ...env, ...extra }, timeoutMs: 90_000 });

    const r = await run(PRESETS.gemini!.env);
    expect(r.stderr).not.toMatch(/Unknown argument|not running in a trusted directory|overridden to "default"/);
    const events = parseJsonLines(r.stdout);
    expect(events.find((e) => e.type === 'init')?.model).toBe(TEST_MODELS.gemini);
    expect(events.find((e) => e.type === 'message' && e.role === 'user')?.content).toBe(task);
    expect(events.find((e) => e.type === 'result')).toMatchObject({ status: 'success', stats: { input_tokens: 120, output_tokens: 30 } });
    expect(srv.requests.map((x) => x.url)).toContain(`/v1beta/models/${TEST_MODELS.gemini}:streamGenerateContent?alt=sse`);
    expect(r.exitCode, explainRun(r)).toBe(0);

    // Without the preset's env, the attempt's new (untrusted) worktree stops a headless run.
    const untrusted = await run({});
    expect(untrusted.exitCode, explainRun(untrusted)).toBe(55);
    expect(untrusted.stderr).toMatch(/not running in a trusted directory/);
  });
});
