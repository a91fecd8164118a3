/**
 * The clobber check of a restore, before anything changes: everything in the
 * way that the pre-rollback snapshot does not hold (an ignored file, a file
 * inside a directory that must become a file, a symlinked parent, a FIFO)
 * stops the restore with `ROLLBACK_WOULD_CLOBBER`.
 */
import { accessSync, constants, lstatSync, readdirSync } from 'node:fs';
import { CkptError } from '../../core/errors.js';
import type { Repo } from '../../git/repo.js';
import { abs, ancestors, fsError, kindInWorktree, kindOf } from './fs.js';
import type { TreeChange } from '../../git/tree-diff.js';
import type { Plan } from './plan.js';

/**
 * Refuses, before anything changes, every write or delete that would destroy
 * something the pre-rollback snapshot does not hold. Fills `plan.clearDirs`.
 *
 * @throws CkptError `ROLLBACK_WOULD_CLOBBER` (data: paths; nothing changed), `FS_FAILED`.
 */
export function checkAgainstWorktree(repo: Repo, plan: Plan): void {
  const deleting = new Set(plan.deletes.map((e) => e.path));
  const inCurrent = new Set([...plan.deletes, ...plan.writes, ...plan.modes].filter((e) => e.srcMode !== '000000').map((e) => e.path));
  const problems: string[] = [];
  const checkedDirs = new Set<string>();
  for (const e of plan.writes) {
    // Every parent must be a real directory, missing, or a file this rollback deletes.
    for (const a of ancestors(e.rel).reverse()) {
      const key = a.toString('latin1');
      const parent = a.toString('utf8');
      if (checkedDirs.has(key)) continue;
      const k = kindOf(abs(repo, a));
      if (k === 'dir' || k === 'missing') {
        checkedDirs.add(key);
        if (k === 'missing') break;
        continue;
      }
      if (deleting.has(parent)) break; // a file (or link) that becomes a directory
      if (k === 'link') problems.push(`${parent} is a symlink now: restoring ${e.path} would write through it (never done). Restore ${parent} itself too (\`ckpt rollback STEP -- ${parent}\`), or move the link aside`);
      else problems.push(`${parent} is in the way of ${e.path} and is not in any snapshot (${k === 'file' ? 'an ignored file' : 'a FIFO, socket or device'})`);
      break;
    }
    const here = kindInWorktree(repo, e.rel);
    if (here === 'dir') {
      // A directory becoming a file: everything in it must be something this rollback deletes.
      const leftovers = leftoversIn(abs(repo, e.rel), e.path, deleting);
      if (leftovers.length > 0) problems.push(...leftovers.map((l) => `${l} would be deleted to make room for the file ${e.path}, and is not in any snapshot (ignored?)`));
      else plan.clearDirs.push(e.rel);
    } else if (here === 'other') {
      problems.push(`${e.path} is a FIFO, socket or device`);
    } else if (here !== 'missing' && !inCurrent.has(e.path)) {
      // Something the current snapshot does not hold (ignored, or new since): keep it unless identical.
      problems.push(`${e.path} exists but is not in the current snapshot (ignored?), and would be overwritten`);
    }
  }
  for (const e of plan.deletes) {
    const k = kindInWorktree(repo, e.rel);
    if (k === 'dir') problems.push(`${e.path} became a directory since the snapshot`);
  }
  if (problems.length > 0) {
    throw new CkptError('ROLLBACK_WOULD_CLOBBER', `rollback refused, it would destroy what it cannot restore:\n  ${problems.join('\n  ')}`, {
      hint: 'Nothing was changed. Move those files aside (or roll back only some paths: `ckpt rollback STEP -- PATH…`) and try again.',
      data: { paths: problems },
    });
  }
}

function leftoversIn(dir: Buffer, rel: string, deleting: Set<string>): string[] {
  const out: string[] = [];
  let names: Buffer[];
  try {
    names = readdirSync(dir, { encoding: 'buffer' });
  } catch (err) {
    throw fsError(err, dir);
  }
  for (const name of names) {
    const childRel = `${rel}/${name.toString('utf8')}`;
    const child = Buffer.concat([dir, Buffer.from('/'), name]);
    const k = kindOf(child);
    if (k === 'dir') out.push(...leftoversIn(child, childRel, deleting));
    else if (!deleting.has(childRel)) out.push(childRel);
  }
  return out;
}

/**
 * Takes out of `plan` every path whose current bytes ckpt cannot read (a file
 * without read permission, or anything inside a directory it cannot enter):
 * its snapshot entry is only the last one known (snapshot/capture.ts keeps
 * it), so deleting or replacing it could destroy bytes no snapshot holds.
 * Asked of the file system itself, not of the snapshot's `Not-Captured`
 * list. Returns one line per path left alone (`path: why`).
 *
 * @throws CkptError `FS_FAILED` for a failure other than permission denied.
 */
export function setAsideUnreadable(repo: Repo, plan: Plan): string[] {
  const out: string[] = [];
  const unread = new Set<string>();
  const keep = (e: TreeChange): boolean => {
    if (!unreadable(repo, e.rel)) return true;
    unread.add(e.path);
    out.push(`${e.path}: cannot be read (permission denied), so its current bytes are in no snapshot; not ${e.dstMode === '000000' ? 'deleted' : 'replaced'}`);
    return false;
  };
  plan.deletes = plan.deletes.filter(keep);
  plan.writes = plan.writes.filter(keep);
  plan.modes = plan.modes.filter(keep);
  plan.changes = plan.changes.filter((c) => !unread.has(c.path));
  return out;
}

/** True when what is at `rel` exists but cannot be read: no read permission on a file, or a parent that cannot be searched. */
function unreadable(repo: Repo, rel: Buffer): boolean {
  const p = abs(repo, rel);
  try {
    const st = lstatSync(p);
    if (!st.isFile()) return false; // a symlink is read without its target's permission; a directory is checked through its files
    accessSync(p, constants.R_OK);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return true;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw fsError(err, p);
  }
}
