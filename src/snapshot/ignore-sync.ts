/**
 * Keeping the private index in line with the ignore rules: `git add -A`
 * keeps updating a path once indexed, so when the rules or the user's index
 * change, what became ignored is dropped and what the user tracks despite a
 * rule is added.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { git, gitWithPaths, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { userIndexSig } from './index-commit.js';
import { storableAt, unindex, type GitEnv } from './private-index.js';
import { syncSkipWorktree } from './sparse.js';
import { readState, writeState } from './state.js';

/**
 * Keeps the private index in line with what git itself would call the
 * worktree's content: files the user tracks (even if an ignore rule matches
 * them) plus untracked files no rule ignores. Entries now ignored (and not
 * tracked by the user) are dropped, and files the user tracks despite an
 * ignore rule are added by force. Does nothing when neither a `.gitignore`
 * (`gitignoreChanged`), an exclude or config file, nor the user's index
 * changed since the last sync (signatures in state.json).
 *
 * @param env the private index's environment.
 * @throws CkptError `GIT_FAILED`.
 */
export async function syncIgnoreRules(repo: Repo, env: GitEnv, gitignoreChanged: boolean): Promise<void> {
  const state = readState(repo);
  const sig = userIndexSig(repo);
  let excludesFile = state.excludesFile ?? null;
  let excludeSig = excludeSources(repo, excludesFile).map(fileSig).join('|');
  if (!gitignoreChanged && (state.ignoreSyncedIndexSig ?? null) === sig && state.excludeSig === excludeSig) return;
  if (state.excludeSig !== excludeSig) {
    // A config file or an excludes file changed: find core.excludesFile again (git-config(1) --path).
    const res = await git(['config', '--path', '--get', 'core.excludesFile'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
    excludesFile = res.exitCode === 0 ? path.resolve(repo.worktree, res.stdout.toString('utf8').trim()) : null;
    excludeSig = excludeSources(repo, excludesFile).map(fileSig).join('|');
  }
  const userTracked = sig === null ? [] : splitNul((await git(['ls-files', '-z', '--cached', '--ignored', '--exclude-standard'], { cwd: repo.worktree, env: realEnv(repo) })).stdout);
  const userSet = new Set(userTracked.map((b) => b.toString('latin1')));
  const ours = splitNul((await git(['ls-files', '-z', '--cached', '--ignored', '--exclude-standard'], { cwd: repo.worktree, env })).stdout);
  await unindex(repo, env, ours.filter((b) => !userSet.has(b.toString('latin1'))));
  const oursSet = new Set(ours.map((b) => b.toString('latin1')));
  const add = userTracked.filter((p) => !oursSet.has(p.toString('latin1')) && storableAt(repo, p) === true);
  if (add.length > 0) await gitWithPaths(['add', '-f'], add, { cwd: repo.worktree, env });
  if ((state.ignoreSyncedIndexSig ?? null) !== sig) await syncSkipWorktree(repo, env, sig !== null);
  // Record the signatures seen, keeping the index-commit cache (indexCommit() owns it).
  await writeState(repo, { ...readState(repo), excludeSig, excludesFile, ignoreSyncedIndexSig: sig ?? undefined });
}

/**
 * The files besides `.gitignore`s whose change can change what git ignores
 * (gitignore(5)): `info/exclude`, the config files that can set
 * `core.excludesFile` (git-config(1) "FILES"), its default location, and the
 * excludes file in use.
 */
function excludeSources(repo: Repo, excludesFile: string | null): string[] {
  const home = homedir();
  const xdg = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  const list = [
    path.join(repo.commonDir, 'info', 'exclude'),
    path.join(repo.commonDir, 'config'),
    process.env.GIT_CONFIG_GLOBAL || path.join(home, '.gitconfig'),
    path.join(xdg, 'git', 'config'),
    path.join(xdg, 'git', 'ignore'),
  ];
  if (excludesFile) list.push(excludesFile);
  return list;
}

function fileSig(p: string): string | null {
  try {
    const s = statSync(p, { bigint: true });
    return `${s.mtimeNs}:${s.size}:${s.ino}`;
  } catch {
    return null;
  }
}
