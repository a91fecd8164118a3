/**
 * Turning paths typed by the user (relative to where they stand) into
 * repository-relative POSIX paths.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';

/**
 * @throws CkptError `INVALID_ARGUMENT` for a path outside the worktree.
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
    if (rel === '' ) return '.';
    if (rel.startsWith('../') || rel === '..' || path.isAbsolute(rel)) {
      throw new CkptError('INVALID_ARGUMENT', `${p} is outside the worktree ${repo.worktree}`, { hint: 'Give paths inside the worktree.' });
    }
    return rel;
  });
}
