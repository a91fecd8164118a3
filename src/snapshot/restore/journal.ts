/**
 * The restore journal: present (in the worktree's state dir) only while a
 * restore changes files, so a restore killed half-way is known and finished
 * (or undone) by the next `ckpt rollback`; and the temporary files a restore
 * writes, which the journal lets recovery remove from the user's tree.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, unlink, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Repo } from '../../git/repo.js';

/** What the journal records about the restore under way. */
export interface Journal {
  version: 2;
  /** What the restore was doing, for messages (`rollback to step 3`). */
  label: string;
  /** The tree being restored. */
  tree: string;
  /** The snapshot named as the restore's target in trailers (`Rollback-Target`), or null. */
  target: string | null;
  /** The pre-rollback snapshot this restore recorded (the latest, when it recorded further ones). */
  preRollback: string;
  /** The state before the first interrupted restore of a series: what `--undo` returns to. */
  undoTo: { tree: string; snapshot: string };
  paths: string[] | null;
  /** Raw paths (base64) that get a temporary file beside them, for the cleanup. */
  writes: string[];
  /** Set when the restore failed (not killed) and could not put everything back: the next run puts back instead of finishing. */
  failed?: boolean;
  /** ms since the epoch. */
  startedAt: number;
  /** False while the restore has recorded nothing (no pre-rollback snapshot yet, so no byte changed): `preRollback` and `undoTo` are empty then. */
  recorded?: false;
}

/** The journal left by the first version of rollback. */
export interface JournalV1 {
  version: 1;
  target: string;
  preRollback: string;
  paths: string[] | null;
}

export function journalPath(repo: Repo): string {
  return path.join(repo.stateDir, 'journal.json');
}

/** The directory (in the state dir, outside the worktree) where a restore stages file contents. */
export function stagingDir(repo: Repo): string {
  return path.join(repo.stateDir, 'restore-tmp');
}

/** Writes the journal (whole file, then rename: never half a journal). */
export function writeJournal(repo: Repo, j: Journal): void {
  const p = journalPath(repo);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(j));
  renameSync(tmp, p);
}

/** Reads the journal: null when none; a v1 journal as it was written; a torn or foreign one is dropped. */
export function readJournal(repo: Repo): Journal | JournalV1 | null {
  const p = journalPath(repo);
  if (!existsSync(p)) return null;
  try {
    const j = JSON.parse(readFileSync(p, 'utf8')) as Journal | JournalV1;
    if (j && (j.version === 1 || j.version === 2)) return j;
  } catch {
    // unreadable: written by nothing we know
  }
  rmSync(p, { force: true });
  return null;
}

/** An interrupted restore as `ckpt status` shows it (see {@link peekJournal}). */
export interface InterruptedRestore {
  /** What it was doing (`rollback to step 3`). */
  label: string;
  /** What the next real rollback does first: `finish` it, or `undo` it (after a failure; `--undo` always undoes). */
  next: 'finish' | 'undo';
  /** ms since the epoch; null when the journal does not say (first version). */
  startedAt: number | null;
  /** Set when it was stopped before it recorded (and so changed) anything. */
  changedNothing?: true;
}

/** The interrupted restore whose journal is there, read only (nothing is removed, even an unreadable journal); null when none. */
export function peekJournal(repo: Repo): InterruptedRestore | null {
  let j: Journal | JournalV1;
  try {
    j = JSON.parse(readFileSync(journalPath(repo), 'utf8')) as Journal | JournalV1;
  } catch {
    return null;
  }
  if (!j || (j.version !== 1 && j.version !== 2)) return null;
  if (j.version === 1) return { label: 'rollback', next: 'finish', startedAt: null };
  return { label: j.label, next: j.failed ? 'undo' : 'finish', startedAt: j.startedAt || null, ...(j.recorded === false ? { changedNothing: true } : {}) };
}

/**
 * Removes the journal (none there: nothing to do). It is renamed out of the
 * way first, which is its removal (atomic: from here no reader finds a
 * journal), then its file is unlinked on libuv's thread pool, not waited for:
 * unlinked in place it cost 3-4 ms here, since a journal renamed over the
 * previous one (every restore's second journal replaces its first) has its
 * bytes written back at once by ext4 (`auto_da_alloc`), and an unlink of a
 * file under writeback waits for that write, where a rename does not. A
 * process killed before the unlink leaves `journal.done`, which nothing
 * reads and the next removal replaces.
 *
 * @throws the file system's error (EACCES, EROFS) when the journal can be neither renamed nor removed.
 */
export function removeJournal(repo: Repo): void {
  const done = path.join(repo.stateDir, 'journal.done');
  try {
    renameSync(journalPath(repo), done);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') rmSync(journalPath(repo), { force: true });
    return;
  }
  unlink(done, () => undefined); // gone already (a later removal's unlink took it): nothing to do
}

/** `<name>.ckpt-<pid>-<6 random>.tmp`: a temporary file a restore wrote beside its destination. */
export function inTreeTempName(dest: Buffer): Buffer {
  return Buffer.concat([dest, Buffer.from(`.ckpt-${process.pid}-${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}.tmp`)]);
}

/**
 * Removes what a killed restore may have left: its staging directory, and
 * any `NAME.ckpt-PID-XXXXXX.tmp` beside the destinations it listed. Only
 * names of exactly that form, beside those destinations, are removed.
 */
export function removeLeftovers(repo: Repo, writes: readonly string[]): void {
  rmSync(stagingDir(repo), { recursive: true, force: true });
  const byDir = new Map<string, Set<string>>();
  for (const b64 of writes) {
    const rel = Buffer.from(b64, 'base64');
    const slash = rel.lastIndexOf(0x2f);
    const dir = Buffer.concat([Buffer.from(repo.worktree + '/'), slash >= 0 ? rel.subarray(0, slash) : Buffer.alloc(0)]).toString('latin1');
    const base = (slash >= 0 ? rel.subarray(slash + 1) : rel).toString('latin1');
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(base);
  }
  for (const [dir, bases] of byDir) {
    let names: Buffer[];
    try {
      names = readdirSync(Buffer.from(dir, 'latin1'), { encoding: 'buffer' });
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^([\s\S]*)\.ckpt-\d+-[0-9a-z]{6}\.tmp$/.exec(n.toString('latin1'));
      if (!m || !bases.has(m[1]!)) continue;
      try {
        unlinkSync(Buffer.concat([Buffer.from(dir, 'latin1'), Buffer.from('/'), n]));
      } catch {
        // gone already
      }
    }
  }
}
