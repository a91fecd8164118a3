/**
 * `race --models opencode` with the REAL OpenCode client (opencode-ai, pinned in
 * test/support/clients.ts), offline against the scripted model server's Chat
 * Completions: ckpt's plugin is passed in OPENCODE_CONFIG_CONTENT (no file in the user's
 * checkout nor in the attempt), every tool call gets its before/after pair with the race,
 * attempt and round; a failed check resumes OpenCode's own session (`run --session`);
 * tokens come from its JSON lines; the user's checkout is untouched. Under `--sandbox` the
 * plugin's hooks reach the race's hook relay and record the same pairs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { sandboxWorks } from '../src/agents/sandbox.js';
import { loadScript, startModelServer, type ModelServer } from './support/model-server.js';
import { TEST_MODELS, ensureClient, opencodeEnv, explainRun, needClient, type EnsureResult } from './support/clients.js';
import { CLI, makeRepo, picture, tempDir } from './support/repo.js';

const RACE = path.join(path.dirname(CLI), 'race.js');
const INSTALL_TIMEOUT = 15 * 60_000;
const RACE_TIMEOUT = 360_000;


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

describe('race with the real OpenCode client (offline)', () => {
  let opencode: EnsureResult | undefined;
  beforeAll(async () => {
    opencode = await ensureClient('opencode');
    if ('skip' in opencode) console.warn(`[race-opencode-real.test] OpenCode skipped: ${opencode.skip}`);
  }, INSTALL_TIMEOUT);

  it(
    "its plugin passed in the environment: a pair per tool call in each round; the failed check resumes its session; tokens read; the user's checkout untouched",
    async (ctx) => {
      needClient(ctx, opencode);
      const script = loadScript('rounds-real');
      const srv: ModelServer = await startModelServer(script);
      cleanups.push(() => srv.close());
      const oc = await opencodeEnv({ url: srv.url });
      cleanups.push(oc.cleanup);
      const env = { ...oc.env, PATH: [path.dirname(opencode.bin), oc.env.PATH].join(path.delimiter), NO_COLOR: '1' };
      const repo = makeRepo({ 'README.md': '# app\n', 'check.mjs': CHECK });
      const before = picture(repo);
      const worktrees = tempDir('ckpt-wt-');
      const args = [script.task!, '--models', `opencode@${TEST_MODELS.opencode}`, '--worktree-dir', worktrees, '--timeout', '4m', '--check', `${process.execPath} check.mjs`, '--rounds', '2'];
      // Started from the user's checkout, as a user would: OpenCode must still work in the attempt.
      const r = await execa(process.execPath, [RACE, ...args], { cwd: repo, env: { ...env, PWD: repo }, extendEnv: false, reject: false, stdin: 'ignore', timeout: RACE_TIMEOUT - 30_000, killSignal: 'SIGKILL' });
      expect(r.exitCode, explainRun(r)).toBe(0);
      const show = await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      expect(show.exitCode, explainRun(show)).toBe(0);
      const race = JSON.parse(show.stdout);
      const a = race.attempts[0];
      const log = fs.existsSync(a.log) ? fs.readFileSync(a.log, 'utf8').slice(-3000) : '';
      expect(a.state, `${a.error}\n${log}`).toBe('done');
      expect(a.rounds.map((x: any) => [x.round, x.how, x.state, x.check?.passed]), log).toEqual([
        [1, 'start', 'done', false],
        [2, 'resume', 'done', true],
      ]);
      expect(a.rounds[0].session).toMatch(/^ses_/);
      expect(a.rounds[1].session).toBe(a.rounds[0].session);
      expect(a.rounds[1].command.slice(0, 2)).toEqual(['opencode', 'run']);
      expect(a.rounds[1].command[a.rounds[1].command.indexOf('--session') + 1]).toBe(a.rounds[0].session);
      // Tokens from its JSON lines: 4 turns of the server's 120 in / 30 out.
      expect(a.tokens).toMatchObject({ input: 480, output: 120 });
      expect(fs.readFileSync(path.join(a.dir, 'src/value.js'), 'utf8')).toBe('export const value = 2;\n');

      // One session played the whole script (resumed, not restarted); round 2 opened with the failing check.
      const turns = srv.turnRequests();
      expect(turns.map((t) => t.turn)).toEqual([0, 1, 2, 3]);
      expect(new Set(turns.map((t) => t.session)).size).toBe(1);
      expect(JSON.stringify(turns[2]!.body)).toContain('CHECK FAILED: value is 3, expected 2');
      expect(turns.every((t) => t.cwd === a.dir)).toBe(true);

      // The plugin's pairs, with the race, the attempt and the round; no plugin file in the attempt.
      const hooked = (await listSteps(await openRepo(a.dir))).reverse().filter((s) => s.kind === 'before' || s.kind === 'after');
      const ids = turns.flatMap((t) => t.calls.map((c) => c.id));
      expect(hooked.map((s) => [s.kind, s.tool, s.toolUseId, s.agent, s.extra.Race, s.extra.Attempt, s.extra.Round])).toEqual([
        ['before', 'write', ids[0], 'opencode', race.id, 'opencode', '1'],
        ['after', 'write', ids[0], 'opencode', race.id, 'opencode', '1'],
        ['before', 'bash', ids[1], 'opencode', race.id, 'opencode', '2'],
        ['after', 'bash', ids[1], 'opencode', race.id, 'opencode', '2'],
      ]);
      expect(fs.existsSync(path.join(a.dir, '.opencode'))).toBe(false);
      const hookLog = path.join(repo, '.git', 'ckpt', 'hook.log');
      expect(fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8') : '').toBe('');

      // The user's checkout: byte for byte as before (OpenCode worked in the attempt, not in PWD).
      expect(picture(repo)).toEqual(before);
    },
    RACE_TIMEOUT,
  );

  it(
    '--sandbox: the plugin inside the fence records its pairs through the race\'s hook relay',
    async (ctx) => {
      if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
      needClient(ctx, opencode);
      const srv: ModelServer = await startModelServer(loadScript('write-edit-bash'));
      cleanups.push(() => srv.close());
      const oc = await opencodeEnv({ url: srv.url });
      cleanups.push(oc.cleanup);
      const env = { ...oc.env, PATH: [path.dirname(opencode.bin), oc.env.PATH].join(path.delimiter), NO_COLOR: '1' };
      const repo = makeRepo({ 'README.md': '# app\n' });
      const before = picture(repo);
      const worktrees = tempDir('ckpt-wt-');
      const args = ['Create hello.txt.', '--models', `opencode@${TEST_MODELS.opencode}`, '--worktree-dir', worktrees, '--timeout', '4m', '--sandbox'];
      const r = await execa(process.execPath, [RACE, ...args], { cwd: repo, env: { ...env, PWD: repo }, extendEnv: false, reject: false, stdin: 'ignore', timeout: RACE_TIMEOUT - 30_000, killSignal: 'SIGKILL' });
      expect(r.exitCode, explainRun(r)).toBe(0);
      const show = await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      const a = JSON.parse(show.stdout).attempts[0];
      expect(a.state, a.error).toBe('done');
      const ids = srv.turnRequests().flatMap((t) => t.calls.map((c) => c.id));
      const hooked = (await listSteps(await openRepo(a.dir))).reverse().filter((s) => s.kind === 'before' || s.kind === 'after');
      expect(hooked.map((s) => [s.kind, s.tool, s.toolUseId, s.agent])).toEqual(
        ['write', 'edit', 'bash'].flatMap((tool, i) => [
          ['before', tool, ids[i], 'opencode'],
          ['after', tool, ids[i], 'opencode'],
        ]),
      );
      expect(fs.readFileSync(path.join(a.dir, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
      expect(picture(repo)).toEqual(before);
    },
    RACE_TIMEOUT,
  );
});
