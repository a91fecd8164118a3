/**
 * Reading a worktree's snapshot chain: listing steps with their change counts,
 * and resolving what the user names (a step, an id, `-N`, a time) to a snapshot.
 */
import { CkptError } from '../core/errors.js';
import { parseTimePoint } from '../core/duration.js';
import type { Snapshot, Step } from '../core/types.js';
import { git } from '../git/exec.js';
import { readLooseObject, readStoreRefFast } from '../git/loose.js';
import { readObjects } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv, storeExists } from '../git/shadow.js';
import { decodeSnapshot, snapshotFromObject } from './format.js';
import { readTip } from './take.js';
import { counted } from '../core/plural.js';

/** Options for {@link listSteps}. */
export interface ListOptions {
  /** At most this many steps, newest first. Default: all. */
  limit?: number;
  /** Compute per-step change counts (one extra pass in the same git call). Default true. */
  stats?: boolean;
  /** Read this ref instead of the worktree's own chain. */
  ref?: string;
}

/**
 * Lists the snapshots of `repo`'s worktree, newest first, with each step's
 * file and line counts against the previous snapshot (`null` for the first of
 * a chain). One `git log --first-parent` call.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function listSteps(repo: Repo, opts: ListOptions = {}): Promise<Step[]> {
  if (!storeExists(repo)) return []; // no store, no step (and none created by a reader)
  const ref = opts.ref ?? repo.ref;
  const tip = (ref.startsWith('refs/') ? readLooseSnapshot(repo, readStoreRefFast(repo, ref)) : undefined) ?? (await readSnapshot(repo, ref));
  if (!tip) return [];
  const max = Math.min(opts.limit ?? Infinity, tip.step);
  if (opts.stats === false) {
    const walked = walkLoose(repo, tip, max);
    if (walked) return walked;
  }
  const args = ['log', '-z', '--first-parent', `-n${max}`, '--format=%x01%H %T %P%n%B'];
  if (opts.stats !== false) args.push('--diff-merges=first-parent', '--numstat', '--no-renames');
  args.push(tip.id, '--');
  const { stdout } = await git(args, { cwd: repo.worktree, env: shadowEnv(repo) });
  const steps: Step[] = [];
  for (const chunk of stdout.toString('utf8').split('\x01')) {
    if (!chunk) continue;
    const nul = chunk.indexOf('\0');
    const body = nul < 0 ? chunk : chunk.slice(0, nul);
    const nl = body.indexOf('\n');
    const [id, tree, ...parents] = body.slice(0, nl).split(' ');
    const snap = decodeSnapshot({ id: id!, tree: tree!, parents: parents.filter(Boolean), message: body.slice(nl + 1) });
    if (!snap) break; // reached the index commit ending the chain
    let stats: Step['stats'] = null;
    if (snap.parent && opts.stats !== false) {
      stats = { files: 0, insertions: 0, deletions: 0 };
      const rest = nul < 0 ? '' : chunk.slice(nul + 1).replace(/^\n/, '');
      for (const rec of rest.split('\0')) {
        const m = /^(-|\d+)\t(-|\d+)\t/.exec(rec);
        if (!m) continue;
        stats.files++;
        if (m[1] !== '-') stats.insertions += Number(m[1]);
        if (m[2] !== '-') stats.deletions += Number(m[2]);
      }
    }
    steps.push({ ...snap, stats });
  }
  return steps;
}

/**
 * Resolves a user's name for a snapshot of `repo`:
 * - `7`: step 7 of this worktree;
 * - `-2`: two steps before the newest (like `HEAD~2`);
 * - a commit id or unique prefix (4+ hex digits) of any ckpt snapshot, also
 *   one of another worktree of the same repository (e.g. a race attempt);
 * - `@`, `latest`: the newest snapshot.
 *
 * @throws CkptError `NO_SNAPSHOTS`, `SNAPSHOT_NOT_FOUND`.
 */
export async function resolveSnapshot(repo: Repo, spec: string): Promise<Snapshot> {
  const s = spec.trim();
  const { tip } = await readTip(repo);
  if (s === '@' || s === 'latest' || s === 'HEAD') {
    if (!tip) throw noSnapshots(repo);
    return tip;
  }
  if (/^\d{1,9}$/.test(s) && !(s.length >= 7 && /^[0-9a-f]+$/.test(s) && Number(s) > (tip?.step ?? 0))) {
    if (!tip) throw noSnapshots(repo);
    const step = Number(s);
    // Step numbers count up by one along the chain: step N is tip.step - N
    // snapshots back, so only those are read (all of them when it is not there).
    const near = step <= tip.step ? await listSteps(repo, { stats: false, limit: tip.step - step + 1 }) : [];
    const steps = near.some((x) => x.step === step) ? near : await listSteps(repo, { stats: false });
    const found = steps.find((x) => x.step === step);
    if (!found) throw notFound(spec, `no step ${step} in this worktree (steps ${steps.at(-1)?.step ?? 1}–${tip.step} exist)`);
    return found;
  }
  if (/^-\d+$/.test(s) || /^~\d+$/.test(s)) {
    if (!tip) throw noSnapshots(repo);
    const back = Number(s.slice(1));
    const steps = await listSteps(repo, { stats: false, limit: back + 1 });
    const found = steps[back];
    if (!found) throw notFound(spec, `only ${counted(steps.length, 'snapshot')} in this worktree`);
    return found;
  }
  if (/^[0-9a-f]{4,64}$/i.test(s)) {
    const obj = (await readObjects([`${s}^{commit}`], { cwd: repo.worktree, env: shadowEnv(repo) })).get(`${s}^{commit}`);
    const snap = snapshotFromObject(obj);
    if (snap) return snap;
    throw notFound(spec, obj ? `${s} is a commit, but not a ckpt snapshot` : `no object ${s}`);
  }
  throw notFound(spec, `${JSON.stringify(spec)} is not a step number, -N, or a snapshot id`);
}

/**
 * The newest snapshot taken at or before `when` (see {@link parseTimePoint}).
 *
 * @throws CkptError `INVALID_DURATION`, `NO_SNAPSHOTS`, `SNAPSHOT_NOT_FOUND`.
 */
export async function resolveTime(repo: Repo, when: string, now = Date.now()): Promise<Snapshot> {
  const t = parseTimePoint(when, now);
  const steps = await listSteps(repo, { stats: false });
  if (steps.length === 0) throw noSnapshots(repo);
  const found = steps.find((x) => x.time <= t);
  if (!found) throw notFound(when, `the oldest snapshot is from ${new Date(steps.at(-1)!.time).toISOString()}`);
  return found;
}

/**
 * Reads the object `name` (a ref, a commit id, `ID^{commit}`) and decodes it
 * as a snapshot: the one reader of a single snapshot.
 *
 * @returns null when `name` resolves to nothing, or to something that is not a ckpt snapshot.
 * @throws CkptError `GIT_FAILED`.
 */
export async function readSnapshot(repo: Repo, name: string): Promise<Snapshot | null> {
  if (!storeExists(repo)) return null; // snapshots live in the store only; a read creates none
  return snapshotFromObject((await readObjects([name], { cwd: repo.worktree, env: shadowEnv(repo) })).get(name));
}

/**
 * The snapshot whose commit `oid` is a loose object of ckpt's store (or the
 * repository's), read in process; undefined when it is not loose (or `oid`
 * is not an id), null when it is no snapshot.
 */
function readLooseSnapshot(repo: Repo, oid: string | null | undefined): Snapshot | null | undefined {
  if (!oid) return undefined;
  const obj = readLooseObject(repo, oid);
  return obj ? snapshotFromObject({ oid, ...obj }) : undefined;
}

/**
 * {@link listSteps} without stats, read in process from `tip` along first
 * parents while every commit is loose (the newest ones are): at most `max`
 * steps, ending, as `git log --first-parent` does for listSteps, at the first
 * commit that is no snapshot (the index commit). Null when a commit on the
 * way is not loose: the caller asks git.
 */
function walkLoose(repo: Repo, tip: Snapshot, max: number): Step[] | null {
  const steps: Step[] = [];
  let cur: Snapshot | null = tip;
  while (cur && steps.length < max) {
    steps.push({ ...cur, stats: null });
    if (steps.length >= max || !cur.parent) break;
    const next = readLooseSnapshot(repo, cur.parent);
    if (next === undefined) return null;
    cur = next;
  }
  return steps;
}

/** The one `NO_SNAPSHOTS` error: `repo`'s worktree has no snapshot yet. */
export function noSnapshots(repo: Repo): CkptError {
  return new CkptError('NO_SNAPSHOTS', `no snapshots yet for ${repo.worktree}`, { hint: 'Take one with `ckpt snap`, or run `ckpt watch` while an agent works.' });
}

function notFound(spec: string, why: string): CkptError {
  return new CkptError('SNAPSHOT_NOT_FOUND', `no snapshot ${JSON.stringify(spec)}: ${why}`, { hint: 'List the steps with `ckpt log`.', data: { spec } });
}
