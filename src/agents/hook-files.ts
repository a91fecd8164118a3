/**
 * The files `ckpt hooks install AGENT` writes into a worktree, and how they
 * are kept out of snapshots: a file ckpt adds for an agent (its settings, a
 * plugin) is the user's own, untracked, and must never be captured nor
 * rolled back. Unless git already ignores it, a rule naming exactly that path
 * goes into the repository's `info/exclude` (git's per-repository ignore
 * file, gitignore(5)) behind a marker line saying it is ckpt's, so uninstall
 * removes exactly those two lines and leaves the rest of the file byte for
 * byte.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CkptError, fsFailure } from '../core/errors.js';
import { git } from '../git/exec.js';
import type { Repo } from '../git/repo-type.js';
import { realEnv } from '../git/shadow.js';

/** The marker line above an `info/exclude` rule ckpt added for `agent`'s file. */
export function excludeMark(agent: string): string {
  return `# added by \`ckpt hooks install ${agent}\` (removed by uninstall): the agent's hook file, kept out of snapshots`;
}

/** `<common git dir>/info/exclude`. */
export function excludePath(repo: Repo): string {
  return path.join(repo.commonDir, 'info', 'exclude');
}

/**
 * Keeps `rel` (a path relative to the worktree, `/`-separated) out of
 * snapshots: adds `mark` and the rule `/rel` to `info/exclude`, unless they
 * are there already or git ignores the path anyway. Call it before writing the
 * file, so that no snapshot taken meanwhile holds it.
 *
 * @returns true when the rule was added.
 * @throws CkptError `FS_FAILED`, `GIT_FAILED`.
 */
export async function excludeFromSnapshots(repo: Repo, rel: string, mark: string): Promise<boolean> {
  const file = excludePath(repo);
  const text = readText(file);
  const block = `${mark}\n/${rel}\n`;
  if (text.includes(block)) return false;
  const ignored = await git(['check-ignore', '-q', '--no-index', '--', rel], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  if (ignored.exitCode === 0) return false;
  writeTextSync(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${block}`);
  return true;
}

/**
 * Removes the two lines {@link excludeFromSnapshots} added for `rel`, if they
 * are there; the rest of `info/exclude` is kept byte for byte.
 *
 * @returns true when they were there.
 * @throws CkptError `FS_FAILED`.
 */
export function removeExclusion(repo: Repo, rel: string, mark: string): boolean {
  const file = excludePath(repo);
  const text = readText(file);
  const block = `${mark}\n/${rel}\n`;
  const at = text.indexOf(block);
  if (at < 0) return false;
  writeTextSync(file, text.slice(0, at) + text.slice(at + block.length));
  return true;
}

/**
 * Whether `rel` is in the user's index (tracked): a tracked file is shared
 * with everyone who clones the repository, so ckpt never writes its hooks
 * into one.
 *
 * @throws CkptError `GIT_FAILED`.
 */
export async function isTracked(repo: Repo, rel: string): Promise<boolean> {
  const res = await git(['ls-files', '--error-unmatch', '--', rel], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  return res.exitCode === 0;
}

/**
 * Refuses to write `rel` when git tracks it.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` naming the file and the way out (`--global`).
 */
export async function refuseTracked(repo: Repo, rel: string, agent: string): Promise<void> {
  if (!(await isTracked(repo, rel))) return;
  const file = path.join(repo.worktree, rel);
  throw new CkptError('AGENT_SETTINGS_INVALID', `${file} is tracked by git: ckpt writes its hooks only into a file of your own, never into one shared with everyone who clones the repository`, {
    hint: `Install them for your user only: \`ckpt hooks install ${agent} --global\`. Nothing was changed.`,
    data: { file, error: 'tracked' },
  });
}

/** The text of `file`, `''` when it does not exist. @throws CkptError `FS_FAILED`. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw fsFailure(err, 'read', file);
  }
}

/** Writes `text` to `file` through a temp file and a rename (readers see the old or the new file, never half of one); creates the directory. @throws CkptError `FS_FAILED`. */
export function writeTextSync(file: string, text: string): void {
  const tmp = `${file}.ckpt-${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    throw fsFailure(err, 'write', file);
  }
}

/**
 * The directories between `root` and `file` (exclusive of `root`) that do not
 * exist yet, outermost first: what writing `file` will create, so that
 * uninstall can remove them again (and only them).
 */
export function missingDirs(root: string, file: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(file); dir !== root && dir.startsWith(root + path.sep); dir = path.dirname(dir)) {
    if (existsSync(dir)) break;
    out.unshift(dir);
  }
  return out;
}

/** Removes each of `dirs` that is empty, innermost first; a directory something else has written into is kept. */
export function removeEmptyDirs(dirs: readonly string[]): void {
  for (const dir of [...dirs].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (someone else's files), or gone: kept as it is
    }
  }
}
