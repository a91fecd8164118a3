/**
 * The fault matrix of snapshots (issue 9, "Tests and figures"): a full disk
 * (a small tmpfs, where the machine lets us mount one), a read-only object
 * store as an unprivileged user, read-only files, closed pipes. Each is a
 * clean error or a clean skip: no partial ref, no temp object left filling
 * the disk, the worktree, the user's index and refs untouched. Huge and
 * sparse files: left-out.test.ts; unreadable files: left-out.test.ts;
 * killed processes: git-children.test.ts.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashedPicture } from './support/files.js';
import { CLI, git, storeGit, indexBytes, makeRepo, tempDir, userRefs, write } from './support/repo.js';
import { mountSmallDisk } from './support/tmpfs.js';

const MiB = 1024 * 1024;

function ckpt(dir: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', input, env: { ...process.env, CKPT_MAX_FILE_SIZE: '' } });
}

function steps(dir: string): { step: number; tree: string }[] {
  return (JSON.parse(ckpt(dir, ['log', '--json']).stdout) as { steps: { step: number; tree: string }[] }).steps;
}

/** Temp object files git or ckpt left anywhere under `.git`. */
function tempObjects(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^tmp_obj_|^tmp_pack_|\.tmp$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(dir, '.git'));
  return out;
}

describe('fault matrix', () => {
  it('disk full during a snapshot: FS_FAILED (not GIT_FAILED), no partial ref, no temp object left, the worktree untouched; the next snapshot after freeing space works', async (ctx) => {
    const disk = mountSmallDisk('8m');
    if ('reason' in disk) {
      ctx.skip(`full disk not simulated: ${disk.reason}`);
      return;
    }
    try {
      const dir = path.join(disk.dir, 'repo');
      fs.mkdirSync(dir);
      git(dir, 'init', '-q');
      write(dir, { 'a.txt': 'a\n' });
      git(dir, 'add', '-A');
      git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
      expect(ckpt(dir, ['snap']).status).toBe(0);
      // Incompressible, so its object cannot fit in what is left of the disk.
      fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.from(Array.from({ length: 5 * MiB }, () => Math.floor(Math.random() * 256))));
      const pic = hashedPicture(dir);
      const index0 = indexBytes(dir);
      const refs0 = userRefs(dir);
      const free0 = fs.statfsSync(disk.dir).bfree;
      const r = ckpt(dir, ['snap', '--json']);
      expect(r.status).toBe(4);
      const err = (JSON.parse(r.stdout) as { error: { code: string; data: { errno: string } } }).error;
      expect(err.code).toBe('FS_FAILED');
      expect(err.data.errno).toBe('ENOSPC');
      expect(steps(dir).map((s) => s.step)).toEqual([1]); // no partial ref
      expect(tempObjects(dir)).toEqual([]); // nothing left filling the disk
      expect(fs.statfsSync(disk.dir).bfree).toBeGreaterThanOrEqual(free0 - 16); // the space is back (a few blocks of state at most)
      expect(hashedPicture(dir)).toEqual(pic);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      expect(userRefs(dir)).toBe(refs0);
      // A hook on the full disk: exit 0, nothing printed on stdout, no partial ref.
      const h = ckpt(dir, ['hook', 'claude'], JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'x' }, tool_use_id: 'toolu_full' }));
      expect([h.status, h.stdout]).toEqual([0, '']);
      expect(steps(dir).map((s) => s.step)).toEqual([1]);
      expect(tempObjects(dir)).toEqual([]);
      // Space freed: the next snapshot records everything.
      fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.alloc(MiB, 3));
      const ok = ckpt(dir, ['snap', '--json']);
      expect(ok.status).toBe(0);
      const tip = steps(dir)[0]!;
      expect(storeGit(dir, 'cat-file', '-s', `${tip.tree}:data.bin`).trim()).toBe(String(MiB));
      git(dir, 'fsck', '--no-dangling', '--no-progress');
    } finally {
      await disk.unmount();
    }
  }, 60_000);

  const asNobody = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0;
  it.skipIf(!asNobody)('a read-only object store (as an unprivileged user): FS_FAILED naming the permission, no partial ref, the worktree untouched', () => {
    const dir = tempDir();
    for (let up = path.dirname(dir); up !== '/'; up = path.dirname(up)) fs.chmodSync(up, fs.statSync(up).mode | 0o111);
    git(dir, 'init', '-q');
    write(dir, { 'a.txt': 'a\n' });
    git(dir, 'add', '-A');
    git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
    spawnSync('chown', ['-R', 'nobody', dir]);
    const asUser = (args: string[]) => spawnSync('runuser', ['-u', 'nobody', '--', 'env', `HOME=${dir}`, 'CKPT_MAX_FILE_SIZE=', process.execPath, CLI, ...args], { cwd: dir, encoding: 'utf8' });
    expect(asUser(['snap']).status).toBe(0);
    write(dir, { 'b.txt': 'new\n' });
    spawnSync('chown', ['nobody', path.join(dir, 'b.txt')]);
    // Every object directory read-only: the new blob cannot be written.
    const objects = path.join(dir, '.git', 'objects');
    const stores = [objects, path.join(dir, '.git', 'ckpt', 'shadow', 'objects')].filter((p) => fs.existsSync(p));
    const made: string[] = [];
    for (const store of stores) for (const e of [store, ...fs.readdirSync(store).map((n) => path.join(store, n))]) if (fs.statSync(e).isDirectory()) {
      fs.chmodSync(e, 0o555);
      made.push(e);
    }
    const pic = hashedPicture(dir);
    try {
      const r = asUser(['snap', '--json']);
      expect(r.status).toBe(4);
      const err = (JSON.parse(r.stdout) as { error: { code: string; data: { errno: string } } }).error;
      expect(err).toMatchObject({ code: 'FS_FAILED', data: { errno: 'EACCES' } });
      expect(hashedPicture(dir)).toEqual(pic);
    } finally {
      for (const e of made) fs.chmodSync(e, 0o755);
    }
    const stepsAsUser = () => (JSON.parse(asUser(['log', '--json']).stdout) as { steps: { step: number }[] }).steps.map((s) => s.step);
    expect(stepsAsUser()).toEqual([1]);
    expect(asUser(['snap']).status).toBe(0);
    expect(stepsAsUser()).toEqual([2, 1]);
  }, 60_000);

  it('read-only files and directories are captured byte for byte, and stay read-only', () => {
    const dir = makeRepo({ 'README.md': '# ro\n' });
    write(dir, { 'ro.txt': 'read only\n', 'ro-dir/inner.txt': 'inner\n' });
    fs.chmodSync(path.join(dir, 'ro.txt'), 0o444);
    fs.chmodSync(path.join(dir, 'ro-dir'), 0o555);
    try {
      const r = ckpt(dir, ['snap', '--json']);
      expect(r.status).toBe(0);
      const tree = (JSON.parse(r.stdout) as { snapshot: { tree: string } }).snapshot.tree;
      expect(storeGit(dir, 'cat-file', 'blob', `${tree}:ro.txt`)).toBe('read only\n');
      expect(storeGit(dir, 'cat-file', 'blob', `${tree}:ro-dir/inner.txt`)).toBe('inner\n');
      expect(fs.statSync(path.join(dir, 'ro.txt')).mode & 0o777).toBe(0o444);
      expect(fs.statSync(path.join(dir, 'ro-dir')).mode & 0o777).toBe(0o555);
    } finally {
      fs.chmodSync(path.join(dir, 'ro-dir'), 0o755);
    }
  });

  it('closed pipes: ckpt snap and ckpt hook with stdout and stderr read by nobody record the whole tree, never a partial one', () => {
    const dir = makeRepo({ 'README.md': '# pipes\n' });
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`many/f-${i}.txt`] = `${i}\n`;
    write(dir, files);
    // The reader of both streams exits at once: every write of ckpt meets a closed pipe.
    const snap = spawnSync('sh', ['-c', `"$0" "$1" snap 2>&1 | true`, process.execPath, CLI], { cwd: dir, encoding: 'utf8', env: { ...process.env, CKPT_MAX_FILE_SIZE: '' } });
    expect(snap.status).toBe(0);
    const s1 = steps(dir)[0]!;
    expect(storeGit(dir, 'ls-tree', '-r', '--name-only', s1.tree).split('\n').filter(Boolean)).toHaveLength(201);
    write(dir, { 'many/f-0.txt': 'changed\n', 'hooked.txt': 'h\n' });
    const payload = JSON.stringify({ hook_event_name: 'PostToolUse', cwd: dir, tool_name: 'Bash', tool_input: { command: 'x' }, tool_use_id: 'toolu_pipe' });
    const hook = spawnSync('sh', ['-c', `printf '%s' "$2" | "$0" "$1" hook claude 2>&1 | true`, process.execPath, CLI, payload], { cwd: dir, encoding: 'utf8' });
    expect(hook.status).toBe(0);
    const s2 = steps(dir)[0]!;
    expect(storeGit(dir, 'cat-file', 'blob', `${s2.tree}:many/f-0.txt`)).toBe('changed\n');
    expect(storeGit(dir, 'cat-file', 'blob', `${s2.tree}:hooked.txt`)).toBe('h\n');
    expect(storeGit(dir, 'ls-tree', '-r', '--name-only', s2.tree).split('\n').filter(Boolean)).toHaveLength(202);
  });
});
