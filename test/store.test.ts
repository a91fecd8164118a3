/**
 * ckpt's own store (the shadow git dir): snapshot objects and chains live
 * there, out of reach of the user's and the agents' git commands; chains an
 * older ckpt kept in the user's `refs/ckpt/` move there on first use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot, listSteps, rollback } from '../src/index.js';
import { verifyChains, recordedTip } from '../src/snapshot/chains.js';
import { gc } from '../src/snapshot/gc.js';
import { readTip } from '../src/snapshot/tip.js';
import { adoptBorrowed, copyToRepository, localObjects, storeBytes } from '../src/git/store.js';
import { pickAttempt } from '../src/race/pick.js';
import { attemptDiffs, attemptSnapshot } from '../src/race/compare.js';
import { resolveRace } from '../src/race/store.js';
import { makeFakeRace } from './support/fake-race.js';
import { CLI, git, indexBytes, makeRepo, picture, storeDir, storeGit, tempDir, userRefs, write } from './support/repo.js';
import { runCli, type CliResult } from './support/cli.js';

const ckpt = (cwd: string, ...args: string[]): CliResult => runCli(cwd, args, { env: { NO_COLOR: '1' } });

function ckptAsync(cwd: string, ...args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: 'ignore' });
    p.on('close', (code) => resolve(code ?? -1));
  });
}

/** Every loose object file and pack of an object dir (not following alternates). */
function objectFiles(objects: string): string[] {
  const out: string[] = [];
  for (const fan of fs.readdirSync(objects)) {
    if (/^[0-9a-f]{2}$/.test(fan)) for (const f of fs.readdirSync(path.join(objects, fan))) out.push(fan + f);
  }
  return out;
}

/** Turns the repository back into what an older ckpt left: chains as `refs/ckpt/*` in the user's repository, objects in its store, no store of ckpt's. */
function makeLegacy(dir: string): Record<string, string> {
  const store = storeDir(dir);
  const refs = Object.fromEntries(
    storeGit(dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/ckpt/')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  const pack = spawnSync('git', [`--git-dir=${store}`, 'pack-objects', '--all', '--stdout', '-q'], { cwd: dir, input: '' });
  spawnSync('git', ['index-pack', '--stdin'], { cwd: dir, input: pack.stdout });
  for (const [ref, oid] of Object.entries(refs)) git(dir, 'update-ref', ref, oid);
  fs.rmSync(store, { recursive: true, force: true });
  fs.rmSync(path.join(dir, '.git', 'ckpt', 'tips'), { recursive: true, force: true });
  return refs;
}

describe("ckpt's store", () => {
  it("keeps snapshot objects and chains in the shadow git dir, borrowing the user's objects through alternates", async () => {
    const dir = makeRepo({ 'README.md': '# hi\n', 'big.txt': 'x'.repeat(10_000) });
    const before = objectFiles(path.join(dir, '.git', 'objects'));
    const refs0 = userRefs(dir);
    const index0 = indexBytes(dir);
    write(dir, { 'new.txt': 'untracked and new\n' });
    const repo = await openRepo(dir);
    const s = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    // The user's object store gained nothing; ckpt's store holds the new blob, trees and commits.
    expect(objectFiles(path.join(dir, '.git', 'objects')).sort()).toEqual(before.sort());
    const ours = objectFiles(path.join(storeDir(dir), 'objects'));
    const newBlob = git(dir, 'hash-object', 'new.txt').trim();
    expect(ours).toContain(newBlob);
    expect(ours).toContain(s.id);
    // Borrowed, not copied: the committed blob is only in the user's store.
    const bigBlob = git(dir, 'rev-parse', 'HEAD:big.txt').trim();
    expect(ours).not.toContain(bigBlob);
    expect(fs.readFileSync(path.join(storeDir(dir), 'objects', 'info', 'alternates'), 'utf8')).toBe('../../../objects\n');
    expect(storeGit(dir, 'cat-file', 'blob', bigBlob)).toBe('x'.repeat(10_000));
    // No ref of the user's: neither refs/ckpt/ nor anything else changed.
    expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
    expect(userRefs(dir)).toBe(refs0);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(s.id);
    expect(storeGit(dir, 'reflog', 'show', '--format=%H', repo.ref).trim()).toBe(s.id);
    storeGit(dir, 'fsck', '--no-dangling', '--connectivity-only');
  });

  it("copies into the user's store exactly what it lacks of a snapshot, and adopts what ckpt's chains borrow once the user's refs drop it", async () => {
    const dir = makeRepo({ 'README.md': '# hi\n', 'dir with space/a b.txt': 'spaced\n' });
    write(dir, { 'new one.txt': 'fresh\n', 'dir with space/c d.txt': 'also fresh\n' });
    const repo = await openRepo(dir);
    const s = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const fresh = ['new one.txt', 'dir with space/c d.txt'].map((f) => git(dir, 'hash-object', f).trim());
    const inUser = (oid: string): boolean => spawnSync('git', ['cat-file', '-e', oid], { cwd: dir, env: { ...process.env, GIT_OBJECT_DIRECTORY: path.join(dir, '.git', 'objects'), GIT_ALTERNATE_OBJECT_DIRECTORIES: '' } }).status === 0;
    expect(fresh.map(inUser)).toEqual([false, false]);
    const local = await localObjects(repo);
    for (const o of [...fresh, s.id, s.tree]) expect(local.has(o)).toBe(true);
    // The new blobs, the new root tree and the new subtree: nothing the user's store has already.
    expect(await copyToRepository(repo, [s.tree])).toBe(4);
    expect([...fresh, s.tree].map(inUser)).toEqual([true, true, true]);
    expect(await copyToRepository(repo, [s.tree])).toBe(0);
    // A commit of the user's that only ckpt's chain names then (the user resets past it): adopted into ckpt's store.
    write(dir, { 'later.txt': 'later\n' });
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'later');
    const later = git(dir, 'rev-parse', 'HEAD').trim();
    await takeSnapshot(repo, { kind: 'manual' });
    git(dir, 'reset', '-q', '--hard', 'HEAD~1');
    git(dir, 'reflog', 'expire', '--expire=now', '--all');
    expect((await localObjects(repo)).has(later)).toBe(false);
    expect(await adoptBorrowed(repo)).toBeGreaterThan(0);
    expect((await localObjects(repo)).has(later)).toBe(true);
    expect(await adoptBorrowed(repo)).toBe(0);
  });

  it("survives what the user's and the agents' git commands do: update-ref -d of refs/ckpt, reflog expire, gc --prune=now", async () => {
    const dir = makeRepo({ 'a.txt': 'one\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'a.txt': 'two\n', 'u.txt': 'untracked\n' });
    await takeSnapshot(repo, { kind: 'manual' });
    const steps0 = (await listSteps(repo)).map((s) => `${s.step} ${s.id} ${s.tree}`);
    // What an agent would run to erase every chain, then the user's most aggressive gc.
    spawnSync('sh', ['-c', 'git for-each-ref --format="%(refname)" refs/ckpt | xargs -r -n1 git update-ref -d'], { cwd: dir });
    git(dir, 'reflog', 'expire', '--expire=now', '--all');
    git(dir, 'gc', '--prune=now', '-q');
    expect((await listSteps(repo)).map((s) => `${s.step} ${s.id} ${s.tree}`)).toEqual(steps0);
    write(dir, { 'a.txt': 'three\n' });
    await rollback(repo, { target: '1' });
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('one\n');
    expect(fs.existsSync(path.join(dir, 'u.txt'))).toBe(false);
    await rollback(repo, { undo: true });
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('three\n');
    expect(fs.readFileSync(path.join(dir, 'u.txt'), 'utf8')).toBe('untracked\n');
  });

  it('upgrades an older shadow in place without losing objects or refs', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    const s = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    fs.writeFileSync(path.join(storeDir(dir), 'ckpt-shadow-version'), '3');
    expect(ckpt(dir, 'log').code).toBe(0); // a new process sees an old version and upgrades
    expect(fs.readFileSync(path.join(storeDir(dir), 'ckpt-shadow-version'), 'utf8')).toBe('4');
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(s.id);
    expect(storeGit(dir, 'cat-file', '-t', s.id).trim()).toBe('commit');
  });

  it('a store removed while a process runs is made again by that process, not named to git as if it were there', async () => {
    const dir = makeRepo();
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    fs.rmSync(path.dirname(storeDir(dir)), { recursive: true, force: true });
    write(dir, { 'after.txt': 'after\n' });
    const again = await takeSnapshot(repo, { kind: 'manual' });
    expect(again.snapshot.step).toBe(1);
    expect(storeGit(dir, 'show', `${again.snapshot.id}:after.txt`)).toBe('after\n');
  });
});

describe('migration of refs/ckpt/* from the user repository', () => {
  it("moves every chain into ckpt's store with its objects, deletes the old refs, and survives the user's gc --prune=now", async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'a.txt': 'b\n', 'new.txt': 'new\n' });
    await takeSnapshot(repo, { kind: 'manual' });
    git(dir, 'worktree', 'add', '-q', path.join(path.dirname(dir), path.basename(dir) + '-linked'));
    const linked = path.join(path.dirname(dir), path.basename(dir) + '-linked');
    try {
      write(linked, { 'l.txt': 'linked\n' });
      await takeSnapshot(await openRepo(linked), { kind: 'manual' });
      const log0 = ckpt(dir, 'log', '--json').stdout;
      const legacy = makeLegacy(dir);
      expect(Object.keys(legacy)).toHaveLength(2);
      expect(git(dir, 'for-each-ref', 'refs/ckpt/')).not.toBe('');
      const refs0 = userRefs(dir);
      // First use: a new process migrates.
      const r = ckpt(dir, 'log', '--json');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(log0);
      expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
      expect(fs.existsSync(path.join(dir, '.git', 'refs', 'ckpt'))).toBe(false);
      for (const [ref, oid] of Object.entries(legacy)) expect(storeGit(dir, 'rev-parse', ref).trim()).toBe(oid);
      expect(userRefs(dir)).toBe(refs0);
      // The objects are ckpt's now: the user's most thorough gc cannot take them.
      git(dir, 'reflog', 'expire', '--expire=now', '--all');
      git(dir, 'gc', '--prune=now', '-q');
      storeGit(dir, 'fsck', '--no-dangling', '--connectivity-only');
      expect(ckpt(dir, 'log', '--json').stdout).toBe(log0);
      const pic = picture(dir);
      expect(ckpt(dir, 'rollback', '1').code).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a\n');
      expect(ckpt(dir, 'rollback', '--undo').code).toBe(0);
      expect(picture(dir)).toEqual(pic);
      // Idempotent: another run has nothing to do and changes nothing.
      const store0 = storeGit(dir, 'for-each-ref');
      expect(ckpt(dir, 'log').code).toBe(0);
      expect(storeGit(dir, 'for-each-ref')).toBe(store0);
    } finally {
      fs.rmSync(linked, { recursive: true, force: true });
    }
  });

  it('finishes a migration killed half-way (objects copied, ref created, old ref still there) and keeps a conflicting chain aside', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    const s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const legacy = makeLegacy(dir);
    // Killed after step 2: the store has the ref, the user's repository still too.
    expect(ckpt(dir, 'log').code).toBe(0);
    git(dir, 'update-ref', repo.ref, s1.id);
    fs.rmSync(path.join(storeDir(dir), 'ckpt-migrated'));
    expect(ckpt(dir, 'log').code).toBe(0);
    expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(legacy[repo.ref]);
    // An old ckpt wrote a different chain under the same name: both are kept.
    write(dir, { 'a.txt': 'other\n' });
    const other = git(dir, 'commit-tree', git(dir, 'write-tree').trim(), '-m', 'not a snapshot').trim();
    git(dir, 'update-ref', repo.ref, other);
    expect(ckpt(dir, 'log').code).toBe(0);
    expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(s1.id);
    expect(storeGit(dir, 'for-each-ref', '--format=%(objectname)', 'refs/ckpt/legacy/').trim()).toBe(other);
  });

  it('concurrent first uses migrate once: one chain, no old ref left, every process succeeds', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'a.txt': 'b\n' });
    await takeSnapshot(repo, { kind: 'manual' });
    const legacy = makeLegacy(dir);
    const codes = await Promise.all([1, 2, 3, 4].map(() => ckptAsync(dir, 'log')));
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(git(dir, 'for-each-ref', 'refs/ckpt/')).toBe('');
    expect(storeGit(dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/ckpt/').trim()).toBe(`${repo.ref} ${legacy[repo.ref]}`);
    expect((await listSteps(repo)).map((s) => s.step)).toEqual([2, 1]);
  });
});

describe('chains verified against the record of tips', () => {
  it('puts back a chain deleted or rewound inside ckpt\'s store, reports it, and `ckpt status` does it too', async () => {
    const dir = makeRepo({ 'a.txt': '1\n' });
    const repo = await openRepo(dir);
    for (const v of ['2', '3', '4']) {
      write(dir, { 'a.txt': `${v}\n` });
      await takeSnapshot(repo, { kind: 'manual' });
    }
    const steps0 = (await listSteps(repo)).map((s) => s.id);
    expect(recordedTip(repo, repo.id)?.oid).toBe(steps0[0]);
    expect(await verifyChains(repo)).toMatchObject({ checked: 1, repaired: [], problems: [] });
    // What an agent's git commands do in an attempt: harmless, the refs are not there.
    spawnSync('sh', ['-c', 'git for-each-ref --format="%(refname)" refs/ckpt | xargs -r -n1 git update-ref -d'], { cwd: dir });
    expect((await listSteps(repo)).map((s) => s.id)).toEqual(steps0);
    // Deleted inside the store itself.
    storeGit(dir, 'update-ref', '-d', repo.ref);
    expect(await listSteps(repo)).toEqual([]);
    const v1 = await verifyChains(repo);
    expect(v1.repaired).toEqual([{ ref: repo.ref, why: 'deleted', found: null, restored: steps0[0] }]);
    expect((await listSteps(repo)).map((s) => s.id)).toEqual(steps0);
    // Rewound two steps, inside the store.
    storeGit(dir, 'update-ref', repo.ref, steps0[2]!);
    const r = ckpt(dir, 'status', '--json');
    expect(r.code).toBe(0);
    const st = JSON.parse(r.stdout) as { store: { repairs: string[]; bytes: number } };
    expect(st.store.repairs).toHaveLength(1);
    expect(st.store.repairs[0]).toMatch(/was rewound .*restored to its recorded tip/);
    expect(st.store.bytes).toBe(storeBytes(repo));
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(steps0[0]);
    // Moved forward by a ckpt killed before it recorded the move: accepted and recorded, not undone.
    write(dir, { 'a.txt': '5\n' });
    const s5 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const log = path.join(repo.commonDir, 'ckpt', 'tips', `${repo.id}.log`);
    fs.writeFileSync(log, fs.readFileSync(log, 'utf8').split('\n').filter((l) => !l.includes(s5.id)).join('\n'));
    expect((await verifyChains(repo)).repaired).toEqual([]);
    expect(recordedTip(repo, repo.id)?.oid).toBe(s5.id);
  });
});

describe('a chain whose ref was deleted', () => {
  it('is put back only under the worktree lock: a reader without it sees no tip and moves nothing; the next snapshot continues the chain', async () => {
    const dir = makeRepo({ 'a.txt': '1\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'a.txt': '2\n' });
    const second = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    storeGit(dir, 'update-ref', '-d', repo.ref);
    const refFile = path.join(storeDir(dir), repo.ref);
    // A reader (the daemon's read-ahead, `ckpt diff`): no tip, and the ref is not written.
    expect((await readTip(repo)).tip).toBeNull();
    expect(fs.existsSync(refFile)).toBe(false);
    // Under the lock, the next snapshot puts it back first and builds on it.
    write(dir, { 'a.txt': '3\n' });
    const third = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    expect([third.step, third.parent]).toEqual([3, second.id]);
    expect((await listSteps(repo)).map((s) => s.step)).toEqual([3, 2, 1]);
  });
});

describe('ckpt gc in its own store', () => {
  it('refuses a cutoff that would leave no tip, and bad numbers, changing nothing', async () => {
    const dir = makeRepo({ 'a.txt': '1\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    const refs0 = storeGit(dir, 'for-each-ref');
    const later = Date.now() + 3_600_000;
    await expect(gc(repo, { olderThanMs: 60_000, now: later })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', hint: expect.stringMatching(/--keep 1/) });
    for (const bad of [0, -5, Number.NaN, Infinity]) await expect(gc(repo, { olderThanMs: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(gc(repo, { olderThan: '180' })).rejects.toMatchObject({ code: 'INVALID_DURATION', hint: expect.stringMatching(/180s, 180m/) });
    await expect(gc(repo, { keep: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(storeGit(dir, 'for-each-ref')).toBe(refs0);
    // --keep 1 says it: only the tip stays.
    expect((await gc(repo, { keep: 1, olderThanMs: 60_000, now: later })).kept).toBe(1);
  });

  it('frees the disk at once and reports what it measured; keeps the tip and what rollback --undo needs', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    const big = (n: number): string => Array.from({ length: 20_000 }, (_, i) => `${n} ${i} ${Math.sin(n * i)}`).join('\n');
    for (let n = 1; n <= 5; n++) {
      write(dir, { 'big.txt': big(n) });
      await takeSnapshot(repo, { kind: 'manual' });
    }
    write(dir, { 'a.txt': 'edited\n' });
    await rollback(repo, { target: '3' }); // steps 6 (pre-rollback) and 7 (rollback)
    const pic = picture(dir);
    const before = storeBytes(repo);
    const res = await gc(repo, { keep: 1 });
    expect(res.kept).toBe(2); // the tip, and the pre-rollback snapshot --undo restores
    expect(res.keptBecause.join()).toMatch(/rollback --undo/);
    expect(res.storeBytesBefore).toBe(before);
    expect(res.storeBytesAfter).toBe(storeBytes(repo));
    expect(res.freedBytes).toBe(before - storeBytes(repo));
    expect(res.freedBytes).toBeGreaterThan(200_000); // the dropped versions of big.txt are gone from disk now
    expect(storeGit(dir, 'count-objects', '-v')).toMatch(/^count: 0$/m);
    storeGit(dir, 'fsck', '--no-dangling', '--no-progress');
    expect((await listSteps(repo)).map((s) => s.step)).toEqual([7, 6]);
    await rollback(repo, { undo: true });
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('edited\n');
    expect(fs.readFileSync(path.join(dir, 'big.txt'), 'utf8')).toBe(big(5));
    void pic;
  });

  it('prunes the chain but leaves the store whole, and says so, while another worktree stays locked', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    for (const v of ['1', '2', '3']) {
      write(dir, { 'a.txt': `${v}\n` });
      await takeSnapshot(repo, { kind: 'manual' });
    }
    const linked = path.join(path.dirname(dir), path.basename(dir) + '-busy');
    git(dir, 'worktree', 'add', '-q', linked);
    try {
      const other = await openRepo(linked);
      await takeSnapshot(other, { kind: 'manual' });
      const { withWorktreeLock } = await import('../src/snapshot/lock.js');
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const holding = withWorktreeLock(other, () => held);
      const before = storeBytes(repo);
      const res = await gc(repo, { keep: 1, lockWaitMs: 300 });
      release();
      await holding;
      expect(res.dropped).toBe(2);
      expect(res.warnings.join()).toMatch(/not compacted.*Run `ckpt gc` again/);
      expect(res.storeBytesAfter).toBeGreaterThanOrEqual(before); // nothing removed
      storeGit(dir, 'fsck', '--no-dangling', '--no-progress');
      expect((await listSteps(other)).length).toBe(1);
      const again = await gc(repo, { keep: 1 });
      expect(again.warnings).toEqual([]);
      expect(again.freedBytes).toBeGreaterThan(0);
    } finally {
      fs.rmSync(linked, { recursive: true, force: true });
    }
  });

  it("copies into ckpt's store what a chain borrowed and the user's refs no longer keep (a staged blob later unstaged)", async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    write(dir, { 'staged.txt': 'staged, never committed\n' });
    git(dir, 'add', 'staged.txt'); // the blob is written into the user's store by the user's git
    const repo = await openRepo(dir);
    const s = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const blob = git(dir, 'rev-parse', ':staged.txt').trim();
    expect(fs.existsSync(path.join(storeDir(dir), 'objects', blob.slice(0, 2), blob.slice(2)))).toBe(false); // borrowed
    await gc(repo, { keep: 10 });
    git(dir, 'rm', '-q', '--cached', 'staged.txt');
    fs.rmSync(path.join(dir, 'staged.txt'));
    git(dir, 'gc', '--prune=now', '-q');
    expect(spawnSync('git', ['cat-file', '-e', blob], { cwd: dir }).status).not.toBe(0); // gone from the user's store
    expect(storeGit(dir, 'cat-file', 'blob', `${s.tree}:staged.txt`)).toBe('staged, never committed\n');
    storeGit(dir, 'fsck', '--no-dangling', '--no-progress');
  });
});

describe("a ref's lock file in ckpt's store", () => {
  it('left by a git killed mid-update is removed and the snapshot recorded; one held by a live update is waited for, never taken', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    const lock = path.join(storeDir(dir), `${repo.ref}.lock`);
    // Stale: what `git update-ref` killed with SIGKILL leaves behind.
    fs.writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    write(dir, { 'a.txt': 'b\n' });
    const second = await takeSnapshot(repo, { kind: 'manual' });
    expect(second.created).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(second.snapshot.id);
    // Fresh and kept fresh: a live holder. The update waits, then says the ref was busy; the lock stays.
    fs.writeFileSync(lock, '');
    const keepFresh = setInterval(() => fs.utimesSync(lock, new Date(), new Date()), 200);
    try {
      write(dir, { 'a.txt': 'c\n' });
      await expect(takeSnapshot(repo, { kind: 'manual' })).rejects.toMatchObject({ code: 'REF_RACE' });
      expect(fs.existsSync(lock)).toBe(true);
      expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(second.snapshot.id);
    } finally {
      clearInterval(keepFresh);
      fs.rmSync(lock, { force: true });
    }
    expect((await takeSnapshot(repo, { kind: 'manual' })).created).toBe(true);
  }, 60_000);
});

/**
 * Gives the user's index a new mtime, so ckpt sees it changed whatever the
 * clock's granularity (a rewrite in the same tick on a reused inode looks
 * the same otherwise, and no new index commit would be cached).
 */
function bumpIndex(dir: string, n: number): void {
  const t = new Date(Date.now() + n * 60_000);
  fs.utimesSync(path.join(dir, '.git', 'index'), t, t);
}

describe('ckpt gc beside another worktree', () => {
  it("keeps the index commit a worktree cached but no snapshot names yet", async () => {
    const dir = makeRepo({ 'readme.md': 'r\n' });
    expect(ckpt(dir, 'snap').code).toBe(0);
    write(dir, { 'readme.md': 'r\nx\n' });
    expect(ckpt(dir, 'snap').code).toBe(0);
    // The user's index changes (same content, new stat data): the next snap
    // records nothing but caches a new index commit that no ref holds yet.
    git(dir, 'add', 'readme.md');
    git(dir, 'reset', '-q', 'readme.md');
    bumpIndex(dir, 1);
    expect(ckpt(dir, 'snap').stdout).toMatch(/nothing changed/);
    const wt = path.join(tempDir(), 'wt');
    git(dir, 'worktree', 'add', '-q', wt);
    try {
      write(wt, { a: 'a\n' });
      expect(ckpt(wt, 'snap').code).toBe(0);
      write(wt, { b: 'b\n' });
      expect(ckpt(wt, 'snap').code).toBe(0);
      expect(ckpt(wt, 'gc', '--keep', '1').code).toBe(0); // compacts the whole store
      write(dir, { 'readme.md': 'r\nx\ny\n' });
      const r = ckpt(dir, 'snap');
      expect(r.code, r.stderr).toBe(0);
      storeGit(dir, 'fsck', '--connectivity-only', '--no-dangling', '--no-progress');
      expect(ckpt(dir, 'gc', '--keep', '2').code).toBe(0);
      expect(ckpt(dir, 'rollback', '--', 'readme.md').code).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'readme.md'), 'utf8')).toBe('r\nx\n');
    } finally {
      git(dir, 'worktree', 'remove', '--force', wt);
    }
  }, 180_000);
});

describe('races and the two stores', () => {
  it("an attempt's chain pruned by ckpt gc, then the user's git gc --prune=now: race diff and race pick still have the attempt", async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('gcrace', ['claude', 'codex']);
    const diffs0 = await attemptDiffs(repo, race);
    const arepo = await openRepo(worktrees.claude!);
    await gc(arepo, { keep: 1 });
    git(dir, 'reflog', 'expire', '--expire=now', '--all');
    git(dir, 'gc', '--prune=now', '-q');
    const again = resolveRace(repo, race.id);
    expect((await attemptSnapshot(repo, again.attempts[0]!))?.id).toBe(race.attempts[0]!.final);
    expect(await attemptDiffs(repo, again)).toEqual(diffs0);
    const pick = await pickAttempt(again, 'claude');
    expect(pick.changes.length).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(dir, 'src/extra.ts'), 'utf8')).toBe(fs.readFileSync(path.join(worktrees.claude!, 'src/extra.ts'), 'utf8'));
  });

  it("race pick --merge and --branch copy the winner's objects into the user's repository: git fsck is clean, also after git gc --prune=now", async () => {
    const { dir, repo, race } = await makeFakeRace('merge', ['claude', 'codex']);
    const userObjects0 = Number(/^count: (\d+)$/m.exec(git(dir, 'count-objects', '-v'))![1]);
    const b = await pickAttempt(resolveRace(repo, race.id), 'codex', { mode: 'branch', branch: 'try-codex' });
    expect(git(dir, 'show', 'try-codex:src/util.ts')).toContain('twice');
    const m = await pickAttempt(resolveRace(repo, race.id), 'claude', { mode: 'merge' });
    expect(m.commit).toBeTruthy();
    git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
    expect(Number(/^count: (\d+)$/m.exec(git(dir, 'count-objects', '-v'))![1])).toBeGreaterThan(userObjects0);
    // Nothing of ckpt's store is needed any more by the user's refs.
    git(dir, 'reflog', 'expire', '--expire=now', '--all');
    git(dir, 'gc', '--prune=now', '-q');
    git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
    expect(spawnSync('git', ['cat-file', '-e', `${b.commit}^{tree}`], { cwd: dir }).status).toBe(0);
    expect(git(dir, 'show', 'HEAD:src/extra.ts')).toBe(fs.readFileSync(path.join(dir, 'src/extra.ts'), 'utf8'));
  });
});

describe('GIT_DIR and GIT_WORK_TREE from the environment', () => {
  it('resolve as git does, also from a directory outside the worktree: the snapshot is of that worktree', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    write(dir, { 'u.txt': 'untracked\n' });
    const elsewhere = path.join(path.dirname(dir), path.basename(dir) + '-elsewhere');
    fs.mkdirSync(elsewhere);
    try {
      const env = { ...process.env, GIT_DIR: path.join(dir, '.git'), GIT_WORK_TREE: dir };
      const index0 = indexBytes(dir);
      const r = spawnSync(process.execPath, [CLI, 'snap', '--json'], { cwd: elsewhere, encoding: 'utf8', env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as { snapshot: { tree: string; worktree: string } };
      expect(out.snapshot.worktree).toBe(dir);
      expect(storeGit(dir, 'ls-tree', '--name-only', out.snapshot.tree).split('\n').filter(Boolean).sort()).toEqual(['a.txt', 'u.txt']);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
      expect(indexBytes(dir).equals(index0)).toBe(true);
      // A bare repository stays refused, GIT_DIR or not.
      const bare = path.join(elsewhere, 'bare.git');
      git(elsewhere, 'init', '-q', '--bare', bare);
      const b = spawnSync(process.execPath, [CLI, 'snap'], { cwd: elsewhere, encoding: 'utf8', env: { ...process.env, GIT_DIR: bare } });
      expect(b.status).not.toBe(0);
      expect(b.stderr).toMatch(/BARE_REPO|no worktree/);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('race clean and borrowed objects', () => {
  it("an agent's own commit in its attempt, then race clean and the user's git gc --prune=now: the attempt's snapshot stays whole", async () => {
    const { dir, repo, race, worktrees } = await makeFakeRace('borrow', ['claude']);
    const wt = worktrees.claude!;
    write(wt, { 'agent.txt': 'committed by the agent\n' });
    git(wt, 'add', 'agent.txt');
    git(wt, 'commit', '-q', '-m', 'agent commit'); // blob, tree and commit go to the user's store
    const arepo = await openRepo(wt);
    const s = (await takeSnapshot(arepo, { kind: 'after', agent: 'claude' })).snapshot;
    const r = resolveRace(repo, race.id);
    r.attempts[0]!.final = s.id;
    const { cleanRace } = await import('../src/race/clean.js');
    const res = await cleanRace(repo, r);
    expect(res.attempts[0]!.removed).toBe(true);
    git(dir, 'reflog', 'expire', '--expire=now', '--all');
    git(dir, 'gc', '--prune=now', '-q');
    expect(spawnSync('git', ['cat-file', '-e', s.head!], { cwd: dir }).status).not.toBe(0); // the agent's commit left the user's store
    storeGit(dir, 'fsck', '--no-dangling', '--no-progress');
    expect(storeGit(dir, 'cat-file', 'blob', `${s.tree}:agent.txt`)).toBe('committed by the agent\n');
    expect(storeGit(dir, 'cat-file', '-t', s.head!).trim()).toBe('commit');
  });
});

describe('a race agent erasing chains', () => {
  it('through the repository: harmless; inside ckpt\'s store: every chain put back at the end of the race, and said', async () => {
    const { raceRepo, agentConfig } = await import('./support/race.js');
    const { planRace } = await import('../src/race/plan.js');
    const { runRace } = await import('../src/race/run.js');
    const { dir, worktrees } = raceRepo();
    const eraseRepo = 'git for-each-ref --format="%(refname)" refs/ckpt | xargs -r -n1 git update-ref -d; echo one > one.txt';
    const eraseStore = 'S="$(git rev-parse --path-format=absolute --git-common-dir)/ckpt/shadow"; git --git-dir="$S" for-each-ref --format="%(refname)" refs/ckpt | xargs -r -n1 git --git-dir="$S" update-ref -d; echo two > two.txt';
    const cfg = agentConfig({ race: { worktreeDir: worktrees } }) as { agents: Record<string, unknown> };
    cfg.agents['erase-repo'] = { command: ['sh', '-c', eraseRepo] };
    cfg.agents['erase-store'] = { command: ['sh', '-c', eraseStore] };
    write(dir, { '.ckpt/config.json': JSON.stringify(cfg) });
    // The user's own chain, with history.
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    write(dir, { 'README.md': '# app, edited\n' });
    await takeSnapshot(repo, { kind: 'manual' });
    const plan = await planRace({ cwd: dir, task: 'erase', models: 'erase-repo', ckptBin: CLI });
    const race1 = await runRace(plan, { ckptBin: CLI });
    expect(race1.attempts[0]!.state).toBe('done');
    expect(race1.warnings.filter((w) => /restored/.test(w))).toEqual([]); // nothing to repair: the refs were never there
    const mine0 = (await listSteps(repo)).map((s) => s.id);
    const plan2 = await planRace({ cwd: dir, task: 'erase', models: 'erase-store', ckptBin: CLI });
    const race2 = await runRace(plan2, { ckptBin: CLI });
    expect(race2.attempts[0]!.state).toBe('done');
    // The user's chain (and the attempts') are back, and the race said so.
    expect(race2.warnings.join('\n')).toMatch(new RegExp(`${repo.ref.replace(/[/]/g, '\\/')} was deleted.*restored`));
    expect((await listSteps(repo)).map((s) => s.id)).toEqual(mine0);
    // The attempt's own chain kept its base: its final snapshot was not a new chain over the deleted one.
    const a2 = await openRepo(race2.attempts[0]!.dir);
    expect((await listSteps(a2)).map((s) => s.kind).at(-1)).toBe('base');
    expect(storeGit(dir, 'rev-parse', a2.ref).trim()).toBe(recordedTip(repo, a2.id)!.oid);
  }, 120_000);
});
