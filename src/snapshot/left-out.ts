/**
 * What a snapshot leaves out of the worktree on purpose, found before
 * `git add` reads anything: untracked files above the size cap, and files
 * ckpt cannot read. Tracked files (in the user's index) are captured
 * whatever their size: the user's repository already holds them.
 *
 * Only the paths git would (re)read are examined: `git ls-files -o -m
 * --exclude-standard` on the private index lists the new files no rule
 * ignores and the indexed ones whose stat data changed (cheap with git's
 * untracked cache and stat cache); each is then `lstat`ed and `access`ed.
 */
import { accessSync, constants, existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatSize, parseSize } from '../core/size.js';
import type { NotCaptured } from '../core/types.js';
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import type { GitEnv } from './private-index.js';

/** The size cap's default: 100 MiB. */
export const DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024;

/**
 * The size cap for untracked files, in bytes (null: none): `CKPT_MAX_FILE_SIZE`
 * if set, else `snapshot.maxFileSize` in `<worktree>/.ckpt/config.json`, else
 * {@link DEFAULT_MAX_FILE_SIZE}. Both take a size with a unit (`100MiB`,
 * `2GiB`) or `off`.
 *
 * @throws CkptError `CONFIG_INVALID` when either is not a size.
 */
export function maxFileSize(repo: Repo, env: NodeJS.ProcessEnv = process.env): number | null {
  const fromEnv = env.CKPT_MAX_FILE_SIZE;
  if (fromEnv !== undefined && fromEnv !== '') return parseSize(fromEnv, 'CKPT_MAX_FILE_SIZE');
  const file = path.join(repo.worktree, '.ckpt', 'config.json');
  if (!existsSync(file)) return DEFAULT_MAX_FILE_SIZE;
  let value: unknown;
  try {
    value = (JSON.parse(readFileSync(file, 'utf8')) as { snapshot?: { maxFileSize?: unknown } } | null)?.snapshot?.maxFileSize;
  } catch {
    // Not JSON: the race config reader reports it with its position; here it sets nothing.
    return DEFAULT_MAX_FILE_SIZE;
  }
  if (value === undefined) return DEFAULT_MAX_FILE_SIZE;
  return parseSize(typeof value === 'string' ? value : JSON.stringify(value), `${file}: snapshot.maxFileSize`);
}

/** What {@link findLeftOut} returns. */
export interface LeftOut {
  /** The paths to keep out of the private index (worktree-relative bytes). */
  paths: Buffer[];
  /** The same, described. */
  entries: NotCaptured[];
}

/**
 * The paths the next `git add -A` must not read: untracked files larger than
 * `cap` bytes and files ckpt cannot read (permission denied, or inside a
 * directory it cannot enter).
 *
 * @param env the private index's environment.
 * @throws CkptError `GIT_FAILED`.
 */
export async function findLeftOut(repo: Repo, env: GitEnv, cap: number | null): Promise<LeftOut> {
  const res = await git(['ls-files', '-z', '-o', '-m', '--exclude-standard'], { cwd: repo.worktree, env, okCodes: [0, 1] });
  const seen = new Set<string>();
  const large: { rel: Buffer; size: number }[] = [];
  const unreadable: Buffer[] = [];
  const root = Buffer.from(repo.worktree + '/');
  for (const rel of splitNul(res.stdout)) {
    const key = rel.toString('latin1');
    if (seen.has(key)) continue; // -m and -o can both name a path
    seen.add(key);
    const abs = Buffer.concat([root, rel]);
    let st;
    try {
      st = lstatSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') unreadable.push(rel);
      continue; // gone: git records the deletion
    }
    if (!st.isFile()) continue;
    if (cap !== null && st.size > cap) {
      large.push({ rel, size: st.size });
      continue;
    }
    try {
      accessSync(abs, constants.R_OK);
    } catch {
      unreadable.push(rel);
    }
  }
  let tooLarge = large;
  if (large.length > 0 && existsSync(repo.userIndex)) {
    // Tracked by the user: captured whatever its size.
    const tracked = new Set(splitNul((await git(['ls-files', '-z', '--cached'], { cwd: repo.worktree, env: realEnv(repo) })).stdout).map((b) => b.toString('latin1')));
    tooLarge = large.filter((l) => !tracked.has(l.rel.toString('latin1')));
  }
  const all = [...tooLarge.map((l) => ({ rel: l.rel, reason: 'too-large' as const, size: l.size as number | null })), ...unreadable.map((rel) => ({ rel, reason: 'unreadable' as const, size: null }))];
  all.sort((a, b) => Buffer.compare(a.rel, b.rel));
  return { paths: all.map((e) => e.rel), entries: all.map((e) => ({ path: e.rel.toString('utf8'), reason: e.reason, size: e.size })) };
}

/** One line per path left out, for warnings: `big.bin: 2.0 GiB, over the 100 MiB cap for untracked files: not captured`. */
export function leftOutWarnings(entries: readonly NotCaptured[], cap: number | null): string[] {
  return entries.map((e) => {
    if (e.reason === 'too-large') return `${e.path}: ${formatSize(e.size ?? 0)}, over the ${cap === null ? '' : formatSize(cap) + ' '}cap for untracked files: not captured (left as it is; CKPT_MAX_FILE_SIZE or snapshot.maxFileSize raise it)`;
    if (e.reason === 'unreadable') return `${e.path}: cannot be read (permission denied): not captured (left as it is)`;
    return `${e.path}: a FIFO, socket or device, which git cannot store: not captured (left as it is)`;
  });
}
