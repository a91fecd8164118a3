/**
 * The one tree-change model: what changed between two trees, one entry per
 * path, as `git diff-tree -r -z --raw --no-renames --full-index` reports it
 * (git-diff-tree(1), "RAW OUTPUT FORMAT"). Rollback, race pick, race counts,
 * `ckpt diff`, the snapshot summaries and the viewer all read changes here.
 * When every tree the diff must open is a loose object (the trees of recent
 * snapshots are), it is computed in process, in git's order and with git's
 * statuses; otherwise by `git diff-tree`.
 */
import { git, splitNul } from './exec.js';
import { readLooseObject } from './loose.js';
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
  if (!paths || paths.length === 0) {
    const inProcess = diffLooseTrees(repo, from, to);
    if (inProcess) return inProcess;
  }
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

/** At most this many trees are opened in process for one diff; past it git diffs (it reads packs and large diffs faster). */
const MAX_LOOSE_TREES = 2000;

interface Entry {
  name: Buffer;
  /** The mode as git stores it in a tree, as a number (0o40000 for a tree). */
  mode: number;
  oid: string;
}

const isTree = (mode: number): boolean => (mode & 0o170000) === 0o040000;

/**
 * {@link diffTrees} of `from` and `to` (whole trees) computed in process from
 * loose objects, or undefined when a tree it must open is not a loose object
 * (packed, say), is not a tree, or the diff opens more than MAX_LOOSE_TREES:
 * the caller then asks git. The same entries in the same order as
 * `git diff-tree -r --raw --no-renames` (tree-diff.c: entries merged in
 * `base_name_compare` order, a directory's name compared as if it ended in
 * `/`; equal subtrees skipped; status T when the file type changes).
 */
export function diffLooseTrees(repo: Repo, from: string, to: string): TreeChange[] | undefined {
  const hexLen = repo.zeroOid.length;
  const oidLen = hexLen / 2;
  const empty = EMPTY_TREE[repo.objectFormat];
  let opened = 0;
  const entries = (oid: string): Entry[] | undefined => {
    if (oid === empty) return [];
    if (++opened > MAX_LOOSE_TREES) return undefined;
    const obj = readLooseObject(repo, oid);
    if (!obj || obj.type !== 'tree') return undefined;
    const out: Entry[] = [];
    const c = obj.content;
    for (let i = 0; i < c.length; ) {
      const sp = c.indexOf(0x20, i);
      const nul = c.indexOf(0, sp + 1);
      if (sp < 0 || nul < 0 || nul + 1 + oidLen > c.length) return undefined;
      out.push({ mode: parseInt(c.toString('latin1', i, sp), 8), name: c.subarray(sp + 1, nul), oid: c.toString('hex', nul + 1, nul + 1 + oidLen) });
      i = nul + 1 + oidLen;
    }
    return out;
  };
  if (!/^[0-9a-f]+$/.test(from) || !/^[0-9a-f]+$/.test(to) || from.length !== hexLen || to.length !== hexLen) return undefined;
  const out: TreeChange[] = [];
  const mode6 = (m: number): string => m.toString(8).padStart(6, '0');
  const emit = (rel: Buffer, a: Entry | null, b: Entry | null): void => {
    const status: ChangeStatus = !a ? 'A' : !b ? 'D' : (a.mode & 0o170000) !== (b.mode & 0o170000) ? 'T' : 'M';
    out.push({ rel, path: rel.toString('utf8'), srcMode: a ? mode6(a.mode) : '000000', dstMode: b ? mode6(b.mode) : '000000', srcOid: a ? a.oid : repo.zeroOid, dstOid: b ? b.oid : repo.zeroOid, status });
  };
  const walk = (prefix: Buffer, aOid: string | null, bOid: string | null): boolean => {
    const as = aOid ? entries(aOid) : [];
    const bs = bOid ? entries(bOid) : [];
    if (!as || !bs) return false;
    let i = 0;
    let j = 0;
    while (i < as.length || j < bs.length) {
      const a = as[i];
      const b = bs[j];
      const cmp = !a ? 1 : !b ? -1 : baseNameCompare(a, b);
      const x = cmp <= 0 ? a! : null;
      const y = cmp >= 0 ? b! : null;
      if (x) i++;
      if (y) j++;
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const rel = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), (x ?? y)!.name]) : (x ?? y)!.name;
      // Equal names compare equal only when both are trees or both are not (a tree sorts as NAME/).
      if ((x && isTree(x.mode)) || (y && isTree(y.mode))) {
        if (!walk(rel, x ? x.oid : null, y ? y.oid : null)) return false;
      } else emit(rel, x, y);
    }
    return true;
  };
  return walk(Buffer.alloc(0), from, to) ? out : undefined;
}

/** git's `base_name_compare` (tree.c): bytes, then the next byte, a tree's name continuing with `/`. */
function baseNameCompare(a: Entry, b: Entry): number {
  const len = Math.min(a.name.length, b.name.length);
  const c = Buffer.compare(a.name.subarray(0, len), b.name.subarray(0, len));
  if (c !== 0) return c;
  const c1 = a.name.length > len ? a.name[len]! : isTree(a.mode) ? 0x2f : 0;
  const c2 = b.name.length > len ? b.name[len]! : isTree(b.mode) ? 0x2f : 0;
  return c1 < c2 ? -1 : c1 > c2 ? 1 : 0;
}

/**
 * The paths of every gitlink (mode `160000`: a nested repository recorded
 * by its commit) in tree `tree`, recursively, as UTF-8 text, in git's
 * order. Nothing else is kept: a first snapshot's warnings need only these,
 * where a diff against the empty tree made one record per file (10k files:
 * 10k records, for none of them a gitlink). The tree's loose objects are
 * scanned in process; when one is packed (a first snapshot's trees are
 * usually already in the repository's pack) or more than MAX_LOOSE_TREES are
 * open, `git ls-tree -r -z` lists it and only its `160000` records are read.
 *
 * @throws CkptError `GIT_FAILED` (an unknown tree).
 */
export async function gitlinkPaths(repo: Repo, tree: string): Promise<string[]> {
  const inProcess = looseGitlinks(repo, tree);
  if (inProcess) return inProcess;
  const { stdout } = await git(['ls-tree', '-r', '-z', '--full-tree', '--format=%(objectmode) %(path)', tree], { cwd: repo.worktree, env: shadowEnv(repo) });
  const out: string[] = [];
  const mark = Buffer.from('160000 ', 'latin1');
  for (let i = 0; i < stdout.length; ) {
    let nul = stdout.indexOf(0, i);
    if (nul < 0) nul = stdout.length;
    if (nul - i > mark.length && stdout.compare(mark, 0, mark.length, i, i + mark.length) === 0) out.push(stdout.toString('utf8', i + mark.length, nul));
    i = nul + 1;
  }
  return out;
}

/** {@link gitlinkPaths} from loose trees only, in process, or undefined when a tree is not loose or more than MAX_LOOSE_TREES would be opened (the caller then asks git). */
export function looseGitlinks(repo: Repo, tree: string): string[] | undefined {
  const oidLen = repo.zeroOid.length / 2;
  if (!/^[0-9a-f]+$/.test(tree) || tree.length !== oidLen * 2) return undefined;
  if (tree === EMPTY_TREE[repo.objectFormat]) return [];
  const out: string[] = [];
  let opened = 0;
  // Depth first, a directory's entries in their tree's order: git's order of full paths.
  const walk = (prefix: string, oid: string): boolean => {
    if (++opened > MAX_LOOSE_TREES) return false;
    const obj = readLooseObject(repo, oid);
    if (!obj || obj.type !== 'tree') return false;
    const c = obj.content;
    for (let i = 0; i < c.length; ) {
      const sp = c.indexOf(0x20, i);
      const nul = sp < 0 ? -1 : c.indexOf(0, sp + 1);
      if (sp < 0 || nul < 0 || nul + 1 + oidLen > c.length) return false;
      // Modes as git writes them: `40000` a tree, `160000` a gitlink (tree.c; no leading zero).
      if (sp - i === 5 && c.toString('latin1', i, sp) === '40000') {
        if (!walk(`${prefix}${c.toString('utf8', sp + 1, nul)}/`, c.toString('hex', nul + 1, nul + 1 + oidLen))) return false;
      } else if (sp - i === 6 && c.toString('latin1', i, sp) === '160000') out.push(prefix + c.toString('utf8', sp + 1, nul));
      i = nul + 1 + oidLen;
    }
    return true;
  };
  return walk('', tree) ? out : undefined;
}
