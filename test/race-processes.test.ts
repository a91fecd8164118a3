/**
 * Every process of an attempt ends with the attempt: an agent that starts a
 * detached writer (`setsid`, SIGTERM ignored) and exits leaves nothing
 * running once the race is over, under each mechanism this machine offers
 * (bwrap and unshare PID namespaces where they work, the sweep always).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { CONFINEMENTS, confinementWorks, detectConfinement } from '../src/agents/confine.js';
import { attemptSnapshot, fileVersions } from '../src/race/compare.js';
import { sandboxWorks } from '../src/agents/sandbox.js';
import { openRepo } from '../src/git/repo.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { CLI } from './support/repo.js';
import { killProcessesIn, processesIn } from './support/procs.js';
import { raceRepo } from './support/race.js';
import { tempDir } from './support/repo.js';
import { until } from './support/wait.js';

const available = CONFINEMENTS.filter(confinementWorks);

describe('race: processes end with their attempt', () => {
  it('the sweep always works, and is what is used when no PID namespace is', () => {
    expect(available).toContain('sweep');
    expect(detectConfinement()).toBe(available[0]);
  });

  for (const mechanism of available) {
    it(`${mechanism}: a detached writer the agent left stops with the attempt (before its final snapshot)`, async () => {
      const { dir } = raceRepo();
      const plan = await planRace({ cwd: dir, task: 't', models: 'detach', confine: mechanism, ckptBin: CLI });
      expect(plan.confinement).toBe(mechanism);
      const race = await runRace(plan, { ckptBin: CLI });
      const repo = await openRepo(dir);
      const a = race.attempts[0]!;
      try {
        expect(race.confinement).toBe(mechanism);
        expect(a.state).toBe('done');
        const f = path.join(a.dir, 'f');
        expect(fs.existsSync(f)).toBe(true);
        expect(processesIn(a.dir)).toEqual([]);
        const size = fs.statSync(f).size;
        await new Promise((r) => setTimeout(r, 400)); // the writer appended every 50 ms
        expect(fs.statSync(f).size).toBe(size);
        // …and nothing was written after the attempt's final snapshot.
        const snap = await attemptSnapshot(repo, a);
        const v = await fileVersions(repo, race, 'f', { [a.name]: snap!.tree });
        expect(v.attempts[a.name]!.equals(fs.readFileSync(f))).toBe(true);
        // Under a PID namespace the kernel ended it; the sweep only where there is none.
        const swept = race.warnings.filter((w) => w.includes('left running'));
        if (mechanism === 'sweep') expect(swept.join('\n')).toMatch(/detach: ended (1 process|\d+ processes) its agent left running \(sweep\)/);
        else expect(swept).toEqual([]);
      } finally {
        killProcessesIn(a.dir);
      }
    }, 60_000);
  }

  // The parent-death signal is set by the child after fork(2): a ckpt killed before that moment left
  // bwrap (or setpriv/unshare) and the agent running for good. The lifeline's end of file is certain.
  for (const mechanism of [...available.filter((m) => m !== 'sweep'), ...(sandboxWorks() ? ['sandbox'] : [])]) {
    it(`${mechanism}: ckpt killed with SIGKILL at any moment just after starting an agent leaves none of its processes running`, async () => {
      const dir = tempDir();
      const lib = path.join(dir, 'process.cjs');
      const stdin = { contents: "export { runProcess } from './src/agents/process.ts'; export { sandboxArgv } from './src/agents/sandbox.ts';", resolveDir: path.join(import.meta.dirname, '..'), loader: 'ts' as const };
      buildSync({ stdin, bundle: true, platform: 'node', format: 'cjs', outfile: lib, logLevel: 'silent' });
      // A ckpt that starts a confined agent (one that would run for ever), then dies 0–4 ms later, mid-start.
      const script = path.join(dir, 'starter.cjs');
      fs.writeFileSync(
        script,
        `const { runProcess, sandboxArgv } = require('./process.cjs');
const [mechanism, cwd, spin] = process.argv.slice(2);
const argv = [process.execPath, '-e', 'setInterval(() => {}, 1e9)'];
const sweep = { dir: cwd, marker: {}, sinceMs: Date.now() };
// race --sandbox: bubblewrap's own namespace (agents/sandbox.ts), the sweep as second line, as race/fence.ts runs it.
if (mechanism === 'sandbox') runProcess({ argv: sandboxArgv(argv, { readonly: [], writable: [cwd], network: true }), cwd, env: process.env, logFile: cwd + '.log', confine: { mechanism: 'sweep', sweep }, lifeline: true });
else runProcess({ argv, cwd, env: process.env, logFile: cwd + '.log', confine: { mechanism, sweep } });
const t = process.hrtime.bigint();
while (process.hrtime.bigint() - t < BigInt(Math.round(Number(spin) * 1e6))) {}
process.kill(process.pid, 'SIGKILL');
`,
      );
      const dirs: string[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          const cwd = path.join(dir, `a${i}`);
          fs.mkdirSync(cwd);
          dirs.push(cwd);
          const child = spawn(process.execPath, [script, mechanism, cwd, String((i % 5) * 1 + Math.random())], { stdio: 'ignore' });
          const code = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
          expect(code).toBe('SIGKILL');
        }
        // The kernel ends them: what the lifeline's init leaves goes with the namespace.
        await until(() => dirs.every((d) => processesIn(d).length === 0), 'every confined process to end');
      } finally {
        for (const d of dirs) killProcessesIn(d);
      }
    }, 120_000);
  }

  it('a mechanism that does not work here is refused before anything is created', async () => {
    const missing = CONFINEMENTS.find((c) => !confinementWorks(c));
    const { dir, worktrees } = raceRepo();
    if (!missing) return; // every mechanism works on this machine
    await expect(planRace({ cwd: dir, task: 't', models: 'detach', confine: missing, ckptBin: CLI })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });
});
