/**
 * Reads what the views show from git: each attempt's changed files against
 * the base (`git diff-tree --raw`, one call per attempt) and their contents
 * (one `git cat-file --batch-check` plus one `--batch` for all blobs), by
 * object id, so any path name works. Feeds the pure model in nway.ts.
 */
import type { Repo } from '../git/repo.js';
import { blobSizes, diffTrees, readBlobs } from '../snapshot/tree-read.js';
import { attemptSnapshot, selectAttempts } from '../race/compare.js';
import type { RaceRecord } from '../race/types.js';
import { compareFiles, type CompareOptions, type FileInput, type FileSide, type NwayComparison } from './nway.js';
import { isBinary } from './text.js';

/** Blobs larger than this are not read (shown as "too large"). */
export const MAX_BLOB_BYTES = 2 * 1024 * 1024;

/**
 * Reads blobs by id into file sides: text when it is text and not larger
 * than {@link MAX_BLOB_BYTES}; a symlink's side holds its target; a gitlink's
 * `Subproject commit <oid>`.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function readSides(repo: Repo, wanted: Array<{ oid: string; mode: string }>): Promise<Map<string, FileSide>> {
  const out = new Map<string, FileSide>();
  const blobs = [...new Set(wanted.filter((w) => w.mode !== '160000').map((w) => w.oid))];
  const sizes = await blobSizes(repo, blobs);
  const small = blobs.filter((o) => (sizes.get(o) ?? Infinity) <= MAX_BLOB_BYTES);
  const objs = await readBlobs(repo, small);
  for (const w of wanted) {
    const key = `${w.mode} ${w.oid}`;
    if (out.has(key)) continue;
    if (w.mode === '160000') {
      out.set(key, { oid: w.oid, mode: w.mode, text: `Subproject commit ${w.oid}\n`, size: 0 });
      continue;
    }
    const size = sizes.get(w.oid) ?? 0;
    const obj = objs.get(w.oid);
    if (!obj) {
      out.set(key, { oid: w.oid, mode: w.mode, text: null, size, large: true });
      continue;
    }
    const text = isBinary(obj) ? null : obj.toString('utf8');
    out.set(key, { oid: w.oid, mode: w.mode, text, size });
  }
  return out;
}

/**
 * The inputs of the N-way model for `trees` (attempt → tree) against
 * `baseTree`: every path any attempt changed, with each side's content.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function loadFileInputs(repo: Repo, baseTree: string, trees: Record<string, string>): Promise<FileInput[]> {
  const zero = repo.zeroOid;
  const perAttempt = await Promise.all(Object.entries(trees).map(async ([name, tree]) => [name, await diffTrees(repo, baseTree, tree)] as const));
  const byPath = new Map<string, { base: { oid: string; mode: string } | null; versions: Record<string, { oid: string; mode: string } | null> }>();
  for (const [name, changes] of perAttempt) {
    for (const c of changes) {
      let e = byPath.get(c.path);
      if (!e) {
        e = { base: c.srcMode === '000000' ? null : { oid: c.srcOid, mode: c.srcMode }, versions: {} };
        byPath.set(c.path, e);
      }
      e.versions[name] = c.dstMode === '000000' || c.dstOid === zero ? null : { oid: c.dstOid, mode: c.dstMode };
    }
  }
  const wanted: Array<{ oid: string; mode: string }> = [];
  for (const e of byPath.values()) {
    if (e.base) wanted.push(e.base);
    for (const v of Object.values(e.versions)) if (v) wanted.push(v);
  }
  const sides = await readSides(repo, wanted);
  const get = (s: { oid: string; mode: string } | null): FileSide | null => (s ? sides.get(`${s.mode} ${s.oid}`) ?? null : null);
  const out: FileInput[] = [];
  for (const [p, e] of byPath) {
    const versions: FileInput['versions'] = {};
    for (const [name, v] of Object.entries(e.versions)) versions[name] = get(v);
    out.push({ path: p, base: get(e.base), versions });
  }
  return out;
}

/** The trees of a race's attempts (their latest snapshot), null where none exists. */
export async function attemptTrees(repo: Repo, race: RaceRecord, names?: string[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const a of selectAttempts(race, names)) out[a.name] = (await attemptSnapshot(repo, a))?.tree ?? null;
  return out;
}

/** What {@link loadRaceComparison} returns. */
export interface RaceComparison extends NwayComparison {
  /** Attempts left out because they have no snapshot yet. */
  missing: string[];
  /** Attempt → tree compared. */
  trees: Record<string, string>;
}

/**
 * The N-way comparison of a race's attempts (default: all) against its base.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`, `GIT_FAILED`.
 */
export async function loadRaceComparison(repo: Repo, race: RaceRecord, names?: string[], opts: CompareOptions = {}): Promise<RaceComparison> {
  const all = await attemptTrees(repo, race, names);
  const trees: Record<string, string> = {};
  const missing: string[] = [];
  for (const [n, t] of Object.entries(all)) {
    if (t) trees[n] = t;
    else missing.push(n);
  }
  const inputs = await loadFileInputs(repo, race.base.tree, trees);
  return { ...compareFiles(inputs, Object.keys(trees), opts), missing, trees };
}
