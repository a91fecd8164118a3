/**
 * git/pack-read.ts: objects read from ckpt's packs in process. Shown here:
 * every object of a pack as git/pack.ts writes it (stored zlib, the daemon's
 * step, and deflated), blobs of 0 bytes to several stored blocks and a
 * tree, comes back byte for byte as `git cat-file` gives it, SHA-1 and
 * SHA-256; `maxBytes`, an unknown id and a damaged pack give `undefined`
 * (the caller asks git), never wrong bytes; a pack git wrote with deltas
 * (against an offset, as `git repack` writes them, and against an id, as
 * `git pack-objects` does by default) gives git's bytes for every object,
 * deltas included, and `undefined` once a delta's base is damaged. Only
 * the hash can tell two blobs of one size whose offsets were swapped in the
 * index (each inflates right): neither is returned. A damaged entry size
 * stops zlib at that size; a delta past `maxBytes` inflates no base. One
 * PackReader sizes every object from its entry's header (a delta's from its
 * own, inflating only its first bytes) as git does; one for many objects inflates each entry of a chain once (its
 * cache), and gives the same bytes with a cache too small to keep any.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { openRepo } from '../src/index.js';
import { buildPack, type PackObject } from '../src/git/pack.js';
import { PackReader, readPackedObject } from '../src/git/pack-read.js';
import { shadowObjectsDir } from '../src/git/shadow.js';
import { git, makeRepo, storeGit, storeGitBuf } from './support/repo.js';

/** The length of every stream git/pack-read.ts inflated (node:zlib's inflateSync, passed through). */
const inflated = vi.hoisted(() => [] as number[]);
vi.mock('node:zlib', async (importOriginal) => {
  const z = await importOriginal<typeof import('node:zlib')>();
  const inflateSync = (buf: Buffer, opts?: import('node:zlib').ZlibOptions): Buffer => {
    const out = z.inflateSync(buf, opts);
    inflated.push(out.length);
    return out;
  };
  return { ...z, default: { ...z, inflateSync }, inflateSync };
});
beforeEach(() => {
  inflated.length = 0;
});

/** A pack's version 2 index: its ids in order, and where the 31-bit offset of the i-th is. */
function idxEntries(idx: Buffer, hashLen: number): { ids: string[]; offsetAt: (i: number) => number } {
  const count = idx.readUInt32BE(8 + 1020);
  const ids = Array.from({ length: count }, (_, i) => idx.subarray(8 + 1024 + i * hashLen, 8 + 1024 + (i + 1) * hashLen).toString('hex'));
  return { ids, offsetAt: (i) => 8 + 1024 + count * hashLen + count * 4 + i * 4 };
}

/** The object as git stores it: its id in `format`. */
function objectOf(type: PackObject['type'], content: Buffer, dir: string): PackObject {
  const oid = execFileSync('git', ['hash-object', '-t', type, '--stdin', '--literally'], { cwd: dir, input: content, encoding: 'utf8' }).trim();
  return { oid, type, content };
}

describe('objects read from ckpt packs in process', () => {
  for (const format of ['sha1', 'sha256'] as const) {
    for (const level of [0, 6]) {
      it(`reads every object of a pack git/pack.ts writes (${format}, zlib level ${level})`, async () => {
        const dir = makeRepo({ 'a.txt': 'a\n' }, { commit: false });
        if (format === 'sha256') {
          fs.rmSync(path.join(dir, '.git'), { recursive: true });
          git(dir, 'init', '-q', '--object-format=sha256');
        }
        const repo = await openRepo(dir);
        const blobs = [Buffer.alloc(0), Buffer.from('hello\n'), randomBytes(70_000), Buffer.alloc(200_000, 'x'), randomBytes(5)];
        const objects = blobs.map((b) => objectOf('blob', b, dir));
        const tree = Buffer.concat([Buffer.from('100644 a.txt\0'), Buffer.from(objects[1]!.oid, 'hex')]);
        objects.push(objectOf('tree', tree, dir));
        const built = buildPack(objects, format, level);
        const packDir = path.join(shadowObjectsDir(repo), 'pack');
        fs.mkdirSync(packDir, { recursive: true });
        fs.writeFileSync(path.join(packDir, `pack-${built.name}.pack`), built.pack);
        fs.writeFileSync(path.join(packDir, `pack-${built.name}.idx`), built.idx);
        for (const o of objects) {
          const got = readPackedObject(repo, o.oid);
          expect(got?.type, o.oid).toBe(o.type);
          expect(got!.content.equals(storeGitBuf(dir, 'cat-file', o.type, o.oid)), o.oid).toBe(true);
        }
        // Too large for the bound, an id no pack holds, an id of the other length: git answers.
        expect(readPackedObject(repo, objects[3]!.oid, 1000)).toBeUndefined();
        expect(readPackedObject(repo, objects[1]!.oid.replace(/^./, (c) => (c === '0' ? '1' : '0')))).toBeUndefined();
        expect(readPackedObject(repo, 'ab')).toBeUndefined();
        // A byte of a blob's content flipped in the pack: it no longer hashes to its id.
        const pack = fs.readFileSync(path.join(packDir, `pack-${built.name}.pack`));
        const at = pack.indexOf(Buffer.from('hello\n'));
        if (at >= 0) {
          pack[at] = 0x48;
          fs.writeFileSync(path.join(packDir, `pack-${built.name}.pack`), pack);
          expect(readPackedObject(repo, objects[1]!.oid)).toBeUndefined();
        } else expect(level).not.toBe(0); // stored blocks keep the bytes as they are
      });
    }
  }

  it('never returns another object than the one named: two blobs of one size with their offsets swapped in the index (zlib checks nothing there, only the hash)', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' }, { commit: false });
    const repo = await openRepo(dir);
    for (const level of [0, 6]) {
      const objects = [objectOf('blob', Buffer.from(`first ${level}\n`), dir), objectOf('blob', Buffer.from(`other ${level}\n`), dir)];
      const built = buildPack(objects, 'sha1', level);
      const packDir = path.join(shadowObjectsDir(repo), 'pack');
      fs.mkdirSync(packDir, { recursive: true });
      const { ids, offsetAt } = idxEntries(built.idx, 20);
      const [i, j] = [ids.indexOf(objects[0]!.oid), ids.indexOf(objects[1]!.oid)];
      const idx = Buffer.from(built.idx);
      const [a, b] = [idx.readUInt32BE(offsetAt(i)), idx.readUInt32BE(offsetAt(j))];
      idx.writeUInt32BE(b, offsetAt(i));
      idx.writeUInt32BE(a, offsetAt(j));
      fs.writeFileSync(path.join(packDir, `pack-${built.name}.pack`), built.pack);
      fs.writeFileSync(path.join(packDir, `pack-${built.name}.idx`), idx);
      // Each entry inflates whole and right; it is only the other object.
      for (const o of objects) expect(readPackedObject(repo, o.oid), `${o.oid} (level ${level})`).toBeUndefined();
      expect(inflated.length).toBeGreaterThan(0);
      fs.rmSync(packDir, { recursive: true });
    }
  });

  it('inflates no more than an entry header says: a damaged size stops zlib there', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' }, { commit: false });
    const repo = await openRepo(dir);
    const blob = objectOf('blob', Buffer.alloc(1 << 20), dir);
    const built = buildPack([blob], 'sha1', 6);
    const { offsetAt } = idxEntries(built.idx, 20);
    const at = built.idx.readUInt32BE(offsetAt(0));
    // 1 MiB takes four header bytes; the same four now say 2000 (a continuation byte that adds nothing), enough to read its whole ~1 KiB stream.
    expect(built.pack.subarray(at, at + 4)).toEqual(Buffer.from([0xb0, 0x80, 0x80, 0x04]));
    const pack = Buffer.from(built.pack);
    pack.set([0xb0, 0xfd, 0x80, 0x00], at);
    const packDir = path.join(shadowObjectsDir(repo), 'pack');
    fs.mkdirSync(packDir, { recursive: true });
    fs.writeFileSync(path.join(packDir, `pack-${built.name}.pack`), pack);
    fs.writeFileSync(path.join(packDir, `pack-${built.name}.idx`), built.idx);
    expect(readPackedObject(repo, blob.oid)).toBeUndefined();
    expect(Math.max(0, ...inflated)).toBeLessThanOrEqual(2000);
  });

  for (const ofs of [true, false]) {
    it(`reads deltas of a pack git wrote (against ${ofs ? 'an offset' : 'an id'})`, async () => {
      const dir = makeRepo({ 'a.txt': 'a\n' });
      const repo = await openRepo(dir);
      const store = path.dirname(shadowObjectsDir(repo));
      const base = randomBytes(8000).toString('hex');
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const content = `${base.slice(0, 4000 + i * 10)}edit ${i}\n${base.slice(4000 + i * 10)}`;
        ids.push(execFileSync('git', [`--git-dir=${store}`, 'hash-object', '-w', '--stdin'], { cwd: dir, input: content, encoding: 'utf8' }).trim());
      }
      const packDir = path.join(shadowObjectsDir(repo), 'pack');
      fs.mkdirSync(packDir, { recursive: true });
      const name = execFileSync('git', [`--git-dir=${store}`, 'pack-objects', '-q', '--window=20', ...(ofs ? ['--delta-base-offset'] : []), path.join(packDir, 'pack')], { cwd: dir, input: ids.join('\n') + '\n', encoding: 'utf8' }).trim();
      // Only the pack holds them: the loose copies go.
      storeGit(dir, 'prune-packed', '-q');
      const verify = storeGit(dir, 'verify-pack', '-v', path.join(packDir, `pack-${name}.idx`));
      const deltas = verify.split('\n').filter((l) => /^[0-9a-f]{40} blob\s+\d+ \d+ \d+ \d+ [0-9a-f]{40}/.test(l)).map((l) => l.slice(0, 40));
      expect(deltas.length).toBeGreaterThan(0);
      for (const id of ids) {
        const got = readPackedObject(repo, id);
        expect(got?.type, id).toBe('blob');
        expect(got!.content.equals(storeGitBuf(dir, 'cat-file', 'blob', id)), id).toBe(true);
      }
      // A delta's base damaged (its first stored byte flipped): the delta no longer gives its object.
      const line = verify.split('\n').find((l) => l.startsWith(deltas[0]!))!;
      const baseId = line.trim().split(/\s+/).at(-1)!;
      const baseLine = verify.split('\n').find((l) => l.startsWith(baseId))!;
      const [, , , , offset] = baseLine.trim().split(/\s+/);
      const packFile = path.join(packDir, `pack-${name}.pack`);
      const pack = fs.readFileSync(packFile);
      // Sizes and types from the entries' headers alone (a delta's from its own header and its chain's end): git's.
      const sizer = new PackReader(repo);
      inflated.length = 0;
      for (const id of ids) expect(sizer.header(id), id).toEqual({ type: 'blob', size: Number(storeGit(dir, 'cat-file', '-s', id)) });
      expect(sizer.header(ids[0]!.replace(/^./, (c) => (c === '0' ? '1' : '0')))).toBeUndefined();
      sizer.close();
      expect(Math.max(0, ...inflated)).toBeLessThan(100);
      // One reader for all (a restore's): each entry inflated once, the chains' bases from its cache; with a cache too small for any, the same bytes.
      for (const cacheBytes of [undefined, 100]) {
        inflated.length = 0;
        const reader = new PackReader(repo, cacheBytes);
        for (const id of ids) expect(reader.read(id)?.content.equals(storeGitBuf(dir, 'cat-file', 'blob', id)), id).toBe(true);
        reader.close();
        if (cacheBytes === undefined) expect(inflated).toHaveLength(ids.length);
        else expect(inflated.length).toBeGreaterThan(ids.length);
      }
      // A delta whose result is past the bound: refused from its own header, its base never inflated.
      inflated.length = 0;
      expect(readPackedObject(repo, deltas[0]!, 1000)).toBeUndefined();
      expect(inflated).toHaveLength(1);
      pack[Number(offset) + 4]! ^= 0xff;
      fs.writeFileSync(packFile, pack);
      expect(readPackedObject(repo, deltas[0]!)).toBeUndefined();
    });
  }
});
