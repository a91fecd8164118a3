/**
 * Diffs between two snapshots, or a snapshot and the live worktree, as git
 * prints them (`git diff-tree -p`, no external diff, no textconv, raw bytes).
 */
import type { Snapshot } from '../core/types.js';
import { git, splitNul } from '../git/exec.js';
import { objectSizes } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { diffTrees, type TreeChange } from '../git/tree-diff.js';
import { withWorktreeLock } from './lock.js';
import { noSnapshots, resolveSnapshot } from './store.js';
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
    if (!tip) throw noSnapshots(repo);
    from = tip;
  }
  const to = opts.to ? await resolveSnapshot(repo, opts.to) : null;
  const toTree = to ? to.tree : await withWorktreeLock(repo, () => captureTree(repo));
  return { from, to, ...(await diffTreesText(repo, from.tree, toTree, opts)) };
}

/**
 * Files larger than this (bytes) are summarised as binary, never read whole
 * (git's `core.bigFileThreshold`, git-config(1)): a 2 GiB file costs git a
 * header read, not 2 GiB of memory.
 */
export const BIG_FILE_BYTES = 32 * 1024 * 1024;

/**
 * The diff between two tree ids (snapshots, a race's base and an attempt):
 * per-file counts and, unless `statOnly`, the patch text.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function diffTreesText(
  repo: Repo,
  fromTree: string,
  toTree: string,
  opts: Pick<DiffOptions, 'paths' | 'color' | 'statOnly'> = {},
): Promise<Pick<DiffResult, 'files' | 'patch'>> {
  const env = { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' };
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : null;
  const tail = paths ? ['--', ...paths] : [];
  const big = ['-c', `core.bigFileThreshold=${BIG_FILE_BYTES}`];
  const [changes, num] = await Promise.all([
    diffTrees(repo, fromTree, toTree, paths),
    git([...big, 'diff-tree', '-r', '-z', '--no-renames', '--numstat', fromTree, toTree, ...tail], { cwd: repo.worktree, env }),
  ]);
  const status = new Map(changes.map((c) => [c.path, c.status]));
  const files: FileDiff[] = [];
  for (const rec of splitNul(num.stdout)) {
    const m = /^(-|\d+)\t(-|\d+)\t([\s\S]*)$/.exec(rec.toString('utf8'));
    if (!m) continue;
    const binary = m[1] === '-';
    files.push({ path: m[3]!, status: status.get(m[3]!) ?? 'M', insertions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary });
  }
  let patch = '';
  if (!opts.statOnly && files.length > 0) {
    // git reads a big blob whole to print even "Binary files differ" (a deletion, say): big files
    // are left out of git's patch and get that summary from us, from their ids alone.
    const bigOnes = await bigChanges(repo, changes.filter((c) => files.some((f) => f.binary && f.path === c.path)));
    // Pathspec magic instead of a list of every other path (argv stays short): the user's paths
    // as `:(literal)`, the big ones as `:(exclude,literal)` (gitglossary(7) "pathspec").
    const rest = bigOnes.length === 0 ? tail : ['--', ...(paths ?? []).map((p) => `:(literal)${p}`), ...bigOnes.map((c) => `:(exclude,literal)${c.path}`)];
    if (bigOnes.length < changes.length) {
      const args = [...big, 'diff-tree', '-p', '-r', '--no-ext-diff', '--no-textconv', '--no-renames', opts.color ? '--color=always' : '--no-color', fromTree, toTree, ...rest];
      patch = (await git(args, { cwd: repo.worktree, env: bigOnes.length === 0 ? env : { ...env, GIT_LITERAL_PATHSPECS: undefined } })).stdout.toString('utf8');
    }
    for (const c of bigOnes) patch += binarySummary(c, repo.zeroOid);
  }
  return { files, patch };
}

/** The changes among `binary` whose blob on either side is larger than {@link BIG_FILE_BYTES} (one `cat-file --batch-check`). */
async function bigChanges(repo: Repo, binary: TreeChange[]): Promise<TreeChange[]> {
  const oids = binary.flatMap((c) => [c.srcOid, c.dstOid]).filter((o) => !/^0+$/.test(o));
  const sizes = await objectSizes(oids, { cwd: repo.worktree, env: shadowEnv(repo) });
  const big = new Set([...sizes].filter(([, n]) => n > BIG_FILE_BYTES).map(([o]) => o));
  return binary.filter((c) => big.has(c.srcOid) || big.has(c.dstOid));
}

/** What `git diff` prints for a binary file, built from the change alone (no blob read). */
function binarySummary(c: TreeChange, zero: string): string {
  const short = (o: string): string => (o === zero ? '0000000' : o.slice(0, 7));
  const a = c.srcMode === '000000' ? '/dev/null' : `a/${c.path}`;
  const b = c.dstMode === '000000' ? '/dev/null' : `b/${c.path}`;
  const lines = [`diff --git a/${c.path} b/${c.path}`];
  if (c.srcMode === '000000') lines.push(`new file mode ${c.dstMode}`, `index ${short(c.srcOid)}..${short(c.dstOid)}`);
  else if (c.dstMode === '000000') lines.push(`deleted file mode ${c.srcMode}`, `index ${short(c.srcOid)}..${short(c.dstOid)}`);
  else if (c.srcMode !== c.dstMode) lines.push(`old mode ${c.srcMode}`, `new mode ${c.dstMode}`, `index ${short(c.srcOid)}..${short(c.dstOid)}`);
  else lines.push(`index ${short(c.srcOid)}..${short(c.dstOid)} ${c.srcMode}`);
  lines.push(`Binary files ${a} and ${b} differ`);
  return lines.join('\n') + '\n';
}
