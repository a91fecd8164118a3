/**
 * The chain's ref moved in process with git's lockfile protocol
 * (git/store.ts), and the daemon's objects written from pre-created
 * temporary files (git/temp-pool.ts): git reads both as its own (rev-parse,
 * reflog, cat-file, `fsck --strict`), a compare-and-swap that fails changes
 * nothing and leaves no lock, and a pool leaves no file behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot } from '../src/index.js';
import { updateStoreRef } from '../src/git/store.js';
import { TempPool } from '../src/git/temp-pool.js';
import { storePacks } from '../src/git/pack-fold.js';
import { IncrementalContext } from '../src/snapshot/incremental.js';
import { takeSnapshotOfChanges } from '../src/snapshot/take-changes.js';
import { makeRepo, storeDir, storeGit, write } from './support/repo.js';

describe("the chain's ref, written in process", () => {
  it('is what git reads: the value, a reflog line per move with its reason, fsck --strict clean; a failed compare-and-swap changes nothing and leaves no lock', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    const first = await takeSnapshot(repo, { kind: 'manual', message: 'one' });
    write(dir, { 'a.txt': 'b\n' });
    const second = await takeSnapshot(repo, { kind: 'manual', message: 'two' });
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(second.snapshot.id);
    const reflog = storeGit(dir, 'reflog', 'show', '--format=%H %gs', repo.ref).trim().split('\n');
    expect(reflog).toEqual([`${second.snapshot.id} ckpt: manual step 2`, `${first.snapshot.id} ckpt: manual step 1`]);
    // The raw reflog line is git's format: old new ident<TAB>message.
    const raw = fs.readFileSync(path.join(storeDir(dir), 'logs', repo.ref), 'utf8').trim().split('\n');
    expect(raw[1]).toMatch(new RegExp(`^${first.snapshot.id} ${second.snapshot.id} ckpt <ckpt@localhost> \\d+ \\+0000\\tckpt: manual step 2$`));
    storeGit(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');

    // Expected value wrong: refused, nothing moved, no lock left.
    expect(await updateStoreRef(repo, repo.ref, first.snapshot.id, first.snapshot.id, 'wrong expectation')).toBe(false);
    expect(await updateStoreRef(repo, repo.ref, first.snapshot.id, null, 'must not exist')).toBe(false);
    expect(storeGit(dir, 'rev-parse', repo.ref).trim()).toBe(second.snapshot.id);
    expect(fs.existsSync(path.join(storeDir(dir), `${repo.ref}.lock`))).toBe(false);
    expect(storeGit(dir, 'reflog', 'show', '--format=%H', repo.ref).trim().split('\n')).toHaveLength(2);

    // A new ref, created from nothing; then git itself moves it, and we move it after git.
    const other = 'refs/ckpt/test/other';
    expect(await updateStoreRef(repo, other, first.snapshot.id, null, 'created')).toBe(true);
    storeGit(dir, 'update-ref', other, second.snapshot.id, first.snapshot.id);
    expect(await updateStoreRef(repo, other, first.snapshot.id, second.snapshot.id, 'after git')).toBe(true);
    expect(storeGit(dir, 'rev-parse', other).trim()).toBe(first.snapshot.id);
    // A packed ref is read as its value (git pack-refs), and overridden by the loose file git-style.
    storeGit(dir, 'pack-refs', '--all');
    expect(await updateStoreRef(repo, other, second.snapshot.id, second.snapshot.id, 'wrong, packed')).toBe(false);
    expect(await updateStoreRef(repo, other, second.snapshot.id, first.snapshot.id, 'over the packed value')).toBe(true);
    expect(storeGit(dir, 'rev-parse', other).trim()).toBe(second.snapshot.id);
    storeGit(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
  });
});

describe("the daemon's objects, from pre-created temporary files", () => {
  it('are whole objects git reads (a pack and a loose commit: cat-file, fsck --strict, read-only), also when a pooled file vanished; closing the pool leaves no file', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'd/e/f.txt': 'f\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    const pool = TempPool.open(repo, 8);
    const ctx = await IncrementalContext.open(repo);
    const poolDir = path.join(storeDir(dir), 'tmp-pool');
    try {
      await pool.refill(true);
      expect(fs.readdirSync(poolDir)).toHaveLength(8);
      write(dir, { 'a.txt': 'changed\n', 'd/e/f.txt': 'changed too\n', 'd/new.txt': 'new\n' });
      const res = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, ['a.txt', 'd/e/f.txt', 'd/new.txt']);
      expect(res.fullRead).toBeNull();
      expect(res.snapshot.message).toBe('M a.txt, M d/e/f.txt, A d/new.txt'); // the summary from the in-process diff, in git's order
      expect(storeGit(dir, 'cat-file', '-p', `${res.snapshot.id}:d/e/f.txt`)).toBe('changed too\n');
      // Its six blobs and trees in one pack (pack and index read-only), its commit loose (read-only).
      const packs = storePacks(repo);
      expect(packs).toHaveLength(1);
      for (const ext of ['pack', 'idx']) expect(fs.statSync(path.join(storeDir(dir), 'objects', 'pack', `pack-${packs[0]!.name}.${ext}`)).mode & 0o777).toBe(0o444);
      const commit = path.join(storeDir(dir), 'objects', res.snapshot.id.slice(0, 2), res.snapshot.id.slice(2));
      expect(fs.statSync(commit).mode & 0o777).toBe(0o444);
      // A pooled file removed under the pool (by hand, a prune): the object is still written.
      await pool.refill(false);
      for (const f of fs.readdirSync(poolDir)) fs.rmSync(path.join(poolDir, f));
      write(dir, { 'a.txt': 'third\n' });
      const third = await takeSnapshotOfChanges(repo, { kind: 'auto', force: true }, ctx, ['a.txt']);
      expect(storeGit(dir, 'cat-file', '-p', `${third.snapshot.id}:a.txt`)).toBe('third\n');
      storeGit(dir, 'fsck', '--strict', '--no-dangling', '--no-progress');
    } finally {
      ctx.close();
      await pool.refill(false);
      pool.close();
    }
    expect(fs.readdirSync(poolDir)).toEqual([]);
  });

  it('are made again once used, also after a refill was asked for while the pool was full (it used to be never refilled then)', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const repo = await openRepo(dir);
    await takeSnapshot(repo, { kind: 'manual' });
    const pool = TempPool.open(repo, 4);
    const poolDir = path.join(storeDir(dir), 'tmp-pool');
    try {
      await pool.refill(true);
      await pool.refill(false); // full: nothing to do
      const taken = [pool.take(), pool.take(), pool.take(), pool.take()];
      expect(taken.every((t) => t !== null)).toBe(true);
      for (const t of taken) {
        fs.closeSync(t!.fd);
        fs.rmSync(t!.path);
      }
      await pool.refill(false);
      expect(fs.readdirSync(poolDir)).toHaveLength(4);
      const again = pool.take();
      expect(again).not.toBeNull();
      fs.closeSync(again!.fd);
      fs.rmSync(again!.path);
      await pool.refill(false);
    } finally {
      pool.close();
    }
    expect(fs.readdirSync(poolDir)).toEqual([]);
  });
});
