/**
 * The worktree's live state as a tree, read with no stat cache: the check made
 * right before an attempt's worktree is removed. A snapshot reads the worktree
 * through git's stat cache (fast, and a hint only: an edit that kept size and
 * mtime is invisible to it); this reads every file's bytes again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, gitText } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';

/**
 * The tree the worktree holds now, hashed afresh: a throwaway index is loaded
 * from `recordedTree` with no stat data (so git re-reads every file and keeps
 * what the snapshot tracks despite an ignore rule), then `git add -A` and
 * `git write-tree` under the shadow git dir's rules (raw bytes, the same
 * ignore rules as snapshots). Equal to `recordedTree` exactly when every byte
 * a snapshot would hold is in it. Writes only blobs (unreferenced when they
 * differ, left to gc). Caller holds the worktree lock.
 *
 * @throws CkptError `GIT_FAILED` (git could not read the worktree).
 */
export async function freshLiveTree(repo: Repo, recordedTree: string): Promise<string> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-live-'));
  try {
    const env = shadowEnv(repo, path.join(tmp, 'index'));
    await git(['read-tree', recordedTree], { cwd: repo.worktree, env });
    await git(['add', '-A'], { cwd: repo.worktree, env });
    return await gitText(['write-tree'], { cwd: repo.worktree, env });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
