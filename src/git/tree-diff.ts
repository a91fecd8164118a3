/**
 * The one tree-change model: what changed between two trees, one entry per
 * path, as `git diff-tree -r -z --raw --no-renames --full-index` reports it
 * (git-diff-tree(1), "RAW OUTPUT FORMAT"). Rollback, race pick, race counts,
 * `ckpt diff`, the snapshot summaries and the viewer all read changes here.
 */
import { git, splitNul } from './exec.js';
import type { Repo } from './repo-type.js';
import { shadowEnv } from './shadow.js';

/** git's status letter of a raw diff entry: Added, Deleted, Modified, Type changed (file ↔ symlink ↔ gitlink). */
export type ChangeStatus = 'A' | 'D' | 'M' | 'T';

/** One path that differs between two trees. Modes are git's (`100644`, `100755`, `120000`, `160000`, `000000` for absent). */
export interface TreeChange {
  /** Repository-relative path, raw bytes (any name git can store). */
  rel: Buffer;
  /** The path as UTF-8 text (bytes that are not UTF-8 shown as U+FFFD): for display and JSON only. */
  path: string;
  /** Mode on the old side, `000000` when the path is absent there. */
  srcMode: string;
  /** Mode on the new side, `000000` when the path is absent there. */
  dstMode: string;
  /** Object id on the old side (all zeros when absent). */
  srcOid: string;
  /** Object id on the new side (all zeros when absent). */
  dstOid: string;
  status: ChangeStatus;
}

/** The empty tree's id in each object format (git knows it without storing it). */
export const EMPTY_TREE = { sha1: '4b825dc642cb6eb9a060e54bf8d69288fbee4904', sha256: '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321' } as const;

/**
 * Every path that differs between tree `from` and tree `to` (recursively, no
 * rename detection, full object ids), read from ckpt's object store.
 *
 * @param from a tree id (or tree-ish); the empty tree ({@link EMPTY_TREE}) to list `to` whole.
 * @param paths limit to these repository-relative paths, taken literally (a directory matches what is under it).
 * @throws CkptError `GIT_FAILED` (an unknown tree, say).
 */
export async function diffTrees(repo: Repo, from: string, to: string, paths?: readonly string[] | null): Promise<TreeChange[]> {
  const args = ['diff-tree', '-r', '-z', '--no-renames', '--raw', '--full-index', from, to];
  if (paths && paths.length > 0) args.push('--', ...paths);
  const { stdout } = await git(args, { cwd: repo.worktree, env: { ...shadowEnv(repo), GIT_LITERAL_PATHSPECS: '1' } });
  return parseRawDiff(stdout);
}

/** Parses `git diff-tree -r -z --raw` output (":srcMode dstMode srcOid dstOid S\0path\0" records). */
export function parseRawDiff(stdout: Buffer): TreeChange[] {
  const recs = splitNul(stdout);
  const out: TreeChange[] = [];
  for (let i = 0; i + 1 < recs.length; i += 2) {
    const [srcMode, dstMode, srcOid, dstOid, status] = recs[i]!.toString('latin1').slice(1).split(' ');
    const rel = recs[i + 1]!;
    out.push({ rel, path: rel.toString('utf8'), srcMode: srcMode!, dstMode: dstMode!, srcOid: srcOid!, dstOid: dstOid!, status: status!.slice(0, 1) as ChangeStatus });
  }
  return out;
}
