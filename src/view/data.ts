/**
 * The data behind the web viewer, shared by the live server (server.ts) and
 * the static report (report.ts): the comparison index and per-file models,
 * an attempt's (or a worktree's) checkpoint timeline, the tree and file bytes
 * at one of its steps, and one step's own changes.
 *
 * Everything a request can name is checked against what the race records:
 * a step must be one of the chain's snapshots, a path one of that step's
 * tree entries, so no request reaches any other object.
 */
import type { Step } from '../core/types.js';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';
import { findAttempt } from '../race/compare.js';
import type { RaceRecord } from '../race/types.js';
import { listSteps } from '../snapshot/store.js';
import { diffTrees, listTree, readBlobs } from '../snapshot/tree-read.js';
import { loadFileInputs, loadRaceComparison, type RaceComparison } from './load.js';
import { compareFiles, summarizeFile, type NwayComparison, type NwayFile } from './nway.js';
import { isBinary } from './text.js';
import type { ComparisonIndex, StepFile, StepTree, TreeEntry } from './wire.js';

export type { ComparisonIndex, StepFile, StepTree, TreeEntry } from './wire.js';

/** The index of a comparison (drops the lines). */
export function indexOf(cmp: NwayComparison & { missing?: string[] }): ComparisonIndex {
  return { attempts: cmp.attempts, missing: cmp.missing ?? [], files: cmp.files.map(summarizeFile), disagreements: cmp.disagreements };
}

/**
 * Caches race comparisons by the attempts' trees (a finished race is
 * compared once; a running one again whenever an attempt takes a snapshot).
 */
export class ComparisonCache {
  private key = '';
  private value: Promise<RaceComparison> | null = null;

  /** The comparison of `race` now. @throws CkptError `GIT_FAILED`. */
  async get(repo: Repo, race: RaceRecord): Promise<RaceComparison> {
    const key = JSON.stringify(race.attempts.map((a) => [a.name, a.final ?? a.ref, a.steps]));
    if (this.value && key === this.key) return this.value;
    this.key = key;
    this.value = loadRaceComparison(repo, race);
    this.value.catch(() => {
      if (this.key === key) this.value = null;
    });
    return this.value;
  }
}

/** One file's model from a comparison. @throws CkptError `PATH_NOT_FOUND`. */
export function fileOf(cmp: NwayComparison, filePath: string): NwayFile {
  const f = cmp.files.find((x) => x.path === filePath);
  if (!f) throw new CkptError('PATH_NOT_FOUND', `no attempt changed ${JSON.stringify(filePath)}`, { hint: 'The changed files are listed by /api/compare.', data: { path: filePath } });
  return f;
}

/**
 * The checkpoint timeline of attempt `name` (newest first), or of `repo`'s
 * own worktree when `name` is null.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`, `GIT_FAILED`.
 */
export async function stepsOf(repo: Repo, race: RaceRecord | null, name: string | null): Promise<Step[]> {
  if (race && name !== null) return listSteps(repo, { ref: findAttempt(race, name).ref });
  return listSteps(repo);
}

/** Finds `id` (full or unique prefix) among `steps`. @throws CkptError `SNAPSHOT_NOT_FOUND`. */
export function findStep(steps: Step[], id: string): Step {
  const hits = id.length >= 4 ? steps.filter((s) => s.id.startsWith(id)) : [];
  if (hits.length !== 1) throw new CkptError('SNAPSHOT_NOT_FOUND', `no step ${JSON.stringify(id)} in this timeline`, { hint: 'Name a step id (4 characters or more) from /api/steps of the same timeline.', data: { step: id } });
  return hits[0]!;
}

/**
 * The tree of `step` (one of `steps`): every file, changed ones first.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function stepTree(repo: Repo, steps: Step[], step: Step, limit = 5000): Promise<StepTree> {
  const listing = await listTree(repo, step.tree);
  const parent = step.parent ? steps.find((s) => s.id === step.parent) ?? null : null;
  const changes = new Map<string, 'A' | 'M' | 'D'>();
  if (parent) {
    for (const c of await diffTrees(repo, parent.tree, step.tree)) changes.set(c.path, c.dstMode === '000000' ? 'D' : c.srcMode === '000000' ? 'A' : 'M');
  }
  const all: TreeEntry[] = [];
  for (const e of listing) all.push({ path: e.path, mode: e.mode, oid: e.oid, size: e.size, change: changes.get(e.path) ?? null });
  for (const [p, ch] of changes) if (ch === 'D') all.push({ path: p, mode: '000000', oid: '', size: null, change: 'D' });
  all.sort((a, b) => Number(!a.change) - Number(!b.change) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { step, entries: all.slice(0, limit), truncated: all.length > limit };
}

const STEP_PATH_HINT = "Name a file path from the step's /api/tree listing.";

/**
 * The bytes of `filePath` in `step`'s tree, as text when it is text and at
 * most `maxBytes`.
 *
 * @throws CkptError `PATH_NOT_FOUND`, `GIT_FAILED`.
 */
export async function stepFile(repo: Repo, step: Step, filePath: string, maxBytes = 1024 * 1024): Promise<StepFile> {
  const segs = filePath.split('/');
  if (filePath.includes('\0') || segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw new CkptError('PATH_NOT_FOUND', `${JSON.stringify(filePath)} is not a path in step ${step.step}`, { hint: STEP_PATH_HINT, data: { path: filePath } });
  }
  const entry = (await listTree(repo, step.tree, filePath))[0];
  if (!entry) throw new CkptError('PATH_NOT_FOUND', `${JSON.stringify(filePath)} is not in step ${step.step}`, { hint: STEP_PATH_HINT, data: { path: filePath } });
  const { mode, type, oid, size: bytes } = entry;
  if (type === 'tree') throw new CkptError('PATH_NOT_FOUND', `${JSON.stringify(filePath)} is a directory in step ${step.step}`, { hint: STEP_PATH_HINT, data: { path: filePath } });
  if (type !== 'blob') return { path: filePath, mode, size: bytes, text: null, binary: false, tooLarge: false };
  if ((bytes ?? 0) > maxBytes) return { path: filePath, mode, size: bytes, text: null, binary: false, tooLarge: true };
  const content = (await readBlobs(repo, [oid])).get(oid);
  const binary = !content || isBinary(content);
  return { path: filePath, mode, size: bytes, text: binary ? null : content.toString('utf8'), binary, tooLarge: false };
}

/**
 * What one step changed against the previous step (or, for the first step
 * of a chain, against `baseTree` when given), as a one-attempt comparison
 * whose attempt is named `step N`.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function stepChanges(repo: Repo, steps: Step[], step: Step, baseTree: string | null = null): Promise<NwayComparison> {
  const parent = step.parent ? steps.find((s) => s.id === step.parent) ?? null : null;
  const from = parent?.tree ?? baseTree;
  const name = `step ${step.step}`;
  if (!from) return { attempts: [name], files: [], disagreements: [] };
  const inputs = await loadFileInputs(repo, from, { [name]: step.tree });
  return compareFiles(inputs, [name]);
}
