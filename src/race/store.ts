/**
 * Where races live: `<git-common-dir>/ckpt/races/<id>/` holds `race.json`
 * (rewritten atomically at each change), `logs/<attempt>.log` (the agent's
 * output, capped) and `checks/<attempt>.log`. So `race show` works after the
 * terminal closed, and a race whose process died is reported as interrupted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { CkptError, fsFailure } from '../core/errors.js';
import { processRunning } from '../core/process-alive.js';
import type { Repo } from '../git/repo.js';
import type { RaceRecord } from './types.js';

/** The directory of all races of `repo`'s repository. */
export function racesDir(repo: Repo): string {
  return path.join(repo.commonDir, 'ckpt', 'races');
}

/** The directory of one race. */
export function raceDir(repo: Repo, id: string): string {
  return path.join(racesDir(repo), id);
}

/**
 * Claims race id `id` for this process: makes its directory, which must not
 * exist yet (`mkdir(2)` is atomic: of two processes that planned the same id,
 * one gets it). A race's record, logs and settings are written only into a
 * directory it claimed, so no race overwrites another's.
 *
 * @throws CkptError `RACE_ID_TAKEN` (the directory exists), `FS_FAILED`.
 */
export function claimRaceDir(repo: Repo, id: string): void {
  const dir = raceDir(repo, id);
  try {
    mkdirSync(racesDir(repo), { recursive: true });
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CkptError('RACE_ID_TAKEN', `race id ${id} is taken: another race of this repository claimed it`, { hint: 'Run the race again (it gets a new id); nothing was created.', data: { id } });
    }
    throw fsFailure(err, 'make the race directory', dir);
  }
}

/** Writes the record atomically (temp file + rename). */
export function saveRace(repo: Repo, race: RaceRecord): void {
  const dir = raceDir(repo, race.id);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic.sync(path.join(dir, 'race.json'), JSON.stringify(race, null, 2) + '\n', { fsync: false });
}

/**
 * Reads a race. A race still marked running whose process is gone is returned
 * as interrupted (its running attempts too).
 *
 * @throws CkptError `RACE_NOT_FOUND`.
 */
export function loadRace(repo: Repo, id: string): RaceRecord {
  const file = path.join(raceDir(repo, id), 'race.json');
  if (!existsSync(file)) {
    throw new CkptError('RACE_NOT_FOUND', `no race ${JSON.stringify(id)}`, { hint: 'List races with `race list`.', data: { id } });
  }
  const race = JSON.parse(readFileSync(file, 'utf8')) as RaceRecord;
  return withLiveness(race);
}

/** All races of the repository, newest first. */
export function listRaces(repo: Repo): RaceRecord[] {
  const dir = racesDir(repo);
  if (!existsSync(dir)) return [];
  const out: RaceRecord[] = [];
  for (const id of readdirSync(dir)) {
    try {
      out.push(loadRace(repo, id));
    } catch {
      // a half-made race dir: skip
    }
  }
  return out.sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * The race named `id`, or the latest one.
 *
 * @throws CkptError `RACE_NOT_FOUND`.
 */
export function resolveRace(repo: Repo, id?: string): RaceRecord {
  if (id) return loadRace(repo, id);
  const all = listRaces(repo);
  if (all.length === 0) throw new CkptError('RACE_NOT_FOUND', 'no race in this repository yet', { hint: 'Start one: race "TASK" --models claude,codex' });
  return all[0]!;
}

function withLiveness(race: RaceRecord): RaceRecord {
  if (race.state !== 'running' || processRunning(race.pid, race.pidStart ?? null)) return race;
  return {
    ...race,
    state: 'interrupted',
    attempts: race.attempts.map((a) => (['pending', 'setup', 'running', 'checking'].includes(a.state) ? { ...a, state: 'interrupted' as const } : a)),
  };
}

