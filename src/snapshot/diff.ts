/**
 * Diffs between two snapshots, or a snapshot and the live worktree, as git
 * prints them (`git diff-tree -p`, no external diff, no textconv, raw bytes).
 */
import { CkptError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { withWorktreeLock } from './lock.js';
import { resolveSnapshot } from './store.js';
import { captureTree, readTip } from './take.js';

/** Options for {@link diff}. */
export interface DiffOptions {
  /** Older side: a snapshot name (see resolveSnapshot). Default: the newest snapshot. */
  from?: string;
  /** Newer side: a snapshot name, or undefined for the live worktree. */
  to?: string;
  /** Repository-relative paths to limit to. */
  paths?: string[];
  /** Include ANSI colours in the patch. */
  color?: boolean;
  /** Skip the patch text (only per-file counts). */
  statOnly?: boolean;
}

/** One changed file. Counts are lines; `binary` files have none. */
export interface FileDiff {
  path: string;
  /** A (added), D (deleted), M (modified), T (type changed: file ↔ symlink). */
  status: 'A' | 'D' | 'M' | 'T';
  insertions: number;
  deletions: number;
  binary: boolean;
}

/** What {@link diff} returns. */
export interface DiffResult {
  from: Snapshot;
  /** The newer snapshot, or null for the live worktree. */
  to: Snapshot | null;
  files: FileDiff[];
  /** Unified diff text (empty with `statOnly`). */
  patch: string;
}

/**
 * Diffs two states of `repo`'s worktree.
 *
 * @throws CkptError `NO_SNAPSHOTS`, `SNAPSHOT_NOT_FOUND`, `LOCKED` (reading the
 *   live worktree takes the worktree lock briefly), `GIT_FAILED`.
 */
export async function diff(repo: Repo, opts: DiffOptions = {}): Promise<DiffResult> {
  let from: Snapshot;
  if (opts.from) from = await resolveSnapshot(repo, opts.from);
  else {
    const { tip } = await readTip(repo);
    if (!tip) throw new CkptError('NO_SNAPSHOTS', `no snapshots yet for ${repo.worktree}`, { hint: 'Take one with `ckpt snap`.' });
    from = tip;
  }
  const to = opts.to ? await resolveSnapshot(repo, opts.to) : null;
  const toTree = to ? to.tree : await withWorktreeLock(repo, () => captureTree(repo));
  return diffTreesText(repo, from, to, from.tree, toTree, opts);
}

/** The diff between two tree ids; exported for race comparisons. */
export async function diffTreesText(
  repo: Repo,
  from: Snapshot,
  to: Snapshot | null,
  fromTree: string,
  toTree: string,
  opts: Pick<DiffOptions, 'paths' | 'color' | 'statOnly'>,
): Promise<DiffResult> {
  const env = { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' };
  const tail = opts.paths && opts.paths.length > 0 ? ['--', ...opts.paths] : [];
  const files = await fileStats(repo, fromTree, toTree, tail, env);
  let patch = '';
  if (!opts.statOnly && files.length > 0) {
    const args = ['diff-tree', '-p', '-r', '--no-ext-diff', '--no-textconv', '--no-renames', opts.color ? '--color=always' : '--no-color', fromTree, toTree, ...tail];
    patch = (await git(args, { cwd: repo.worktree, env })).stdout.toString('utf8');
  }
  return { from, to, files, patch };
}

async function fileStats(repo: Repo, a: string, b: string, tail: string[], env: Record<string, string | undefined>): Promise<FileDiff[]> {
  const [raw, num] = await Promise.all([
    git(['diff-tree', '-r', '-z', '--no-renames', '--raw', a, b, ...tail], { cwd: repo.worktree, env }),
    git(['diff-tree', '-r', '-z', '--no-renames', '--numstat', a, b, ...tail], { cwd: repo.worktree, env }),
  ]);
  const status = new Map<string, FileDiff['status']>();
  const recs = splitNul(raw.stdout);
  for (let i = 0; i + 1 < recs.length; i += 2) {
    const meta = recs[i]!.toString('utf8');
    status.set(recs[i + 1]!.toString('utf8'), meta.slice(meta.lastIndexOf(' ') + 1, meta.lastIndexOf(' ') + 2) as FileDiff['status']);
  }
  const out: FileDiff[] = [];
  for (const rec of splitNul(num.stdout)) {
    const m = /^(-|\d+)\t(-|\d+)\t([\s\S]*)$/.exec(rec.toString('utf8'));
    if (!m) continue;
    const binary = m[1] === '-';
    out.push({ path: m[3]!, status: status.get(m[3]!) ?? 'M', insertions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary });
  }
  return out;
}
