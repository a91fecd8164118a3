/**
 * Every process of an attempt ends with the attempt: an agent that starts a
 * detached writer (`setsid`, SIGTERM ignored) and exits leaves nothing
 * running once the race is over, under each mechanism this machine offers
 * (bwrap and unshare PID namespaces where they work, the sweep always).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFINEMENTS, confinementWorks, detectConfinement } from '../src/agents/confine.js';
import { attemptSnapshot, fileVersions } from '../src/race/compare.js';
import { openRepo } from '../src/git/repo.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { CLI } from './support/repo.js';
import { killProcessesIn, processesIn } from './support/procs.js';
import { raceRepo } from './support/race.js';

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
        if (mechanism === 'sweep') expect(swept.join('\n')).toMatch(/detach: ended \d+ process\(es\) its agent left running \(sweep\)/);
        else expect(swept).toEqual([]);
      } finally {
        killProcessesIn(a.dir);
      }
    }, 60_000);
  }

  it('a mechanism that does not work here is refused before anything is created', async () => {
    const missing = CONFINEMENTS.find((c) => !confinementWorks(c));
    const { dir, worktrees } = raceRepo();
    if (!missing) return; // every mechanism works on this machine
    await expect(planRace({ cwd: dir, task: 't', models: 'detach', confine: missing, ckptBin: CLI })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });
});
