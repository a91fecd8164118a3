/**
 * `race --rounds` with the REAL Claude Code and Codex clients, offline (the scripted model
 * server, test/support/model-server.ts): round 1 of each writes a wrong value, the check
 * fails, and round 2 resumes the client's own session (Claude `--resume <session_id>`,
 * Codex `exec resume <thread_id>`) with the check's failing output, which the model server
 * receives; the attempt ends passing. Clients come from the test cache (clients.ts); a test
 * is skipped only when the install is impossible.
 */
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadScript, startModelServer, type ModelServer } from './support/model-server.js';
import { TEST_MODELS, claudeEnv, codexEnv, ensureClient, geminiEnv, explainRun, needClient, type EnsureResult } from './support/clients.js';
import { CLI, makeRepo, picture, tempDir } from './support/repo.js';
import fs from 'node:fs';
import { listSteps, openRepo } from '../src/index.js';

const RACE = path.join(path.dirname(CLI), 'race.js');
const INSTALL_TIMEOUT = 15 * 60_000;
const RACE_TIMEOUT = 300_000;


const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const CHECK = [
  "import fs from 'node:fs';",
  "const src = fs.existsSync('src/value.js') ? fs.readFileSync('src/value.js', 'utf8') : '';",
  'const m = /value = (\\d+)/.exec(src);',
  "if (!m || m[1] !== '2') { console.log(`CHECK FAILED: value is ${m ? m[1] : 'missing'}, expected 2`); process.exitCode = 1; } else console.log('check ok');",
  '',
].join('\n');

describe('race --rounds with the real Claude Code and Codex clients (offline)', () => {
  let claude: EnsureResult | undefined;
  let codex: EnsureResult | undefined;
  beforeAll(async () => {
    [claude, codex] = await Promise.all([ensureClient('claude'), ensureClient('codex')]);
  }, INSTALL_TIMEOUT);

  it(
    'a failed check resumes each client\'s own session with the failing output; both attempts end passing in round 2',
    async (ctx) => {
      needClient(ctx, claude);
      needClient(ctx, codex);
      const script = loadScript('rounds-real');
      const srv: ModelServer = await startModelServer(script);
      cleanups.push(() => srv.close());
      const ce = await claudeEnv({ url: srv.url });
      const xe = await codexEnv({ url: srv.url });
      cleanups.push(ce.cleanup, xe.cleanup);
      const env = { ...ce.env, CODEX_HOME: xe.codexHome, CKPT_TEST_KEY: 'test', PATH: [path.dirname(claude.bin), path.dirname(codex.bin), ce.env.PATH].join(path.delimiter), NO_COLOR: '1' };
      const repo = makeRepo({ 'README.md': '# app\n', 'check.mjs': CHECK });
      const before = picture(repo);
      const worktrees = tempDir('ckpt-wt-');
      const models = `claude@${TEST_MODELS.claude},codex@${TEST_MODELS.codex}`;
      const args = [script.task!, '--models', models, '--worktree-dir', worktrees, '--timeout', '3m', '--check', `${process.execPath} check.mjs`, '--rounds', '3'];
      const r = await execa(process.execPath, [RACE, ...args], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: RACE_TIMEOUT - 30_000, killSignal: 'SIGKILL' });
      expect(r.exitCode, explainRun(r)).toBe(0);
      const show = await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      expect(show.exitCode, explainRun(show)).toBe(0);
      const race = JSON.parse(show.stdout);

      for (const a of race.attempts) {
        const log = fs.existsSync(a.log) ? fs.readFileSync(a.log, 'utf8').slice(-3000) : '';
        expect(a.state, `${a.name}: ${a.error}\n${log}`).toBe('done');
        expect(a.rounds.map((x: any) => [x.round, x.how, x.state, x.check?.passed]), `${a.name}\n${log}`).toEqual([
          [1, 'start', 'done', false],
          [2, 'resume', 'done', true],
        ]);
        expect(a.rounds[0].session).toMatch(/\S/);
        expect(a.rounds[1].session).toBe(a.rounds[0].session);
        expect(a.check.passed).toBe(true);
        expect(fs.readFileSync(path.join(a.dir, 'src/value.js'), 'utf8')).toBe('export const value = 2;\n');
      }
      const [cl, cx] = race.attempts;
      expect(cl.rounds[1].command).toContain('--resume');
      expect(cl.rounds[1].command[cl.rounds[1].command.indexOf('--resume') + 1]).toBe(cl.rounds[0].session);
      expect(cx.rounds[1].command.slice(0, 3)).toEqual(['codex', 'exec', 'resume']);
      expect(cx.rounds[1].command).toContain(cx.rounds[0].session);

      // The model server: per client, one session played the whole script (resumed, not restarted),
      // and the request that opened round 2 (turn 2) held the first check's failing output.
      const turns = srv.turnRequests();
      for (const api of ['anthropic', 'openai'] as const) {
        const mine = turns.filter((t) => t.api === api);
        expect(mine.map((t) => t.turn), api).toEqual([0, 1, 2, 3]);
        expect(new Set(mine.map((t) => t.session)).size, api).toBe(1);
        const opening = mine.find((t) => t.turn === 2)!;
        expect(JSON.stringify(opening.body), api).toContain('CHECK FAILED: value is 3, expected 2');
        expect(JSON.stringify(mine.find((t) => t.turn === 1)!.body), api).not.toContain('CHECK FAILED');
      }
      // Claude Code's hook snapshots carry the race, the attempt and the round (from CKPT_ROUND).
      const hooked = (await listSteps(await openRepo(cl.dir))).filter((s) => s.kind === 'before' || s.kind === 'after');
      expect(hooked.length).toBeGreaterThanOrEqual(4);
      expect(hooked.every((s) => s.extra.Race === race.id && s.extra.Attempt === 'claude')).toBe(true);
      expect([...new Set(hooked.map((s) => s.extra.Round))].sort()).toEqual(['1', '2']);
      expect(r.stdout).toMatch(/2: fail pass/);
      expect(picture(repo)).toEqual(before);
    },
    RACE_TIMEOUT,
  );
});

describe('race --rounds with the real Gemini CLI (offline)', () => {
  let gemini: EnsureResult | undefined;
  beforeAll(async () => {
    gemini = await ensureClient('gemini');
  }, INSTALL_TIMEOUT);

  it(
    'a failed check resumes Gemini CLI\'s own session (--resume=<session_id>) with the failing output; the attempt ends passing in round 2',
    async (ctx) => {
      needClient(ctx, gemini);
      const script = loadScript('rounds-real');
      const srv: ModelServer = await startModelServer(script);
      cleanups.push(() => srv.close());
      const ge = await geminiEnv({ url: srv.url });
      cleanups.push(ge.cleanup);
      const env = { ...ge.env, PATH: [path.dirname(gemini.bin), ge.env.PATH].join(path.delimiter), NO_COLOR: '1' };
      const repo = makeRepo({ 'README.md': '# app\n', 'check.mjs': CHECK });
      const before = picture(repo);
      const worktrees = tempDir('ckpt-wt-');
      const args = [script.task!, '--models', `gemini@${TEST_MODELS.gemini}`, '--worktree-dir', worktrees, '--timeout', '3m', '--check', `${process.execPath} check.mjs`, '--rounds', '3'];
      const r = await execa(process.execPath, [RACE, ...args], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: RACE_TIMEOUT - 30_000, killSignal: 'SIGKILL' });
      expect(r.exitCode, explainRun(r)).toBe(0);
      const show = await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      const a = JSON.parse(show.stdout).attempts[0];
      const log = fs.existsSync(a.log) ? fs.readFileSync(a.log, 'utf8').slice(-3000) : '';
      expect(a.state, `${a.error}\n${log}`).toBe('done');
      expect(a.rounds.map((x: any) => [x.round, x.how, x.state, x.check?.passed]), log).toEqual([
        [1, 'start', 'done', false],
        [2, 'resume', 'done', true],
      ]);
      expect(a.rounds[0].session).toMatch(/^[0-9a-f-]{36}$/);
      expect(a.rounds[1].session).toBe(a.rounds[0].session);
      expect(a.rounds[1].command).toContain(`--resume=${a.rounds[0].session}`);
      expect(fs.readFileSync(path.join(a.dir, 'src/value.js'), 'utf8')).toBe('export const value = 2;\n');
      const turns = srv.turnRequests();
      expect(turns.map((t) => t.turn)).toEqual([0, 1, 2, 3]);
      // Round 2's first request holds round 1's conversation and the check's failing output.
      expect(JSON.stringify(turns[2]!.body)).toContain('CHECK FAILED: value is 3, expected 2');
      expect(JSON.stringify(turns[2]!.body)).toContain('export const value = 3;');
      expect(JSON.stringify(turns[1]!.body)).not.toContain('CHECK FAILED');
      expect(picture(repo)).toEqual(before);
    },
    RACE_TIMEOUT,
  );
});
