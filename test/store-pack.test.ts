/**
 * The daemon's step writes its blobs and trees as one pack (git/pack.ts,
 * snapshot/object-writer.ts) and takes its ref lock from the pool of ready
 * files (git/temp-pool.ts createExclusive); the packs are folded so their
 * number stays bounded (git/pack-fold.ts). Shown here: git reads the packs
 * (`git fsck --strict`, `cat-file`, `verify-pack`, SHA-1 and SHA-256), each
 * stored file's bytes come back exactly, the commit stays loose, a fold
 * loses no object and `ckpt gc` compacts the store after it, and a step
 * killed with SIGKILL at random moments never leaves a ref naming a missing
 * object.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { gc, listSteps, openRepo, takeSnapshot } from '../src/index.js';
import type { Repo } from '../src/git/repo.js';
import { buildPack, indexedObjects, storedZlib } from '../src/git/pack.js';
import { foldPacks, packsToFold, storePacks } from '../src/git/pack-fold.js';
import { shadowObjectsDir } from '../src/git/shadow.js';
import { createExclusive, TempPool } from '../src/git/temp-pool.js';
import { acquireOwnedLock, isHeld, readLockOwner } from '../src/core/owned-lock.js';
import { captureTree } from '../src/snapshot/capture.js';
import { withWorktreeLock } from '../src/snapshot/lock.js';
import { IncrementalContext } from '../src/snapshot/incremental.js';
import { takeSnapshotOfChanges } from '../src/snapshot/take-changes.js';
import { git, makeRepo, storeDir, storeGit, storeGitBuf, tempDir, write } from './support/repo.js';
import { mountSmallDisk } from './support/tmpfs.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const opened: { close(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

/** `git fsck --strict` of ckpt's store: its exit code and what it said (a missing object is an error). */
function fsck(dir: string): { code: number; out: string } {
  const r = spawnSync('git', [`--git-dir=${storeDir(dir)}`, 'fsck', '--strict', '--no-dangling', '--no-progress'], { cwd: dir, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.replace(/notice: HEAD points to an unborn branch[^\n]*\n?/, '').trim() };
}

/** Every object every chain reaches is readable in the store (none missing). */
function allReachableReadable(dir: string): number {
  const objs = storeGit(dir, 'rev-list', '--objects', '--all', '--reflog').split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
  const check = spawnSync('git', [`--git-dir=${storeDir(dir)}`, 'cat-file', '--batch-check'], { cwd: dir, input: objs.join('\n') + '\n', encoding: 'utf8' });
  expect(check.stdout).not.toMatch(/missing/);
  return objs.length;
}

async function daemonLike(dir: string, pool: boolean): Promise<{ repo: Repo; ctx: IncrementalContext }> {
  const repo = await openRepo(dir);
  await takeSnapshot(repo, { kind: 'manual', force: true });
  const ctx = await IncrementalContext.open(repo);
  opened.push(ctx);
  if (pool) {
    const p = TempPool.open(repo, 16);
    opened.push(p);
    await p.refill(true);
  }
  return { repo, ctx };
}

/** Writes `n` files (new and changed, in new and old directories); returns their paths. */
function edit(dir: string, n: number, tag: string): string[] {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[i % 3 === 0 ? `src/a.txt` : `d${i % 4}/e${i % 2}/f${i}-${tag}.txt`] = `${tag} ${i}\n`.repeat(1 + i);
  write(dir, files);
  return Object.keys(files);
}

describe("a step's objects as one pack", () => {
  for (const pool of [true, false]) {
    it(`git reads it, each file comes back byte for byte, the commit is loose (${pool ? 'pooled files' : 'no pool'})`, async () => {
      const dir = makeRepo();
      const { repo, ctx } = await daemonLike(dir, pool);
      const changed = edit(dir, 10, 'one');
      const res = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, changed);
      expect(res.fullRead).toBeNull();
      const packs = storePacks(repo);
      expect(packs).toHaveLength(1);
      const packFile = path.join(shadowObjectsDir(repo), 'pack', `pack-${packs[0]!.name}.pack`);
      expect(spawnSync('git', [`--git-dir=${storeDir(dir)}`, 'verify-pack', packFile], { cwd: dir }).status).toBe(0);
      // The commit loose (every process reads the tip in process), the tree git's own.
      const id = res.snapshot.id;
      expect(fs.existsSync(path.join(shadowObjectsDir(repo), id.slice(0, 2), id.slice(2)))).toBe(true);
      expect(res.snapshot.tree).toBe(await captureTree(repo));
      for (const rel of changed) expect(sha(storeGitBuf(dir, 'cat-file', 'blob', `${id}:${rel}`))).toBe(sha(fs.readFileSync(path.join(dir, rel))));
      expect(fsck(dir)).toEqual({ code: 0, out: '' });
      // No temporary file left in the store.
      const objects = shadowObjectsDir(repo);
      const left = fs.readdirSync(objects, { recursive: true }).map(String).filter((f) => /tmp_/.test(f));
      expect(left).toEqual([]);
    });
  }

  it('fewer than four new blobs and trees stay loose', async () => {
    const dir = makeRepo();
    const { repo, ctx } = await daemonLike(dir, true);
    write(dir, { 'src/a.txt': 'changed\n' });
    const res = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, ['src/a.txt']);
    expect(res.fullRead).toBeNull();
    expect(storePacks(repo)).toEqual([]);
    expect(sha(storeGitBuf(dir, 'cat-file', 'blob', `${res.snapshot.id}:src/a.txt`))).toBe(sha('changed\n'));
    expect(fsck(dir)).toEqual({ code: 0, out: '' });
  });

  it('a SHA-256 repository: the pack and its index in that format, read by git', async () => {
    const dir = tempDir();
    git(dir, 'init', '-q', '--object-format=sha256');
    write(dir, { 'README.md': '# hi\n' });
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'initial');
    const { repo, ctx } = await daemonLike(dir, true);
    expect(repo.objectFormat).toBe('sha256');
    const changed = edit(dir, 8, 'two');
    const res = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, changed);
    expect(res.fullRead).toBeNull();
    expect(storePacks(repo)).toHaveLength(1);
    expect(res.snapshot.tree).toBe(await captureTree(repo));
    for (const rel of changed) expect(sha(storeGitBuf(dir, 'cat-file', 'blob', `${res.snapshot.id}:${rel}`))).toBe(sha(fs.readFileSync(path.join(dir, rel))));
    expect(fsck(dir)).toEqual({ code: 0, out: '' });
  });

  it('storedZlib: a zlib stream any inflater reads back byte for byte (checksum checked), empty, one block, many blocks', () => {
    for (const n of [0, 1, 100, 3807, 65535, 65536, 200_000]) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + n) & 0xff));
      expect(inflateSync(storedZlib(b)).equals(b), `${n} bytes`).toBe(true);
    }
    const high = Buffer.alloc(300_000, 0xff); // the largest sums Adler-32 can meet
    expect(inflateSync(storedZlib(high)).equals(high)).toBe(true);
    const bad = storedZlib(Buffer.from('abc'));
    bad[bad.length - 1]! ^= 1;
    expect(() => inflateSync(bad)).toThrow();
  });

  it('buildPack: the index lists every object once, sorted, and git agrees with each id', () => {
    const dir = makeRepo();
    const objects = ['x', 'y', 'x', '', 'a longer one\n'.repeat(2000)].map((t) => {
      const content = Buffer.from(t);
      const oid = createHash('sha1').update(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content])).digest('hex');
      return { oid, type: 'blob' as const, content };
    });
    const objDir = path.join(dir, '.git', 'objects', 'pack');
    // Stored blocks (a step's), and deflated: each its own pack, git reads both.
    for (const level of [0, 1]) {
      const built = buildPack(objects, 'sha1', level);
      const listed = indexedObjects(built.idx, 'sha1');
      expect(listed).toEqual([...new Set(objects.map((o) => o.oid))].sort());
      fs.writeFileSync(path.join(objDir, `pack-${built.name}.pack`), built.pack);
      fs.writeFileSync(path.join(objDir, `pack-${built.name}.idx`), built.idx);
      expect(spawnSync('git', ['verify-pack', path.join(objDir, `pack-${built.name}.pack`)], { cwd: dir }).status, `level ${level}`).toBe(0);
    }
    for (const o of objects) expect(spawnSync('git', ['cat-file', 'blob', o.oid], { cwd: dir }).stdout.equals(o.content)).toBe(true);
    expect(spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: dir }).status).toBe(0);
    const built = buildPack(objects, 'sha1');
    // A damaged index is not trusted.
    const bad = Buffer.from(built.idx);
    bad[1100] = bad[1100]! ^ 0xff;
    expect(indexedObjects(bad, 'sha1')).toBeNull();
  });
});

describe('the packs folded', () => {
  it('which packs fold: the small ones up to a doubling of sizes', () => {
    const p = (name: string, bytes: number) => ({ name, bytes });
    expect(packsToFold([p('a', 10), p('b', 10), p('c', 10)]).map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(packsToFold([p('a', 1), p('b', 2), p('c', 4), p('d', 8)])).toEqual([]);
    expect(packsToFold([p('big', 1000), p('a', 10), p('b', 10)]).map((x) => x.name)).toEqual(['a', 'b']);
    expect(packsToFold([p('big', 30), p('a', 10), p('b', 10)]).map((x) => x.name)).toEqual(['a', 'b', 'big']);
    expect(packsToFold([p('one', 5)])).toEqual([]);
  });

  it('twelve steps, twelve packs, folded into one: every snapshot whole, fsck clean, then ckpt gc compacts it', async () => {
    const dir = makeRepo();
    const { repo, ctx } = await daemonLike(dir, true);
    const trees: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, edit(dir, 6, `s${i}`));
      expect(res.fullRead).toBeNull();
      trees.push(res.snapshot.tree);
    }
    expect(storePacks(repo)).toHaveLength(12);
    const reachable = allReachableReadable(dir);
    expect(await foldPacks(repo, 99)).toBeNull(); // below its threshold: nothing
    const r = await foldPacks(repo, 8);
    expect(r).toMatchObject({ folded: 12, packs: 1 });
    expect(storePacks(repo)).toHaveLength(1);
    expect(allReachableReadable(dir)).toBe(reachable);
    expect(fsck(dir)).toEqual({ code: 0, out: '' });
    // The step after the fold still builds on the cached trees and writes its own pack.
    const after = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, edit(dir, 6, 'after'));
    expect(after.fullRead).toBeNull();
    expect(after.snapshot.tree).toBe(await captureTree(repo));
    expect(storePacks(repo)).toHaveLength(2);
    const steps = (await listSteps(repo)).length;
    const g = await gc(repo, { keep: 1000 });
    expect(g.dropped).toBe(0);
    expect((await listSteps(repo)).length).toBe(steps);
    expect(storePacks(repo)).toHaveLength(1);
    expect(fsck(dir)).toEqual({ code: 0, out: '' });
    for (const t of trees) expect(storeGit(dir, 'cat-file', '-t', t).trim()).toBe('tree');
  });
});

describe("the ref's lock from the pool", () => {
  it('is exclusive: an existing lock is refused (EEXIST) and the pool keeps its file; a new one is 0644', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual', force: true });
    const pool = TempPool.open(repo, 4);
    opened.push(pool);
    await pool.refill(true);
    const objects = shadowObjectsDir(repo);
    const lock = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(lock, 'held by another\n');
    expect(() => createExclusive(objects, lock, 0o644)).toThrow(/EEXIST/);
    expect(fs.readFileSync(lock, 'utf8')).toBe('held by another\n');
    const mine = path.join(path.dirname(objects), 'refs', 'mine.lock');
    const fd = createExclusive(objects, mine, 0o644);
    fs.writeSync(fd, 'value\n');
    fs.closeSync(fd);
    expect(fs.statSync(mine).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(mine, 'utf8')).toBe('value\n');
    expect(() => createExclusive(objects, mine, 0o644)).toThrow(/EEXIST/);
    fs.rmSync(mine);
  });
});

describe("the worktree lock's record from the pool", () => {
  it('is whole when it becomes the lock, names this process, and is gone once released; a pool file was used, none created', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual', force: true });
    const pool = TempPool.open(repo, 4);
    opened.push(pool);
    await pool.refill(true);
    const poolDir = path.join(storeDir(dir), 'tmp-pool');
    const before = fs.readdirSync(poolDir).sort();
    const lockFile = path.join(repo.stateDir, 'lock');
    const seen = await withWorktreeLock(repo, async () => readLockOwner(lockFile));
    expect(seen?.pid).toBe(process.pid);
    expect(fs.existsSync(lockFile)).toBe(false);
    // One ready file became the record (renamed away from the pool), and nothing is left beside the lock.
    expect(fs.readdirSync(poolDir).filter((f) => before.includes(f))).toHaveLength(before.length - 1);
    expect(fs.readdirSync(repo.stateDir).filter((f) => /^lock\./.test(f))).toEqual([]);
  });

  it('a record the caller could not place is written as before', async () => {
    const lockPath = path.join(tempDir(), 'lock');
    const lock = await acquireOwnedLock(lockPath, { placeRecord: () => false });
    expect(isHeld(lock)).toBe(true);
    expect(readLockOwner(lockPath)?.pid).toBe(process.pid);
    if (isHeld(lock)) lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
  });
});

describe('a full disk during a step', () => {
  it('FS_FAILED, the ref unmoved, no pack or temporary file left, the space back; once space is freed the next step records everything', async (ctx) => {
    const disk = mountSmallDisk('8m', 'ckpt-full-pack-');
    if ('reason' in disk) return ctx.skip(disk.reason);
    const mnt = disk.dir;
    try {
      const dir = path.join(mnt, 'repo');
      fs.mkdirSync(dir);
      git(dir, 'init', '-q');
      write(dir, { 'a.txt': 'a\n' });
      git(dir, 'add', '-A');
      git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
      const { repo, ctx: inc } = await daemonLike(dir, true);
      const tip0 = storeGit(dir, 'rev-parse', repo.ref).trim();
      // Incompressible files the step's pack (stored blocks) cannot fit beside them.
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 5; i++) files[`big/f${i}.bin`] = Buffer.from(Array.from({ length: 900 * 1024 }, () => Math.floor(Math.random() * 256)));
      write(dir, files);
      const free0 = fs.statfsSync(mnt).bfree;
      const err = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, inc, Object.keys(files)).then(
        () => null,
        (e: unknown) => e as { code?: string },
      );
      expect(err?.code).toBe('FS_FAILED');
      expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(tip0);
      const objects = shadowObjectsDir(repo);
      expect(fs.readdirSync(path.join(objects, 'pack')).filter((f) => /\.(pack|idx)$|^tmp_/.test(f))).toEqual([]);
      expect(fs.readdirSync(objects, { recursive: true }).map(String).filter((f) => /tmp_/.test(f))).toEqual([]);
      expect(fs.readdirSync(path.dirname(storeGit(dir, 'rev-parse', '--git-path', repo.ref).trim())).filter((f) => f.endsWith('.lock'))).toEqual([]);
      expect(fs.statfsSync(mnt).bfree).toBeGreaterThanOrEqual(free0 - 16);
      // Space freed: the same paths, now small, in the next step.
      for (const rel of Object.keys(files)) fs.writeFileSync(path.join(dir, rel), `${rel}\n`);
      const ok = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, inc, Object.keys(files));
      expect(ok.fullRead).toBeNull();
      expect(ok.snapshot.tree).toBe(await captureTree(repo));
      expect(fsck(dir)).toEqual({ code: 0, out: '' });
    } finally {
      for (const o of opened.splice(0)) o.close();
      // The context's git children (killed by close) may still be exiting in the worktree: unmount waits for the mount to be free.
      await disk.unmount();
    }
  }, 60_000);
});

describe('a step killed with SIGKILL', () => {
  it('at random moments, again and again: the ref never names a missing object, fsck stays clean, the next step goes on', { timeout: 240_000 }, async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual', force: true });
    const lib = path.resolve(import.meta.dirname, '..', 'dist', 'index.js');
    const script = path.join(tempDir(), 'steps.mjs');
    fs.writeFileSync(
      script,
      `import fs from 'node:fs';
import path from 'node:path';
const ckpt = await import(${JSON.stringify(lib)});
const dir = process.argv[2];
const repo = await ckpt.openRepo(dir);
const ctx = await ckpt.IncrementalContext.open(repo);
const pool = ckpt.TempPool.open(repo, 8);
await pool.refill(true);
let i = 0;
process.stdout.write('ready\\n');
for (;;) {
  const paths = [];
  for (let k = 0; k < 8; k++) {
    const rel = 'g' + (k % 3) + '/h' + k + '.txt';
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), process.pid + ' ' + i + ' ' + k + '\\n');
    paths.push(rel);
  }
  const r = await ckpt.takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, paths, { waitMs: 30000 });
  i++;
  if (r.fullRead === null) process.stdout.write('step\\n');
  await pool.refill(false);
}
`,
    );
    let stepsSeen = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const gone = new Promise<void>((r) => child.on('exit', () => r()));
      // Wait for its first step (never a fixed sleep), then kill it somewhere in a later one.
      const deadline = Date.now() + 60_000;
      while (!/step/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
      expect(out, err).toMatch(/step/);
      await new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 40)));
      child.kill('SIGKILL');
      await gone;
      stepsSeen += out.split('\n').filter((l) => l === 'step').length;
      expect(fsck(dir), `round ${round}`).toEqual({ code: 0, out: '' });
      allReachableReadable(dir);
    }
    expect(stepsSeen).toBeGreaterThanOrEqual(8);
    // The chain is whole and the next step (after a killed one's leftovers) goes on.
    const next = await takeSnapshot(repo, { kind: 'manual', force: true });
    expect(next.snapshot.tree).toBe(await captureTree(repo));
    expect(fsck(dir)).toEqual({ code: 0, out: '' });
  });
});
