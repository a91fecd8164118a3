/**
 * Small per-worktree cache (`<stateDir>/state.json`): facts that let a
 * re-snapshot skip work, such as the index commit made for the user's index
 * as it last was. Losing or corrupting it costs time, never correctness.
 */
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fsFailure } from '../core/errors.js';
import type { Repo } from '../git/repo.js';

/** What state.json holds. */
export interface WorktreeState {
  /** Signature (mtime, ctime, size, inode) of the user's index when last read. */
  userIndexSig?: string;
  /** HEAD commit when last read (null: no commits). */
  head?: string | null;
  /** Tree of the user's index then (null: unmerged). */
  indexTree?: string | null;
  /** The index commit made for (head, indexTree). */
  indexCommit?: string;
  /** Signatures of the exclude and config files (see take.ts excludeSources) when the ignore rules were last applied to the private index. */
  excludeSig?: string | null;
  /** `core.excludesFile`, resolved, as last read (null: not set). */
  excludesFile?: string | null;
  /** User index signature when the ignore rules were last applied to the private index. */
  ignoreSyncedIndexSig?: string;
  /** Absolute path of the worktree (for `ckpt status`). */
  worktree?: string;
}

/** Reads the state of `repo`'s worktree; `{}` when missing or unreadable. */
export function readState(repo: Repo): WorktreeState {
  try {
    return JSON.parse(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8')) as WorktreeState;
  } catch {
    return {};
  }
}

/**
 * Replaces the state atomically (temp file + rename, by write-file-atomic,
 * loaded only here: most hook calls change nothing and need not load it).
 *
 * @throws CkptError `FS_FAILED` (a full disk, permissions).
 */
export async function writeState(repo: Repo, state: WorktreeState): Promise<void> {
  const file = path.join(repo.stateDir, 'state.json');
  const { default: writeFileAtomic } = await import('write-file-atomic');
  try {
    mkdirSync(repo.stateDir, { recursive: true });
    writeFileAtomic.sync(file, JSON.stringify(state, null, 2) + '\n', { fsync: false });
  } catch (err) {
    throw fsFailure(err, 'write ckpt\'s state file', file);
  }
}
