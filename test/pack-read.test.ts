/**
 * git/pack-read.ts: objects read from ckpt's packs in process. Shown here:
 * every object of a pack as git/pack.ts writes it (stored zlib, the daemon's
 * step, and deflated), blobs of 0 bytes to several stored blocks and a
 * tree, comes back byte for byte as `git cat-file` gives it, SHA-1 and
 * SHA-256; `maxBytes`, an unknown id and a damaged pack give `undefined`
 * (the caller asks git), never wrong bytes; a pack git wrote with deltas
 * (against an offset, as `git repack` writes them, and against an id, as
 * `git pack-objects` does by default) gives git's bytes for every object,
 * deltas included, and `undefined` once a delta's base is damaged.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo } from '../src/index.js';
import { buildPack, type PackObject } from '../src/git/pack.js';
import { readPackedObject } from '../src/git/pack-read.js';
import { shadowObjectsDir } from '../src/git/shadow.js';
import { git, makeRepo, storeGit, storeGitBuf } from './support/repo.js';

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
      pack[Number(offset) + 4]! ^= 0xff;
      fs.writeFileSync(packFile, pack);
      expect(readPackedObject(repo, deltas[0]!)).toBeUndefined();
    });
  }
});
