/**
 * Planning a restore: from the tree changes (current → target) to the
 * deletions, writes and mode changes to make, with the files the target's
 * ignore rules keep, and refusing hostile entry names before anything else.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError } from '../../core/errors.js';
import { git, joinNul, splitNul } from '../../git/exec.js';
import { readObjects } from '../../git/objects.js';
import type { Repo } from '../../git/repo.js';
import { shadowEnv } from '../../git/shadow.js';
import type { TreeChange } from '../../git/tree-diff.js';
import { verifyPath } from '../../git/verify-path.js';
import { basenameOf } from './fs.js';

/** One change a rollback makes (or would make) to the worktree. */
export interface FileChange {
  /** Repository-relative path (UTF-8 text; bytes that are not UTF-8 shown as U+FFFD). */
  path: string;
  /** `write`: content (and mode) restored; `delete`: removed; `mode`: only the executable bit; `link`: symlink restored. */
  action: 'write' | 'delete' | 'mode' | 'link';
  /** git file mode before (`100644`, `100755`, `120000`) or null when absent. */
  from: string | null;
  /** git file mode after, or null when deleted. */
  to: string | null;
}

/** What a restore will do. */
export interface Plan {
  deletes: TreeChange[];
  writes: TreeChange[];
  modes: TreeChange[];
  kept: TreeChange[];
  /** Directories (raw rel paths) that must be emptied and removed so a file can take their place. */
  clearDirs: Buffer[];
  skipped: string[];
  changes: FileChange[];
}

/**
 * Sorts `entries` (from the current tree to `toTree`) into a plan.
 *
 * @throws CkptError `HOSTILE_TREE` (a name git's verify_path refuses), before anything is read from the worktree.
 */
export async function planChanges(repo: Repo, entries: TreeChange[], toTree: string): Promise<Plan> {
  const plan: Plan = { deletes: [], writes: [], modes: [], kept: [], clearDirs: [], skipped: [], changes: [] };
  for (const e of entries) checkHostile(e);
  for (const e of entries) {
    const src = e.srcMode === '000000' ? null : e.srcMode;
    const dst = e.dstMode === '000000' ? null : e.dstMode;
    if (src === '160000' || dst === '160000') {
      plan.skipped.push(`${e.path}: nested repository (gitlink) left as it is`);
      continue;
    }
    if (dst === null) plan.deletes.push(e);
    else plan.writes.push(e);
  }
  // Mode-only changes: same blob, different executable bit.
  const modeOnly = sameBlobs(plan.writes);
  plan.modes = plan.writes.filter((e) => modeOnly.has(e.path));
  plan.writes = plan.writes.filter((e) => !modeOnly.has(e.path));

  // Deletions the target's ignore rules ignore: the file predates the step, keep it.
  if (plan.deletes.length > 0 && entries.some((e) => basenameOf(e.path) === '.gitignore')) {
    const ignored = await ignoredUnderTarget(repo, toTree, plan.deletes);
    plan.kept = plan.deletes.filter((e) => ignored.has(e.path));
    plan.deletes = plan.deletes.filter((e) => !ignored.has(e.path));
  }
  for (const e of plan.deletes) plan.changes.push({ path: e.path, action: 'delete', from: e.srcMode, to: null });
  for (const e of plan.writes) plan.changes.push({ path: e.path, action: e.dstMode === '120000' ? 'link' : 'write', from: e.srcMode === '000000' ? null : e.srcMode, to: e.dstMode });
  for (const e of plan.modes) plan.changes.push({ path: e.path, action: 'mode', from: e.srcMode, to: e.dstMode });
  plan.changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return plan;
}

/** Refuses every entry git itself would refuse to check out (git's verify_path, see git/verify-path.ts). */
function checkHostile(e: TreeChange): void {
  if (verifyPath(e.rel, e.dstMode) && verifyPath(e.rel, e.srcMode)) return;
  throw new CkptError('HOSTILE_TREE', `the snapshot holds a path that must never be written: ${JSON.stringify(e.path)}`, {
    hint: 'Nothing was changed. git refuses this name too (verify_path); the snapshot was not made by ckpt, or was tampered with.',
    data: { path: e.path },
  });
}

/** Writes that only flip the executable bit (same blob on both sides). */
function sameBlobs(writes: TreeChange[]): Set<string> {
  const regular = (m: string): boolean => m === '100644' || m === '100755';
  return new Set(writes.filter((e) => regular(e.srcMode) && regular(e.dstMode) && e.srcMode !== e.dstMode && e.srcOid === e.dstOid).map((e) => e.path));
}

/**
 * Which of `deletes` the target tree's `.gitignore` files (plus
 * `.git/info/exclude` and `core.excludesFile`) ignore. The target's ignore
 * files are laid out in a temporary directory and asked with
 * `git check-ignore --no-index` (git-check-ignore(1)).
 */
async function ignoredUnderTarget(repo: Repo, toTree: string, deletes: TreeChange[]): Promise<Set<string>> {
  const { stdout } = await git(['ls-tree', '-r', '-z', '--full-tree', toTree], { cwd: repo.worktree, env: shadowEnv(repo) });
  const ignoreFiles: { rel: string; oid: string }[] = [];
  for (const rec of splitNul(stdout)) {
    const s = rec.toString('utf8');
    const tab = s.indexOf('\t');
    const rel = s.slice(tab + 1);
    if (basenameOf(rel) === '.gitignore' && s.startsWith('100')) ignoreFiles.push({ rel, oid: s.slice(0, tab).split(' ')[2]! });
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-ignore-'));
  try {
    const blobs = await readObjects(ignoreFiles.map((f) => f.oid), { cwd: repo.worktree, env: shadowEnv(repo) });
    for (const f of ignoreFiles) {
      const dest = path.join(tmp, f.rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, blobs.get(f.oid)?.content ?? Buffer.alloc(0));
    }
    const input = joinNul(deletes.map((e) => e.rel));
    const res = await git(['check-ignore', '-z', '--stdin', '--no-index'], {
      cwd: tmp,
      env: { ...shadowEnv(repo), GIT_WORK_TREE: tmp },
      input,
      okCodes: [0, 1],
    });
    return new Set(splitNul(res.stdout).map((b) => b.toString('utf8')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
