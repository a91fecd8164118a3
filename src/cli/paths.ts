/**
 * Turning paths typed by the user (relative to where they stand) into
 * repository-relative POSIX paths.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import { quote } from '../core/quote.js';
import type { Repo } from '../git/repo.js';

/**
 * The paths given after `--`, relative to `cwd`, as paths relative to the
 * worktree's top (`.` for the top itself).
 *
 * @throws CkptError `INVALID_ARGUMENT` for a path outside the worktree (the
 *   path quoted in the message, as every printed name is).
 */
export function toRepoPaths(repo: Repo, cwd: string, paths: string[]): string[] {
  let base = path.resolve(cwd);
  try {
    base = realpathSync(base);
  } catch {
    // keep as is
  }
  return paths.map((p) => {
    const rel = path.relative(repo.worktree, path.resolve(base, p)).split(path.sep).join('/');
    if (rel === '') return '.';
    if (rel.startsWith('../') || rel === '..' || path.isAbsolute(rel)) {
      throw new CkptError('INVALID_ARGUMENT', `${quote(p)} is outside the worktree ${quote(repo.worktree)}`, { hint: 'Give paths inside the worktree.', data: { path: p } });
    }
    return rel;
  });
}
