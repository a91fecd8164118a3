/**
 * What each attempt changed against the race's base: per-file counts,
 * unified patches, and the file contents on each side, read from the
 * attempts' snapshots (so it works after `race clean` too).
 */
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { diffTreesText, type FileDiff } from '../snapshot/diff.js';
import { readSnapshot } from '../snapshot/store.js';
import type { Attempt, RaceRecord } from './types.js';

/** One attempt's changes against the base. */
export interface AttemptDiff {
  attempt: string;
  /** Tree of the attempt's final (or latest) snapshot, null when it has none. */
  tree: string | null;
  files: FileDiff[];
  /** Unified diff base → attempt (no colour). */
  patch: string;
}

/**
 * The latest snapshot of an attempt (its final one once finished).
 * Returns null when the attempt never got a snapshot.
 */
export async function attemptSnapshot(repo: Repo, attempt: Attempt): Promise<Snapshot | null> {
  return readSnapshot(repo, attempt.final ?? attempt.ref);
}

/**
 * Diffs of the named attempts (default: all) against the base.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`.
 */
export async function attemptDiffs(repo: Repo, race: RaceRecord, names?: string[], opts: { color?: boolean; statOnly?: boolean } = {}): Promise<AttemptDiff[]> {
  const attempts = selectAttempts(race, names);
  const out: AttemptDiff[] = [];
  for (const a of attempts) {
    const snap = await attemptSnapshot(repo, a);
    if (!snap) {
      out.push({ attempt: a.name, tree: null, files: [], patch: '' });
      continue;
    }
    const d = await diffTreesText(repo, race.base.tree, snap.tree, { color: !!opts.color, statOnly: !!opts.statOnly });
    out.push({ attempt: a.name, tree: snap.tree, files: d.files, patch: d.patch });
  }
  return out;
}

/**
 * The bytes of `path` in the base and in each attempt's final tree (null where
 * the file does not exist).
 */
export async function fileVersions(repo: Repo, race: RaceRecord, filePath: string, trees: Record<string, string | null>): Promise<{ base: Buffer | null; attempts: Record<string, Buffer | null> }> {
  const names = [`${race.base.tree}:${filePath}`, ...Object.values(trees).filter((t): t is string => !!t).map((t) => `${t}:${filePath}`)];
  const objs = await readObjects([...new Set(names)], { cwd: repo.worktree, env: shadowEnv(repo) });
  const get = (n: string): Buffer | null => {
    const o = objs.get(n);
    return o && o.type === 'blob' ? o.content : null;
  };
  const attempts: Record<string, Buffer | null> = {};
  for (const [name, tree] of Object.entries(trees)) attempts[name] = tree ? get(`${tree}:${filePath}`) : null;
  return { base: get(`${race.base.tree}:${filePath}`), attempts };
}

/**
 * The attempts named (in the race's order), or all.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`.
 */
export function selectAttempts(race: RaceRecord, names?: string[]): Attempt[] {
  if (!names || names.length === 0) return race.attempts;
  return names.map((n) => findAttempt(race, n));
}

/** @throws CkptError `ATTEMPT_NOT_FOUND`. */
export function findAttempt(race: RaceRecord, name: string): Attempt {
  const a = race.attempts.find((x) => x.name === name);
  if (!a) {
    throw new CkptError('ATTEMPT_NOT_FOUND', `race ${race.id} has no attempt ${JSON.stringify(name)}`, {
      hint: `Attempts: ${race.attempts.map((x) => x.name).join(', ')}`,
      data: { race: race.id, attempt: name },
    });
  }
  return a;
}
