/**
 * A synchronous matcher for git's ignore rules, so the watcher does not even
 * descend into ignored directories (`node_modules`, build output). The rules
 * come from every `.gitignore` in the worktree, `.git/info/exclude` and
 * `core.excludesFile`; matching is the `ignore` package's (gitignore(5)
 * semantics). The watcher only uses this to decide *when* to snapshot; what a
 * snapshot holds is always decided by git itself.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';

/** Tells whether a worktree-relative path is ignored. */
export interface IgnoreMatcher {
  /** @param rel POSIX path relative to the worktree root; `isDir` for directories. */
  ignores(rel: string, isDir: boolean): boolean;
}

/** Loads the ignore rules of `repo`'s worktree as they are now. */
export async function loadIgnoreRules(repo: Repo): Promise<IgnoreMatcher> {
  const layers: { dir: string; ig: Ignore }[] = [];
  const global = ignore();
  for (const file of [await excludesFile(repo), path.join(repo.commonDir, 'info', 'exclude')]) {
    if (file) global.add(readOr(file));
  }
  layers.push({ dir: '', ig: global });
  const { stdout } = await git(['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ':(glob)**/.gitignore'], {
    cwd: repo.worktree,
    env: shadowEnv(repo, path.join(repo.stateDir, 'index')),
  });
  const files = [...new Set(splitNul(stdout).map((b) => b.toString('utf8')))].sort((a, b) => a.split('/').length - b.split('/').length);
  for (const f of files) {
    const dir = path.posix.dirname(f);
    layers.push({ dir: dir === '.' ? '' : dir, ig: ignore().add(readOr(path.join(repo.worktree, f))) });
  }
  return {
    ignores(rel: string, isDir: boolean): boolean {
      if (rel === '' || rel === '.') return false;
      let ignored = false;
      for (const { dir, ig } of layers) {
        if (dir && rel !== dir && !rel.startsWith(dir + '/')) continue;
        const sub = dir ? rel.slice(dir.length + 1) : rel;
        if (!sub) continue;
        const r = ig.test(isDir ? `${sub}/` : sub);
        if (r.ignored) ignored = true;
        else if (r.unignored) ignored = false;
      }
      return ignored;
    },
  };
}

async function excludesFile(repo: Repo): Promise<string | null> {
  const res = await git(['config', '--path', '--get', 'core.excludesFile'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  const configured = res.stdout.toString('utf8').trim();
  if (configured) return configured;
  const xdg = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(xdg, 'git', 'ignore');
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
