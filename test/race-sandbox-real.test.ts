/**
 * `race --sandbox` with the REAL Claude Code client, offline (the scripted model server,
 * test/support/model-server.ts): its hooks run inside the sandbox, where ckpt's store is
 * read-only, and record every tool call's before/after pair through the race's hook relay
 * (src/race/hook-relay.ts); the agent's own write into the store is refused. The client comes
 * from the test cache (clients.ts); the test is skipped only when the install is impossible
 * or bubblewrap cannot run here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { sandboxWorks } from '../src/agents/sandbox.js';
import { TEST_MODELS, claudeEnv, ensureClient, type EnsureResult } from './support/clients.js';
import { loadScript, startModelServer } from './support/model-server.js';
import { CLI, makeRepo, picture, tempDir } from './support/repo.js';

const RACE = path.join(path.dirname(CLI), 'race.js');
const INSTALL_TIMEOUT = 15 * 60_000;
const RACE_TIMEOUT = 300_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function explain(r: { exitCode?: number | undefined; stdout: string; stderr: string }): string {
  return `exit ${r.exitCode}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

describe('race --sandbox with the real Claude Code client (offline)', () => {
  let claude: EnsureResult | undefined;
  beforeAll(async () => {
    claude = await ensureClient('claude');
  }, INSTALL_TIMEOUT);

  it(
    "its hooks record a before/after pair per tool call through the race's relay; its write into the store is refused",
    async (ctx) => {
      if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
      if (!claude || 'skip' in claude) return ctx.skip(claude ? claude.skip : 'client not installed');
      const script = loadScript('sandbox-hooks');
      const srv = await startModelServer(script);
      cleanups.push(() => srv.close());
      const ce = await claudeEnv({ url: srv.url });
      cleanups.push(ce.cleanup);
      const env = { ...ce.env, PATH: [path.dirname(claude.bin), ce.env.PATH].join(path.delimiter), NO_COLOR: '1' };
      const repo = makeRepo({ 'README.md': '# app\n' });
      const before = picture(repo);
      const worktrees = tempDir('ckpt-wt-');
      const args = [script.task!, '--models', `claude@${TEST_MODELS.claude}`, '--worktree-dir', worktrees, '--timeout', '3m', '--sandbox'];
      const r = await execa(process.execPath, [RACE, ...args], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: RACE_TIMEOUT - 30_000, killSignal: 'SIGKILL' });
      expect(r.exitCode, explain(r)).toBe(0);
      const show = await execa(process.execPath, [RACE, 'show', '--json'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      expect(show.exitCode, explain(show)).toBe(0);
      const race = JSON.parse(show.stdout);
      const a = race.attempts[0];
      const log = fs.readFileSync(a.log, 'utf8');
      expect(a.state, `${a.error}\n${log.slice(-3000)}`).toBe('done');
      expect(race.sandbox).toEqual({ network: true });
      expect(fs.readFileSync(path.join(a.dir, 'hello.txt'), 'utf8')).toBe('hello world\nfrom ckpt\n');
      expect(fs.readFileSync(path.join(a.dir, 'gen.txt'), 'utf8')).toBe('generated\n');
      // The agent's own write into the store was refused (its Bash output went back to the model).
      expect(fs.existsSync(path.join(repo, '.git', 'ckpt', 'INTRUDER'))).toBe(false);
      const bashResult = JSON.stringify(srv.turnRequests().find((t) => t.turn === 3)?.body ?? '');
      expect(bashResult).toMatch(/Read-only file system/);
      expect(bashResult).toContain('store rc=');
      // Every tool call has its pair, recorded by the relay with the race's trailers.
      const steps = (await listSteps(await openRepo(a.dir))).reverse();
      const hooked = steps.filter((s) => s.kind === 'before' || s.kind === 'after');
      expect(hooked.map((s) => `${s.kind} ${s.tool}`)).toEqual(['before Write', 'after Write', 'before Edit', 'after Edit', 'before Bash', 'after Bash']);
      for (let k = 0; k < hooked.length; k += 2) {
        expect(hooked[k]!.toolUseId).toMatch(/\S/);
        expect(hooked[k + 1]!.toolUseId).toBe(hooked[k]!.toolUseId);
      }
      for (const s of hooked) expect(s.extra).toMatchObject({ Race: race.id, Attempt: 'claude', Round: '1' });
      expect(picture(repo)).toEqual(before);
    },
    RACE_TIMEOUT,
  );
});
