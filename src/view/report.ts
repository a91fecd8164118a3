/**
 * The static report (`race view --out FILE`): the viewer's page with every
 * file's model, each attempt's timeline and each step's changes inlined, so
 * it opens from disk with no server and no network. Pick buttons and tree
 * browsing are disabled there.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Step } from '../core/types.js';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import type { RaceRecord } from '../race/types.js';
import { loadRaceComparison } from './load.js';
import { indexOf, stepChanges, stepsOf } from './data.js';
import type { NwayComparison, NwayFile } from './nway.js';
import { renderPage, type Boot } from './page.js';

/** Options of {@link writeReport}. */
export interface ReportOptions {
  repo: Repo;
  /** The race; null or absent: `repo`'s own checkpoints. */
  race?: RaceRecord | null;
  /** Where to write the HTML (an absolute path, or relative to the process's directory). */
  out: string;
  /** Inline the changes of at most this many steps (newest first, over all timelines). Default 300. */
  maxSteps?: number;
}

/** What {@link writeReport} wrote. */
export interface ReportResult {
  /** Absolute path of the file. */
  out: string;
  bytes: number;
  files: number;
}

/**
 * Builds the static report's HTML.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function buildReport(opts: Omit<ReportOptions, 'out'>): Promise<{ html: string; files: number }> {
  const { repo } = opts;
  const race = opts.race ?? null;
  let budget = opts.maxSteps ?? 300;
  const steps: Record<string, Step[]> = {};
  const changes: Record<string, NwayComparison> = {};
  const addTimeline = async (key: string, list: Step[], baseTree: string | null): Promise<void> => {
    steps[key] = list;
    for (const s of list) {
      if (budget-- <= 0) break;
      changes[s.id] = await stepChanges(repo, list, s, baseTree);
    }
  };
  let boot: Boot;
  if (race) {
    const cmp = await loadRaceComparison(repo, race);
    const files: Record<string, NwayFile> = {};
    for (const f of cmp.files) files[f.path] = f;
    for (const a of race.attempts) await addTimeline(a.name, await stepsOf(repo, race, a.name), race.base.tree);
    boot = { mode: 'race', static: true, token: null, race, index: indexOf(cmp), files, steps, worktree: race.worktree, stepChanges: changes };
  } else {
    await addTimeline('', await stepsOf(repo, null, null), null);
    boot = { mode: 'worktree', static: true, token: null, race: null, index: null, files: null, steps, worktree: repo.worktree, stepChanges: changes };
  }
  const html = renderPage(boot, randomBytes(16).toString('base64url'));
  return { html, files: boot.files ? Object.keys(boot.files).length : 0 };
}

/**
 * Writes the static report to `out` (atomically: temp file, then rename).
 *
 * @throws CkptError `GIT_FAILED`, `FS_FAILED` (cannot write `out`).
 */
export async function writeReport(opts: ReportOptions): Promise<ReportResult> {
  const { html, files } = await buildReport(opts);
  const out = path.resolve(opts.out);
  try {
    await writeFileAtomic(out, html, { fsync: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CkptError('FS_FAILED', `cannot write ${out}: ${e.code ?? e.message}`, { hint: 'Check the directory exists and is writable.', data: { path: out, errno: e.code ?? null }, cause: err });
  }
  return { out, bytes: Buffer.byteLength(html), files };
}
