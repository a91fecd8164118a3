/**
 * Real repositories in temp directories, and a byte-exact picture of a
 * worktree (every file, ignored ones included) to compare before and after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll } from 'vitest';
import { stopDaemonsIn } from './daemons.js';
import { walkWorktree } from './files.js';

const made: string[] = [];
afterAll(async () => {
  if (process.env.CKPT_KEEP_TEST_REPOS) return;
  for (const d of made.splice(0)) {
    // A daemon of a repository in it (auto-started by a hook, a watch, a rollback, a race) stops first.
    await stopDaemonsIn(d);
    fs.rmSync(d, { recursive: true, force: true });
  }
});

/** A fresh temp dir (real path), removed after the test file. */
export function tempDir(prefix = 'ckpt-t-'): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(d);
  return d;
}

/** Runs git in `cwd`; returns stdout. Throws on failure. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs git, returning stdout as bytes. */
export function gitBuf(cwd: string, ...args: string[]): Buffer {
  return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs git on ckpt's own store (the shadow git dir under the common git dir,
 * where snapshot objects and the `refs/ckpt/` chains live); returns stdout.
 */
export function storeGit(cwd: string, ...args: string[]): string {
  return execFileSync('git', [`--git-dir=${storeDir(cwd)}`, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** {@link storeGit}, returning stdout as bytes. */
export function storeGitBuf(cwd: string, ...args: string[]): Buffer {
  return execFileSync('git', [`--git-dir=${storeDir(cwd)}`, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** ckpt's store of the repository `cwd` belongs to: `<common dir>/ckpt/shadow`. */
export function storeDir(cwd: string): string {
  const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd, encoding: 'utf8', env: { ...process.env, GIT_DIR: undefined } }).trim();
  return path.join(common, 'ckpt', 'shadow');
}

/** Writes files (creating parents). Content `null` deletes. */
export function write(root: string, files: Record<string, string | Buffer | null>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (content === null) {
      fs.rmSync(p, { force: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/**
 * A repository with one commit: `files` committed, then `.gitignore` rules
 * and ignored files written (not committed unless listed in `files`).
 */
export function makeRepo(files: Record<string, string> = { 'README.md': '# hi\n', 'src/a.txt': 'a\n' }, opts: { commit?: boolean } = {}): string {
  const dir = tempDir();
  git(dir, 'init', '-q');
  write(dir, files);
  if (opts.commit !== false) {
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'initial');
  }
  return dir;
}

/** One entry of a worktree picture. */
export interface Entry {
  type: 'file' | 'link' | 'dir' | 'special';
  mode?: number;
  content?: string; // base64 of the bytes (files) or the link target bytes
}

/**
 * Every path under `root` (except `.git`), with type, executable bit and
 * bytes, keyed by the raw path bytes (latin1), so two pictures compare
 * byte for byte with `expect(a).toEqual(b)`. Empty directories are included.
 */
export function picture(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  walkWorktree(root, (r, p, st) => {
    if (st.isSymbolicLink()) out[r] = { type: 'link', content: fs.readlinkSync(p, { encoding: 'buffer' }).toString('base64') };
    else if (st.isDirectory()) out[r] = { type: 'dir' };
    else if (!st.isFile()) out[r] = { type: 'special' }; // FIFO, socket, device: never opened
    else out[r] = { type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, content: fs.readFileSync(p).toString('base64') };
  });
  return out;
}

/** The user's index bytes (to assert it was never touched). */
export function indexBytes(repo: string): Buffer {
  const gitDir = git(repo, 'rev-parse', '--absolute-git-dir').trim();
  const p = path.join(gitDir, 'index');
  return fs.existsSync(p) ? fs.readFileSync(p) : Buffer.alloc(0);
}

/** All refs and HEAD, as `git for-each-ref` + `git rev-parse HEAD` print them (ckpt's own refs excluded). */
export function userRefs(repo: string): string {
  const refs = git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')
    .split('\n')
    .filter((l) => l && !l.startsWith('refs/ckpt/'))
    .join('\n');
  const head = spawnSync('git', ['rev-parse', '-q', '--verify', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim();
  const sym = spawnSync('git', ['symbolic-ref', '-q', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim();
  return `${refs}\nHEAD ${head} ${sym}`;
}

/** Path of the built CLI. */
export const CLI = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'ckpt.js');

/** Path of the hook entry's bin, as `ckpt hooks install` writes it into an agent's settings: `node HOOK AGENT`. */
export const HOOK = path.resolve(path.dirname(CLI), 'ckpt-hook.cjs');

/** git's own view of the worktree: `git add -A` into a fresh index, `write-tree`. */
export function gitView(dir: string): string {
  const env = { ...process.env, GIT_INDEX_FILE: path.join(tempDir('ckpt-view-'), 'index') };
  execFileSync('git', ['add', '-A'], { cwd: dir, env });
  return execFileSync('git', ['write-tree'], { cwd: dir, env, encoding: 'utf8' }).trim();
}
