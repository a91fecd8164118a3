/**
 * An attempt's base taken in process when the daemon did not answer for it
 * (race/attempt.ts `takeBaseItself`): a tip that is already this attempt's
 * base (the daemon recorded it, its reply lost) is not taken twice; any other
 * tip, or none, gets the base.
 */
import { describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { takeBaseItself } from '../src/race/attempt.js';
import { takeSnapshot } from '../src/snapshot/take.js';
import { makeRepo } from './support/repo.js';

const RACE = '20261202-131500-a1b2';
const base = (attempt: string) => ({ kind: 'base', force: true, message: `base of race ${RACE}`, extra: { Race: RACE, Attempt: attempt, Round: '1' } }) as const;

describe("an attempt's base taken in process", () => {
  it('is not taken twice: a tip that is already its base is the base', async () => {
    const repo = await openRepo(makeRepo());
    await takeSnapshot(repo, base('claude'));
    const r = await takeBaseItself(repo, base('claude'), RACE, 'claude');
    expect(r.created).toBe(false);
    expect((await listSteps(repo)).map((s) => [s.kind, s.extra.Attempt])).toEqual([['base', 'claude']]);
  });

  it('is taken on a chain with no tip, or over a tip that is not its base (another attempt, another kind)', async () => {
    const repo = await openRepo(makeRepo());
    expect((await takeBaseItself(repo, base('claude'), RACE, 'claude')).created).toBe(true);
    expect((await takeBaseItself(repo, base('codex'), RACE, 'codex')).created).toBe(true);
    await takeSnapshot(repo, { kind: 'auto', force: true, extra: { Race: RACE, Attempt: 'claude', Round: '1' } });
    expect((await takeBaseItself(repo, base('claude'), RACE, 'claude')).created).toBe(true);
    expect((await listSteps(repo)).map((s) => [s.kind, s.extra.Attempt])).toEqual([
      ['base', 'claude'],
      ['auto', 'claude'],
      ['base', 'codex'],
      ['base', 'claude'],
    ]);
  });
});
