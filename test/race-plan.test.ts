/**
 * planRace, called as a library: the numbers the CLI's schema refuses are
 * refused here too, before anything is created.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planRace } from '../src/race/plan.js';
import { CLI } from './support/repo.js';
import { raceRepo } from './support/race.js';

describe('planRace', () => {
  it.each([Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY])('refuses maxParallel %s, creating nothing', async (maxParallel) => {
    const { dir, worktrees } = raceRepo();
    await expect(planRace({ cwd: dir, task: 't', models: 'detach', maxParallel, ckptBin: CLI })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });

  it('takes a whole number of at least 1, and defaults to one slot per attempt', async () => {
    const { dir } = raceRepo();
    expect((await planRace({ cwd: dir, task: 't', models: 'detach', maxParallel: 1, ckptBin: CLI })).maxParallel).toBe(1);
    expect((await planRace({ cwd: dir, task: 't', models: 'detach,detach', ckptBin: CLI })).maxParallel).toBe(2);
  });
});
