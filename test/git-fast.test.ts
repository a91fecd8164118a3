/**
 * The in-process shortcuts (git/repo.ts discovery, git/loose.ts refs and
 * objects) must give git's own answers, byte for byte, and step aside
 * (fall back to git) wherever they could differ.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot, listSteps, rollback } from '../src/index.js';
import { readLooseHeader, readLooseObject, readRefFast, writeCommit } from '../src/git/loose.js';
import { git as gitRaw, makeRepo, picture, tempDir, write } from './support/repo.js';

const git = (cwd: string, ...args: string[]): string => gitRaw(cwd, ...args).trim();

/** What `git rev-parse` says about `dir`, in openRepo's terms. */
function revParse(dir: string): { worktree: string; gitDir: string; commonDir: string } {
  const [gitDir, common, top] = git(dir, 'rev-parse', '--absolute-git-dir', '--git-common-dir', '--show-toplevel').split('\n');
  return { worktree: fs.realpathSync(top!), gitDir: fs.realpathSync(gitDir!), commonDir: fs.realpathSync(path.resolve(dir, common!)) };
}

describe('repository discovery without git', () => {
  it('finds what git rev-parse finds: main worktree, a subdirectory, a linked worktree and its subdirectory', async () => {
    const dir = makeRepo({ 'README.md': '# hi\n', 'src/deep/a.txt': 'a\n' });
    const linked = path.join(tempDir(), 'linked');
    git(dir, 'worktree', 'add', '-q', '-b', 'side', linked);
    for (const d of [dir, path.join(dir, 'src', 'deep'), linked, path.join(linked, 'src')]) {
      const repo = await openRepo(d);
      expect({ worktree: repo.worktree, gitDir: repo.gitDir, commonDir: repo.commonDir }).toEqual(revParse(d));
    }
    const a = await openRepo(dir);
    const b = await openRepo(linked);
    expect(a.ref).not.toBe(b.ref);
    expect(a.stateDir.startsWith(a.commonDir)).toBe(true);
    expect(b.stateDir.startsWith(a.commonDir)).toBe(true); // linked worktrees keep state in the common dir
  });

  it('defers to git where the files could mislead: core.worktree, inside .git, a .git that is not a repository', async () => {
    // core.worktree pointing elsewhere: from the .git's parent, git sees no worktree, and neither does ckpt.
    const wt = tempDir();
    const dir = makeRepo();
    git(dir, 'config', 'core.worktree', wt);
    expect(git(dir, 'rev-parse', '--is-inside-work-tree')).toBe('false');
    await expect(openRepo(dir)).rejects.toMatchObject({ code: 'BARE_REPO' });
    // Inside the git dir: no worktree there.
    const plain = makeRepo();
    await expect(openRepo(path.join(plain, '.git', 'objects'))).rejects.toMatchObject({ code: 'BARE_REPO' });
    // A stray `.git` directory that is no repository is skipped, as git skips it.
    const host = makeRepo();
    fs.mkdirSync(path.join(host, 'sub', '.git'), { recursive: true });
    expect((await openRepo(path.join(host, 'sub'))).worktree).toBe(fs.realpathSync(host));
    // A bare repository inside a worktree: git sees the bare one, not the worktree around it.
    git(host, 'init', '-q', '--bare', 'backup.git');
    await expect(openRepo(path.join(host, 'backup.git'))).rejects.toMatchObject({ code: 'BARE_REPO' });
    await expect(openRepo(path.join(host, 'backup.git', 'refs'))).rejects.toMatchObject({ code: 'BARE_REPO' });
    // Not a repository at all.
    await expect(openRepo(tempDir())).rejects.toMatchObject({ code: 'NOT_A_REPO' });
  });
});

describe('refs and objects in process', () => {
  it('reads HEAD and refs as git does, loose and packed; unborn HEAD is null', async () => {
    const empty = tempDir();
    git(empty, 'init', '-q');
    expect(readRefFast(await openRepo(empty), 'HEAD')).toBeNull();
    const dir = makeRepo();
    const repo = await openRepo(dir);
    const head = git(dir, 'rev-parse', 'HEAD');
    expect(readRefFast(repo, 'HEAD')).toBe(head);
    git(dir, 'pack-refs', '--all');
    expect(fs.existsSync(path.join(dir, '.git', 'refs', 'heads', 'main'))).toBe(false);
    expect(readRefFast(repo, 'HEAD')).toBe(head);
    expect(readRefFast(repo, 'refs/heads/nope')).toBeNull();
    git(dir, 'checkout', '-q', '--detach');
    expect(readRefFast(repo, 'HEAD')).toBe(head);
  });

  it('writes a commit byte-identical to git commit-tree, and reads it back; packed objects fall back to git', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    const tree = git(dir, 'rev-parse', 'HEAD^{tree}');
    const head = git(dir, 'rev-parse', 'HEAD');
    const time = 1_790_000_000_000;
    const message = 'subject ü\n\nVersion: 1\nStep: 1\n';
    const ours = writeCommit(repo, tree, [head], message, time);
    const env = { GIT_AUTHOR_NAME: 'ckpt', GIT_AUTHOR_EMAIL: 'ckpt@localhost', GIT_COMMITTER_NAME: 'ckpt', GIT_COMMITTER_EMAIL: 'ckpt@localhost', GIT_AUTHOR_DATE: '@1790000000 +0000', GIT_COMMITTER_DATE: '@1790000000 +0000' };
    const theirs = execFileSync('git', ['commit-tree', tree, '-p', head, '-F', '-'], { cwd: dir, env: { ...process.env, ...env }, input: message }).toString().trim();
    expect(ours).toBe(theirs);
    expect(git(dir, 'cat-file', '-t', ours)).toBe('commit');
    git(dir, 'fsck', '--strict', '--no-dangling'); // throws if the object were malformed
    const back = readLooseObject(repo, ours);
    expect(back?.type).toBe('commit');
    expect(back?.content.toString('utf8')).toBe(git(dir, 'cat-file', 'commit', ours) + '\n');
    // After a repack the object is no longer loose: the reader steps aside.
    git(dir, 'repack', '-a', '-d', '-q');
    git(dir, 'prune-packed');
    expect(readLooseObject(repo, head)).toBeUndefined();
  });

  it('snapshots and rollback keep working after git gc packs the chain and its refs', async () => {
    const dir = makeRepo({ 'a.txt': 'one\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'a.txt': 'two\n', 'b.txt': 'new\n' });
    await takeSnapshot(repo, { kind: 'auto' });
    const before = picture(dir);
    git(dir, 'gc', '-q', '--prune=now');
    expect(fs.existsSync(path.join(dir, '.git', repo.ref))).toBe(false); // packed into packed-refs
    write(dir, { 'a.txt': 'three\n' });
    const third = await takeSnapshot(repo, { kind: 'auto' });
    expect(third.snapshot.step).toBe(3);
    await rollback(repo, { target: '2' });
    expect(picture(dir)).toEqual(before);
    expect((await listSteps(repo, { stats: false })).map((s) => s.kind)).toEqual(['rollback', 'pre-rollback', 'auto', 'auto', 'manual']);
  });

  it('a loose object\'s header gives its type and size as reading it whole does, big or small; undefined once it is packed', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    write(dir, { 'big.bin': randomBytes(5 * 1024 * 1024), 'empty.txt': '' });
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'big');
    const repo = await openRepo(dir);
    const ids = ['HEAD', 'HEAD^{tree}', 'HEAD:a.txt', 'HEAD:big.bin', 'HEAD:empty.txt'].map((r) => git(dir, 'rev-parse', r));
    for (const oid of ids) {
      const whole = readLooseObject(repo, oid)!;
      expect(readLooseHeader(repo, oid), oid).toEqual({ type: whole.type, size: whole.content.length });
      expect(readLooseHeader(repo, oid)!.size, oid).toBe(Number(git(dir, 'cat-file', '-s', oid)));
    }
    git(dir, 'repack', '-a', '-d', '-q');
    git(dir, 'prune-packed');
    for (const oid of ids) expect(readLooseHeader(repo, oid), oid).toBeUndefined();
  });

  it('a rollback of more small loose blobs than one read-ahead holds (16 MiB) writes every byte', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 24; i++) files[`f${String(i).padStart(2, '0')}.bin`] = randomBytes(1024 * 1024);
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    write(dir, files);
    await takeSnapshot(repo, { kind: 'manual' });
    const before = picture(dir);
    write(dir, Object.fromEntries(Object.keys(files).map((f) => [f, `changed ${f}\n`])));
    await takeSnapshot(repo, { kind: 'manual' });
    await rollback(repo, { target: '1' });
    expect(picture(dir)).toEqual(before);
  });
});
