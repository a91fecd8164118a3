/**
 * Finds the repository and worktree a directory belongs to, and where ckpt
 * keeps its state for that worktree.
 *
 * Layout under the common git dir (shared by every linked worktree, so refs and
 * state survive `git worktree`; the user's `git gc` never looks inside `ckpt/`):
 *
 * ```
 * <common-dir>/
 *   ckpt/shadow/                      ckpt's store: hermetic GIT_DIR for object and index work
 *   ckpt/shadow/objects/              ckpt's objects (info/alternates → <common-dir>/objects)
 *   ckpt/shadow/refs/ckpt/wt/<id>     the snapshot chain of one worktree (reflog in ckpt/shadow/logs/)
 *   ckpt/tips/<worktree-id>.log       append-only record of each chain's tips (snapshot/chains.ts)
 *   ckpt/wt/<worktree-id>/index       private index (git's stat cache, persistent)
 *   ckpt/wt/<worktree-id>/lock        per-worktree lock (core/owned-lock.ts: a file naming its holder)
 *   ckpt/wt/<worktree-id>/state.json  cached facts (user index signature, …)
 *   ckpt/wt/<worktree-id>/journal.json  present only while a rollback runs
 *   ckpt/races/…                      race records (JSON and logs)
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import { git } from './exec.js';
import { ensureStore } from './store.js';
import type { Repo } from './repo-type.js';
import { WORKTREE_REF_PREFIX } from './repo-type.js';

export type { Repo } from './repo-type.js';
export { REF_PREFIX, WORKTREE_REF_PREFIX } from './repo-type.js';

/**
 * Resolves the worktree containing `dir`.
 *
 * Uses `git rev-parse --absolute-git-dir --git-common-dir --show-toplevel`
 * (git-rev-parse(1)), so linked worktrees (`.git` as a file) and `GIT_DIR`
 * work.
 *
 * @throws CkptError `NOT_A_REPO` when `dir` is not inside a git worktree,
 *   `BARE_REPO` for a bare repository or a git dir, `GIT_FAILED`.
 */
export async function openRepo(dir: string): Promise<Repo> {
  const repo = await discover(dir);
  await ensureStore(repo);
  return repo;
}

async function discover(dir: string): Promise<Repo> {
  const cwd = path.resolve(dir);
  const fast = discoverFast(cwd);
  if (fast) return fast;
  const res = await git(
    ['rev-parse', '--is-bare-repository', '--is-inside-work-tree', '--show-object-format', '--absolute-git-dir', '--git-common-dir', '--show-toplevel'],
    { cwd, okCodes: [0, 128] },
  );
  if (res.exitCode !== 0) {
    if (/not a git repository/i.test(res.stderr)) {
      throw new CkptError('NOT_A_REPO', `not a git repository: ${cwd}`, { hint: 'Run ckpt inside a git worktree, or `git init` one first.', data: { dir: cwd } });
    }
    if (/must be run in a work tree/i.test(res.stderr)) {
      throw new CkptError('BARE_REPO', `no worktree here: ${cwd}`, { hint: 'ckpt snapshots a worktree; run it in a checkout, not in a bare repository or a .git directory.', data: { dir: cwd } });
    }
    throw new CkptError('GIT_FAILED', `git rev-parse failed in ${cwd}: ${res.stderr.trim()}`, { data: { stderr: res.stderr } });
  }
  const lines = res.stdout.toString('utf8').split('\n');
  const [bare, inside, format, gitDir, common, top] = lines;
  // Outside the worktree but with GIT_WORK_TREE naming one, git works on that
  // worktree (git(1) "--work-tree"); so does ckpt: `inside` is false then, and
  // the top level is the one named. (A core.worktree seen from outside it
  // stays refused, as before.)
  const named = process.env.GIT_WORK_TREE !== undefined && process.env.GIT_WORK_TREE !== '';
  if (bare === 'true' || !top || (inside !== 'true' && !named)) {
    throw new CkptError('BARE_REPO', `no worktree here: ${cwd}`, { hint: 'ckpt snapshots a worktree; run it in a checkout, not in a bare repository or a .git directory.', data: { dir: cwd } });
  }
  return makeRepo(realpathSync(top), realpathSync(gitDir!), realpathSync(path.resolve(cwd, common!)), format === 'sha256' ? 'sha256' : 'sha1', cwd);
}

function makeRepo(worktree: string, realGitDir: string, commonDir: string, objectFormat: 'sha1' | 'sha256', cwd: string): Repo {
  const id = worktreeId(worktree);
  return {
    worktree,
    gitDir: realGitDir,
    commonDir,
    objectFormat,
    id,
    ref: WORKTREE_REF_PREFIX + id,
    stateDir: path.join(commonDir, 'ckpt', 'wt', id),
    userIndex: process.env.GIT_INDEX_FILE ? path.resolve(cwd, process.env.GIT_INDEX_FILE) : path.join(realGitDir, 'index'),
    zeroOid: '0'.repeat(objectFormat === 'sha256' ? 64 : 40),
  };
}

/** Variables that change how git finds a repository: with any set, git itself decides. */
const DISCOVERY_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM', 'GIT_OBJECT_DIRECTORY'];

/**
 * Finds the worktree of `cwd` the way git's setup does for the common case
 * (a `.git` directory, or a `.git` file naming a linked worktree's git dir
 * and its `commondir`), without starting git (about 9 ms saved per command,
 * which matters to the hook). Returns null whenever git's answer could
 * differ, and {@link openRepo} then asks `git rev-parse`: discovery variables
 * set, `core.worktree`, `core.bare`, repository extensions, a per-worktree
 * config, a repository owned by another user (safe.directory), or `cwd`
 * inside a git dir.
 */
function discoverFast(cwd: string): Repo | null {
  try {
    if (DISCOVERY_ENV.some((k) => process.env[k] !== undefined)) return null;
    const real = realpathSync(cwd);
    const device = statSync(real).dev;
    for (let dir = real; ; ) {
      if (path.basename(dir) === '.git') return null; // inside a git dir
      // A bare repository (or any git dir) on the way up: git stops there.
      if (existsSync(path.join(dir, 'HEAD')) && existsSync(path.join(dir, 'objects')) && existsSync(path.join(dir, 'refs'))) return null;
      if (statSync(dir).dev !== device) return null; // git stops at a file system boundary
      const dotgit = path.join(dir, '.git');
      let st;
      try {
        st = statSync(dotgit);
      } catch {
        st = null;
      }
      if (st) {
        let gitDir: string;
        if (st.isDirectory()) gitDir = realpathSync(dotgit); // .git may be a symlink
        else {
          const m = /^gitdir: (.+)$/m.exec(readFileSync(dotgit, 'utf8'));
          if (!m) return null;
          gitDir = realpathSync(path.resolve(dir, m[1]!.trim()));
        }
        if (real === gitDir || real.startsWith(gitDir + path.sep)) return null;
        let commonDir = gitDir;
        if (existsSync(path.join(gitDir, 'commondir'))) commonDir = realpathSync(path.resolve(gitDir, readFileSync(path.join(gitDir, 'commondir'), 'utf8').trim()));
        if (!existsSync(path.join(gitDir, 'HEAD')) || !existsSync(path.join(commonDir, 'objects'))) return null;
        if (existsSync(path.join(gitDir, 'config.worktree'))) return null;
        const config = readFileSync(path.join(commonDir, 'config'), 'utf8');
        if (/^\s*\[\s*extensions\b/im.test(config) || /^\s*(worktree\s*=|bare\s*=\s*(true|yes|on|1)\s*$)/im.test(config)) return null;
        if (typeof process.getuid === 'function' && statSync(dir).uid !== process.getuid()) return null;
        return makeRepo(dir, gitDir, commonDir, 'sha1', cwd);
      }
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  } catch {
    return null;
  }
}

/**
 * The id of a worktree: its directory name, reduced to characters that are
 * safe in a ref name (git-check-ref-format(1)), plus 8 hex digits of the SHA-1
 * of its real path, e.g. `myapp-1f2e3d4c`.
 */
export function worktreeId(worktreePath: string): string {
  const base = path.basename(worktreePath).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'worktree';
  const hash = createHash('sha1').update(worktreePath).digest('hex').slice(0, 8);
  return `${base}-${hash}`;
}
