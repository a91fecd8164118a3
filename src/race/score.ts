/**
 * Ranking attempts. The score (higher is better) adds up, in this order of
 * weight: the check passed (1000, less 40 for each round after the first it
 * took, so passing in fewer rounds ranks higher; at most 20 rounds keep it
 * above everything else), the agent finished cleanly (100), it changed
 * something (10); ties go to the attempt that needed fewer rounds (a
 * reviewer's request for changes costs one too), then to the faster. The best attempt is
 * marked in the summary; it is a suggestion, the user picks.
 */
import type { RaceRecord } from './types.js';

/** What each round after the first costs a passing attempt's score. */
const ROUND_PENALTY = 40;

/** Sets each attempt's `score` and the race's `best`. */
export function scoreAttempts(race: RaceRecord): void {
  for (const a of race.attempts) {
    let s = 0;
    if (a.check?.passed) s += 1000 - ROUND_PENALTY * (Math.max(1, a.rounds?.length ?? 1) - 1);
    if (a.state === 'done') s += 100;
    if (a.files > 0) s += 10;
    a.score = s;
  }
  race.best = rankAttempts(race).filter((a) => (a.score ?? 0) >= 110)[0]?.name ?? null;
}

/** The attempts in ckpt's order: higher score first, then fewer rounds, then the faster. */
export function rankAttempts(race: RaceRecord): RaceRecord['attempts'] {
  const rounds = (a: RaceRecord['attempts'][number]): number => Math.max(1, a.rounds?.length ?? 1);
  return [...race.attempts].sort((x, y) => (y.score ?? 0) - (x.score ?? 0) || rounds(x) - rounds(y) || (x.durationMs ?? Infinity) - (y.durationMs ?? Infinity));
}
