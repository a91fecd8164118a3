/**
 * What a snapshot leaves out on purpose: untracked files above the size cap
 * (a 2 GiB sparse file, a 150 MiB one) and files it cannot read (as an
 * unprivileged user: root ignores permissions). Each is reported, in the
 * snapshot's metadata and by snap, log and status; the snapshot is otherwise
 * complete; nothing of the user's changes. Real git, the built CLI.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashedPicture } from './support/files.js';
import { CLI, git, storeGit, indexBytes, makeRepo, tempDir, userRefs, write } from './support/repo.js';

interface SnapJson {
  created: boolean;
  warnings: string[];
  snapshot: { id: string; step: number; tree: string; message: string; notCaptured: { path: string; reason: string; size: number | null }[]; notCapturedCount: number };
}

function ckpt(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CKPT_MAX_FILE_SIZE: '', ...env } });
}

function treeFiles(dir: string, tree: string): string[] {
  // ckpt's store of a main worktree (support/repo.ts storeDir), read without asking git where it is: the unprivileged test's repository belongs to another user.
  const store = path.join(dir, '.git', 'ckpt', 'shadow');
  return execFileSync('git', ['-c', 'safe.directory=*', `--git-dir=${store}`, 'ls-tree', '-r', '-z', '--name-only', tree], { encoding: 'utf8' }).split('\0').filter(Boolean).sort();
}

/** The blob at `rel` in `tree`, read like {@link treeFiles}. */
function blobAt(dir: string, tree: string, rel: string): string {
  return execFileSync('git', ['-c', 'safe.directory=*', `--git-dir=${path.join(dir, '.git', 'ckpt', 'shadow')}`, 'cat-file', 'blob', `${tree}:${rel}`], { encoding: 'utf8' });
}

/** Bytes under `dir` (a store's objects). */
function du(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) n += fs.statSync(p).size;
    }
  };
  walk(dir);
  return n;
}

const MiB = 1024 * 1024;

describe('left out of snapshots', () => {
  it('untracked files above the cap (2 GiB sparse, 150 MiB) are not captured but reported; tracked ones are captured; the rest is complete', () => {
    const dir = makeRepo({ 'README.md': '# cap\n', 'src/a.txt': 'a\n' });
    // A large file the user tracks: captured whatever its size.
    fs.writeFileSync(path.join(dir, 'tracked-big.bin'), Buffer.alloc(120 * MiB, 7));
    git(dir, 'add', 'tracked-big.bin');
    git(dir, 'commit', '-q', '-m', 'big');
    spawnSync('truncate', ['-s', '2G', path.join(dir, 'sparse.bin')]);
    fs.writeFileSync(path.join(dir, 'mid.bin'), Buffer.alloc(150 * MiB, 1));
    write(dir, { 'small.txt': 'small\n', 'src/new.txt': 'new\n', 'tracked-big.bin': null });
    fs.writeFileSync(path.join(dir, 'tracked-big.bin'), Buffer.alloc(120 * MiB, 8)); // changed, still tracked
    const pic = hashedPicture(dir, ['sparse.bin']);
    const index0 = indexBytes(dir);
    const refs0 = userRefs(dir);
    const storeBefore = du(path.join(dir, '.git'));

    // Under GNU time where it is installed: the peak memory (max RSS, KiB) of the whole snapshot.
    const timed = fs.existsSync('/usr/bin/time');
    const r = timed
      ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, 'snap', '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CKPT_MAX_FILE_SIZE: '' } })
      : ckpt(dir, ['snap', '--json']);
    expect(r.status).toBe(0);
    if (timed) expect(Number(r.stderr.trim().split('\n').pop())).toBeLessThan(150 * 1024); // memory bounded: neither big file is read
    const out = JSON.parse(r.stdout) as SnapJson;
    expect(out.snapshot.notCaptured).toEqual([
      { path: 'mid.bin', reason: 'too-large', size: 150 * MiB },
      { path: 'sparse.bin', reason: 'too-large', size: 2 * 1024 * MiB },
    ]);
    expect(out.warnings.join('\n')).toMatch(/sparse\.bin: 2\.0 GiB, over the 100 MiB cap/);
    expect(out.warnings.join('\n')).toMatch(/mid\.bin: 150 MiB, over the 100 MiB cap/);
    // Otherwise complete, byte for byte.
    expect(treeFiles(dir, out.snapshot.tree)).toEqual(['README.md', 'small.txt', 'src/a.txt', 'src/new.txt', 'tracked-big.bin']);
    expect(storeGit(dir, 'cat-file', 'blob', `${out.snapshot.tree}:src/new.txt`)).toBe('new\n');
    expect(storeGit(dir, 'cat-file', '-s', `${out.snapshot.tree}:tracked-big.bin`).trim()).toBe(String(120 * MiB));
    // Neither big untracked file went into any store (the tracked one compresses to almost nothing).
    expect(du(path.join(dir, '.git')) - storeBefore).toBeLessThan(5 * MiB);
    // Recorded in the snapshot's metadata, shown by log and status; the user's files, index and refs untouched.
    const raw = storeGit(dir, 'cat-file', 'commit', out.snapshot.id);
    expect(raw).toContain('Not-Captured: too-large 2147483648 "sparse.bin"');
    const log = JSON.parse(ckpt(dir, ['log', '--json']).stdout) as { steps: { notCaptured: unknown[] }[] };
    expect(log.steps[0]!.notCaptured).toEqual(out.snapshot.notCaptured);
    expect(ckpt(dir, ['log']).stdout).toContain('[2 not captured]');
    const status = ckpt(dir, ['status']).stdout;
    expect(status).toMatch(/not captured in the last snapshot/);
    expect(status).toMatch(/sparse\.bin: 2\.0 GiB, over the size cap/);
    expect(hashedPicture(dir, ['sparse.bin'])).toEqual(pic);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(userRefs(dir)).toBe(refs0);

    // A bare number is refused (a unit is required), and nothing is recorded.
    const bad = ckpt(dir, ['snap', '--force', '--json'], { CKPT_MAX_FILE_SIZE: '100' });
    expect(bad.status).toBe(2);
    expect((JSON.parse(bad.stdout) as { error: { code: string } }).error.code).toBe('CONFIG_INVALID');
    expect((JSON.parse(ckpt(dir, ['log', '--json']).stdout) as { steps: unknown[] }).steps).toHaveLength(1);

    // The config file raises the cap: the 150 MiB file is captured, the 2 GiB one still is not.
    write(dir, { '.ckpt/config.json': JSON.stringify({ snapshot: { maxFileSize: '200MiB' } }) });
    const raised = JSON.parse(ckpt(dir, ['snap', '--json']).stdout) as SnapJson;
    expect(raised.snapshot.notCaptured.map((n) => n.path)).toEqual(['sparse.bin']);
    expect(storeGit(dir, 'cat-file', '-s', `${raised.snapshot.tree}:mid.bin`).trim()).toBe(String(150 * MiB));
    // And the environment wins over the file (for files git reads again: new or changed ones).
    fs.writeFileSync(path.join(dir, 'mid.bin'), Buffer.alloc(150 * MiB, 2));
    const lowered = JSON.parse(ckpt(dir, ['snap', '--json'], { CKPT_MAX_FILE_SIZE: '1MiB' }).stdout) as SnapJson;
    expect(lowered.snapshot.notCaptured.map((n) => n.path)).toEqual(['mid.bin', 'sparse.bin']);
    expect(treeFiles(dir, lowered.snapshot.tree)).not.toContain('mid.bin');
    expect(lowered.snapshot.message).toContain('mid.bin not captured'); // left the tree, but not the worktree: never summarised as deleted

    // A rollback to the step that held mid.bin never overwrites today's uncaptured bytes.
    const before = hashedPicture(dir, ['sparse.bin']);
    const rb = ckpt(dir, ['rollback', String(raised.snapshot.step)], { CKPT_MAX_FILE_SIZE: '1MiB' });
    expect(rb.status).not.toBe(0);
    expect(hashedPicture(dir, ['sparse.bin'])).toEqual(before);
  }, 120_000);

  const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0 && process.getuid?.() === 0;
  it.skipIf(!asNobody)('as an unprivileged user: an unreadable file and an unreadable directory are skipped and reported, every snapshot still works, rollback deletes neither', () => {
    // runs as root here, so the repository is handed to `nobody` and ckpt runs as nobody (runuser)
    const dir = tempDir();
    // nobody must be able to reach it: open the test run's parent directories for traversal only.
    for (let up = path.dirname(dir); up !== '/'; up = path.dirname(up)) fs.chmodSync(up, fs.statSync(up).mode | 0o111);
    fs.chmodSync(dir, 0o755);
    spawnSync('chown', ['nobody', dir]);
    const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries({ HOME: dir, CKPT_MAX_FILE_SIZE: '', GIT_CONFIG_NOSYSTEM: '1', ...env }).map(([k, v]) => `${k}=${v}`), cmd, ...args], { cwd: dir, encoding: 'utf8' });
    const ok = (cmd: string, ...args: string[]) => {
      const r = run(cmd, args);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    ok('git', 'init', '-q');
    ok('git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'init');
    write(dir, { 'a.txt': 'a\n', 'secret.txt': 'secret\n', 'locked/inner.txt': 'inner\n' });
    spawnSync('chown', ['-R', 'nobody', dir]);
    const snap = (): SnapJson => {
      const r = run(process.execPath, [CLI, 'snap', '--force', '--json']);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      return JSON.parse(r.stdout) as SnapJson;
    };
    const s1 = snap(); // everything readable: captured
    expect(treeFiles(dir, s1.snapshot.tree)).toEqual(['a.txt', 'locked/inner.txt', 'secret.txt']);
    fs.chmodSync(path.join(dir, 'secret.txt'), 0o000);
    fs.chmodSync(path.join(dir, 'locked'), 0o000);
    write(dir, { 'b.txt': 'b\n' });
    spawnSync('chown', ['nobody', path.join(dir, 'b.txt')]);
    const s2 = snap();
    expect(s2.snapshot.notCaptured.map((n) => [n.path, n.reason])).toEqual([
      ['locked/inner.txt', 'unreadable'],
      ['secret.txt', 'unreadable'],
    ]);
    expect(s2.warnings.join('\n')).toMatch(/secret\.txt: cannot be read/);
    // Not read is unknown, not deleted: they keep the entries step 1 gave them.
    expect(treeFiles(dir, s2.snapshot.tree)).toEqual(['a.txt', 'b.txt', 'locked/inner.txt', 'secret.txt']);
    expect(blobAt(dir, s2.snapshot.tree, 'secret.txt')).toBe('secret\n');
    // And the next ones too: one unreadable file no longer stops snapshotting.
    write(dir, { 'c.txt': 'c\n' });
    spawnSync('chown', ['nobody', path.join(dir, 'c.txt')]);
    const s3 = snap();
    expect(treeFiles(dir, s3.snapshot.tree)).toEqual(['a.txt', 'b.txt', 'c.txt', 'locked/inner.txt', 'secret.txt']);
    // Rolling back to a step without them deletes neither unreadable path.
    const rb = run(process.execPath, [CLI, 'rollback', String(s2.snapshot.step), '--json']);
    expect(rb.status, rb.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, 'c.txt'))).toBe(false);
    fs.chmodSync(path.join(dir, 'secret.txt'), 0o644);
    fs.chmodSync(path.join(dir, 'locked'), 0o755);
    expect(fs.readFileSync(path.join(dir, 'secret.txt'), 'utf8')).toBe('secret\n');
    expect(fs.readFileSync(path.join(dir, 'locked', 'inner.txt'), 'utf8')).toBe('inner\n');
  }, 60_000);
  it.skipIf(!asNobody)('as an unprivileged user: an unreadable tracked file keeps its last entry (never recorded as deleted) and no rollback deletes or replaces an unreadable file', () => {
    const dir = tempDir();
    for (let up = path.dirname(dir); up !== '/'; up = path.dirname(up)) fs.chmodSync(up, fs.statSync(up).mode | 0o111);
    fs.chmodSync(dir, 0o755);
    spawnSync('chown', ['nobody', dir]);
    const run = (cmd: string, args: string[]) =>
      spawnSync('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries({ HOME: dir, CKPT_MAX_FILE_SIZE: '', GIT_CONFIG_NOSYSTEM: '1' }).map(([k, v]) => `${k}=${v}`), cmd, ...args], { cwd: dir, encoding: 'utf8' });
    const ok = (cmd: string, ...args: string[]): string => {
      const r = run(cmd, args);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const own = (): void => void spawnSync('chown', ['-R', 'nobody', dir]);
    const read = (rel: string): string => fs.readFileSync(path.join(dir, rel), 'utf8'); // as root: permissions do not stop it
    ok('git', 'init', '-q');
    write(dir, { 'readme.md': 'v1\n', 'other.txt': 'o\n' });
    own();
    ok('git', 'add', '-A');
    ok('git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
    const snap = (): SnapJson => JSON.parse(ok(process.execPath, CLI, 'snap', '--force', '--json')) as SnapJson;
    const s1 = snap();
    write(dir, { 'readme.md': 'v2\n' });
    own();
    const s2 = snap();
    fs.chmodSync(path.join(dir, 'readme.md'), 0o000);
    write(dir, { 'new.txt': 'untracked, unreadable\n' });
    own();
    fs.chmodSync(path.join(dir, 'new.txt'), 0o000);
    const s3 = snap();
    expect(s3.snapshot.notCaptured.map((n) => [n.path, n.reason])).toEqual([
      ['new.txt', 'unreadable'],
      ['readme.md', 'unreadable'],
    ]);
    // Unknown, not deleted: readme.md keeps step 2's entry, new.txt (never read) stays absent.
    expect(treeFiles(dir, s3.snapshot.tree)).toEqual(['other.txt', 'readme.md']);
    expect(blobAt(dir, s3.snapshot.tree, 'readme.md')).toBe('v2\n');
    expect(ok(process.execPath, CLI, 'diff', String(s2.snapshot.step), String(s3.snapshot.step), '--stat')).not.toMatch(/readme/);

    // A rollback while they are unreadable replaces neither and deletes neither: left alone, said.
    const rb = run(process.execPath, [CLI, 'rollback', String(s1.snapshot.step), '--json']);
    expect(rb.status, rb.stderr).toBe(0);
    expect(rb.stdout + rb.stderr).toMatch(/readme\.md: cannot be read \(permission denied\)/);
    expect(read('readme.md')).toBe('v2\n');
    expect(read('new.txt')).toBe('untracked, unreadable\n');
    expect(fs.statSync(path.join(dir, 'readme.md')).mode & 0o777).toBe(0o000);

    // Readable again and edited: rolling back to the step that could not read it restores its last known bytes.
    fs.chmodSync(path.join(dir, 'readme.md'), 0o644);
    write(dir, { 'readme.md': 'v3\n' });
    own();
    ok(process.execPath, CLI, 'rollback', String(s3.snapshot.step));
    expect(read('readme.md')).toBe('v2\n');
    expect(read('new.txt')).toBe('untracked, unreadable\n');
    ok(process.execPath, CLI, 'rollback', '--undo');
    expect(read('readme.md')).toBe('v3\n');
  }, 60_000);
  it('a new file over the cap is itself a change: recorded as not captured, shown by log and status, once', () => {
    const dir = makeRepo({ 'README.md': '# cap\n' });
    const first = JSON.parse(ckpt(dir, ['snap', '--json']).stdout) as SnapJson;
    expect(first.created).toBe(true);
    spawnSync('truncate', ['-s', '300M', path.join(dir, 'big2.bin')]);
    const r = ckpt(dir, ['snap', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const second = JSON.parse(r.stdout) as SnapJson;
    expect(second.created).toBe(true); // the tree is the same; what was left out is not
    expect(second.snapshot.tree).toBe(first.snapshot.tree);
    expect(second.snapshot.notCaptured).toEqual([{ path: 'big2.bin', reason: 'too-large', size: 300 * MiB }]);
    expect(second.snapshot.message).toContain('not captured: big2.bin');
    expect(ckpt(dir, ['log']).stdout).toContain('[1 not captured]');
    expect(ckpt(dir, ['status']).stdout).toContain('big2.bin');
    // Nothing new since: no further snapshot, even though the file grew.
    spawnSync('truncate', ['-s', '301M', path.join(dir, 'big2.bin')]);
    const third = JSON.parse(ckpt(dir, ['snap', '--json']).stdout) as SnapJson;
    expect(third.created).toBe(false);
    expect(third.snapshot.id).toBe(second.snapshot.id);
  }, 60_000);
});
