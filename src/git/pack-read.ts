/**
 * Reading an object from packs in process: ckpt's own (the daemon's steps
 * write their blobs and trees as packs: git/pack.ts; a fold rewrites them
 * with git) and the repository's (what the user committed), so a rollback
 * of a few files starts no `git cat-file` for their contents (~9-15 ms a
 * process here, more under load).
 *
 * Formats as git writes them (gitformat-pack(5)): the version 2 index (the
 * 256-entry fan-out, the sorted ids, the CRC-32s, 31-bit offsets with a
 * 64-bit table) is searched with a few positioned reads, never read whole;
 * the entry at the offset is a type-and-size header and a zlib stream: a
 * whole object (commit, tree, blob, tag), or a delta against an earlier
 * entry (`OFS_DELTA`) or an id in the same pack (`REF_DELTA`), applied to
 * its base read the same way. Anything else (a base in another pack, a
 * chain deeper than git makes, a pack of another version, an unreadable
 * file) is `undefined`, and the caller asks git. What is returned has been
 * hashed and is the object named: a damaged pack, or a delta this module
 * got wrong, is never trusted.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import type { LooseObject } from './loose.js';
import type { Repo } from './repo-type.js';
import { shadowObjectsDir } from './shadow.js';

/** An object as stored, loose or packed: its type and its bytes. */
export type StoredObject = LooseObject;

const TYPES = [null, 'commit', 'tree', 'blob', 'tag'] as const;

/**
 * The object `oid` from one of the packs of ckpt's store or of the
 * repository, when it is at most `maxBytes` long: one read by a
 * {@link PackReader} of its own (a caller that reads many uses one reader).
 *
 * @returns the object, verified by its hash; `undefined` when no pack
 *   gives it (absent, too large, a delta this does not read, a pack that
 *   cannot be read or does not hash right): the caller asks git. Never throws.
 */
export function readPackedObject(repo: Repo, oid: string, maxBytes = Infinity): StoredObject | undefined {
  const reader = new PackReader(repo);
  try {
    return reader.read(oid, maxBytes);
  } finally {
    reader.close();
  }
}

/** How many bytes of resolved entries (delta bases) a {@link PackReader} keeps by default. */
const CACHE_BYTES = 32 * 1024 * 1024;

/** One pack as a reader holds it: its files open, its index's fan-out read once. */
interface HeldPack extends OpenPack {
  idxFd: number;
  fan: Buffer;
  count: number;
}

/**
 * Reads objects from the packs of ckpt's store and of the repository, for
 * one short task (a restore): the packs are listed and each index opened
 * once, at the first read; the entries a delta chain resolves are kept by
 * (pack, offset), at most `cacheBytes` of them (the oldest dropped first),
 * so the objects of one chain (a fold's deltas, git's default depth 50)
 * inflate each entry once, not their whole chain each. A pack written after
 * the listing is not seen (its objects are `undefined`: git reads them); one
 * removed meanwhile (a fold) is still read through its open files.
 * {@link close} closes them.
 */
export class PackReader {
  private packs: HeldPack[] | null = null;
  private readonly cache = new Map<string, StoredObject>();
  private cached = 0;

  constructor(
    private readonly repo: Repo,
    private readonly cacheBytes = CACHE_BYTES,
  ) {}

  /**
   * The object `oid`, at most `maxBytes` long: see {@link readPackedObject}.
   * Never throws.
   */
  read(oid: string, maxBytes = Infinity): StoredObject | undefined {
    if (oid.length !== this.repo.zeroOid.length || !/^[0-9a-f]+$/.test(oid)) return undefined;
    const id = Buffer.from(oid, 'hex');
    for (const [n, pack] of this.list().entries()) {
      let got: StoredObject | 'absent' | undefined;
      try {
        got = this.readFrom(n, pack, id, maxBytes);
      } catch {
        got = undefined; // unreadable: git answers
      }
      if (got === 'absent') continue;
      return got;
    }
    return undefined;
  }

  /**
   * The type and size of `oid` from its pack entry's header, without
   * inflating the object: a whole entry's size is in its header; a delta's
   * is the second number of the delta (the first bytes of its stream) and
   * its type that of the end of its chain (headers only). Undefined when no
   * pack lists it or its entry is not one this reads. Never throws.
   */
  header(oid: string): { type: StoredObject['type']; size: number } | undefined {
    if (oid.length !== this.repo.zeroOid.length || !/^[0-9a-f]+$/.test(oid)) return undefined;
    const id = Buffer.from(oid, 'hex');
    for (const pack of this.list()) {
      try {
        const offset = findOffset(pack, id);
        if (offset === null) continue;
        return entryHeader(pack, offset);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** Closes the packs' files and drops the cache. */
  close(): void {
    for (const p of this.packs ?? []) {
      closeQuietly(p.fd);
      closeQuietly(p.idxFd);
    }
    this.packs = [];
    this.cache.clear();
    this.cached = 0;
  }

  /** The packs, listed and opened at the first call (one that cannot be opened or is no version 2 index is left out). */
  private list(): HeldPack[] {
    if (this.packs) return this.packs;
    this.packs = [];
    for (const dir of [path.join(shadowObjectsDir(this.repo), 'pack'), path.join(this.repo.commonDir, 'objects', 'pack')]) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue; // no packs there
      }
      for (const n of names) {
        if (!/^pack-[0-9a-f]+\.idx$/.test(n)) continue;
        const held = openPack(path.join(dir, n.slice(0, -4)), this.repo.zeroOid.length / 2);
        if (held) this.packs.push(held);
      }
    }
    return this.packs;
  }

  /** The object from pack number `n`: 'absent' when its index does not list it. */
  private readFrom(n: number, pack: HeldPack, id: Buffer, maxBytes: number): StoredObject | 'absent' | undefined {
    const offset = findOffset(pack, id);
    if (offset === null) return 'absent';
    const got = readEntry(pack, offset, maxBytes, 0, {
      get: (at) => this.cache.get(`${n}:${at}`),
      put: (at, obj) => this.keep(`${n}:${at}`, obj),
    });
    if (!got) return undefined;
    const h = createHash(this.repo.objectFormat === 'sha256' ? 'sha256' : 'sha1');
    h.update(`${got.type} ${got.content.length}\0`);
    h.update(got.content);
    // Whatever the pack held (a damaged entry, a delta resolved wrong), only the object named is returned.
    return h.digest().equals(id) ? got : undefined;
  }

  /** Keeps a resolved entry, dropping the oldest past the bound (one larger than the bound is not kept). */
  private keep(key: string, obj: StoredObject): void {
    if (obj.content.length > this.cacheBytes || this.cache.has(key)) return;
    this.cache.set(key, obj);
    this.cached += obj.content.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= this.cacheBytes) break;
      this.cache.delete(k);
      this.cached -= v.content.length;
    }
  }
}

/** Opens `base`.pack and `base`.idx and reads the index's fan-out; null when either cannot be, or the index is not version 2. */
function openPack(base: string, hashLen: number): HeldPack | null {
  let idxFd: number | undefined;
  let fd: number | undefined;
  try {
    idxFd = openSync(`${base}.idx`, 'r');
    const head = Buffer.alloc(8 + 1024);
    if (readSync(idxFd, head, 0, head.length, 0) !== head.length) throw new Error('short index');
    if (head.readUInt32BE(0) !== 0xff744f63 || head.readUInt32BE(4) !== 2) throw new Error('not a version 2 index');
    fd = openSync(`${base}.pack`, 'r');
    const fan = head.subarray(8);
    return { fd, idxFd, idxPath: `${base}.idx`, end: fstatSync(fd).size, hashLen, fan, count: fan.readUInt32BE(1020) };
  } catch {
    if (idxFd !== undefined) closeQuietly(idxFd);
    if (fd !== undefined) closeQuietly(fd);
    return null;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

/** How deep a chain of deltas is followed (git's default depth is 50). */
const MAX_DEPTH = 64;

/** An open pack: its file, its index's path, its length in bytes, the length of an id. */
interface OpenPack {
  fd: number;
  idxPath: string;
  end: number;
  hashLen: number;
}

/** Resolved entries of one pack by offset (a {@link PackReader}'s cache). */
interface EntryCache {
  get(offset: number): StoredObject | undefined;
  put(offset: number, obj: StoredObject): void;
}

/**
 * The object at `offset` of the open pack: a whole one as stored, or a
 * delta (`OFS_DELTA` against an earlier entry, `REF_DELTA` against an id in
 * the same pack) applied to its base, read the same way. Undefined when the
 * entry is not one this reads or the result would exceed `maxBytes`.
 *
 * Bounded on a damaged pack: no stream is inflated past the size its header
 * gives, nor read past the pack's end; a delta whose result would exceed
 * `maxBytes` is refused before its base is read, and the base is read with
 * the delta's own source size as its bound (it must be exactly that long).
 */
function readEntry(pack: HeldPack, offset: number, maxBytes: number, depth: number, cache: EntryCache): StoredObject | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const hit = cache.get(offset);
  if (hit) return hit.content.length <= maxBytes ? hit : undefined;
  const e = entryAt(pack, offset);
  if (!e) return undefined;
  const { code, size, baseAt } = e;
  if (baseAt === null && size > maxBytes) return undefined;
  const data = inflateAt(pack, e.dataAt, size);
  if (!data) return undefined;
  if (baseAt === null) {
    const whole = { type: TYPES[code]!, content: data };
    if (depth > 0) cache.put(offset, whole);
    return whole;
  }
  // The delta's two sizes first (its base's, its result's): a result past the bound reads no base; the base is bounded by its own.
  const sizes = deltaSizes(data);
  if (!sizes || sizes.result > maxBytes) return undefined;
  const baseObj = readEntry(pack, baseAt, sizes.base, depth + 1, cache);
  if (!baseObj) return undefined;
  const content = applyDelta(baseObj.content, data, maxBytes);
  if (!content) return undefined;
  // Kept: the next object of the chain is most likely a delta against this one.
  const resolved = { type: baseObj.type, content };
  cache.put(offset, resolved);
  return resolved;
}

/**
 * The `size` bytes of the zlib stream at `pos`, or undefined when it does
 * not inflate to exactly that. Never reads past the pack's end nor
 * inflates past `size` (zlib stops there: a damaged size or stream costs
 * at most what the header says, and the file's length).
 */
function inflateAt(pack: OpenPack, pos: number, size: number): Buffer | undefined {
  // The stream's bound: stored blocks (5 bytes per 64 KiB) or deflate's worst case, plus its header and trailer; never past the pack's end.
  const bound = Math.min(size + 5 * Math.ceil(size / 16_000 + 1) + 16, pack.end - pos);
  if (bound <= 0) return undefined;
  const raw = Buffer.allocUnsafe(bound);
  const got = readSync(pack.fd, raw, 0, bound, pos);
  let out: Buffer;
  try {
    out = inflateSync(raw.subarray(0, got), { maxOutputLength: Math.max(size, 1) });
  } catch {
    return undefined; // not a stream, or one longer than its header says
  }
  return out.length === size ? out : undefined;
}

/** The header of the entry at `offset`: whole, or a delta (its result's size, the type at the end of its chain); undefined when not one this reads. */
function entryHeader(pack: HeldPack, offset: number): { type: StoredObject['type']; size: number } | undefined {
  let size: number | undefined;
  for (let depth = 0, at = offset; depth <= MAX_DEPTH; depth++) {
    const e = entryAt(pack, at);
    if (!e) return undefined;
    if (e.baseAt === null) return { type: TYPES[e.code]!, size: size ?? e.size };
    if (size === undefined) {
      // The delta's result size: the second number at the start of its stream (a few bytes inflated).
      const raw = Buffer.allocUnsafe(Math.max(0, Math.min(64, pack.end - e.dataAt)));
      const n = readSync(pack.fd, raw, 0, raw.length, e.dataAt);
      const head = inflateSync(raw.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const sizes = deltaSizes(head);
      if (!sizes) return undefined;
      size = sizes.result;
    }
    at = e.baseAt;
  }
  return undefined;
}

/** An entry's header: its type code, its stored size, its base's offset (null: a whole object) and where its zlib stream begins. */
function entryAt(pack: HeldPack, offset: number): { code: number; size: number; baseAt: number | null; dataAt: number } | undefined {
  const { fd, hashLen } = pack;
  const head = Buffer.alloc(32 + hashLen);
  const n = readSync(fd, head, 0, head.length, offset);
  let i = 0;
  let b = head[i++]!;
  const code = (b >> 4) & 7;
  let size = b & 15;
  for (let shift = 4; b & 0x80; shift += 7) {
    if (i >= n) return undefined;
    b = head[i++]!;
    size += (b & 0x7f) * 2 ** shift;
  }
  let baseAt: number | null = null;
  if (code === 6) {
    b = head[i++]!;
    let back = b & 0x7f;
    while (b & 0x80) {
      if (i >= n) return undefined;
      b = head[i++]!;
      back = (back + 1) * 128 + (b & 0x7f);
    }
    baseAt = offset - back;
  } else if (code === 7) {
    baseAt = findOffset(pack, head.subarray(i, i + hashLen));
    i += hashLen;
    if (baseAt === null) return undefined;
  } else if (code < 1 || code > 4) return undefined;
  if (baseAt !== null && (baseAt <= 0 || baseAt >= offset)) return undefined;
  return { code, size, baseAt, dataAt: offset + i };
}

/** A delta's header (gitformat-pack(5)): the sizes of its base and of its result, or undefined when the delta is too short to give them. */
function deltaSizes(delta: Buffer): { base: number; result: number } | undefined {
  let i = 0;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (i >= delta.length || shift > 49) return undefined;
      const b = delta[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
  };
  const base = varint();
  const result = varint();
  return base === undefined || result === undefined ? undefined : { base, result };
}

/** git's delta format (gitformat-pack(5) "Deltified representation"): the result, or undefined when the delta does not fit its base or exceeds `maxBytes`. */
function applyDelta(base: Buffer, delta: Buffer, maxBytes: number): Buffer | undefined {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = delta[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && i < delta.length);
    return v;
  };
  if (varint() !== base.length) return undefined;
  const size = varint();
  if (size > maxBytes) return undefined;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  while (i < delta.length) {
    const cmd = delta[i++]!;
    if (cmd & 0x80) {
      let off = 0;
      let len = 0;
      for (let k = 0; k < 4; k++) if (cmd & (1 << k)) off += delta[i++]! * 2 ** (8 * k);
      for (let k = 0; k < 3; k++) if (cmd & (0x10 << k)) len += delta[i++]! * 2 ** (8 * k);
      if (len === 0) len = 0x10000;
      if (off + len > base.length || o + len > size) return undefined;
      base.copy(out, o, off, off + len);
      o += len;
    } else if (cmd !== 0) {
      if (i + cmd > delta.length || o + cmd > size) return undefined;
      delta.copy(out, o, i, i + cmd);
      i += cmd;
      o += cmd;
    } else return undefined;
  }
  return o === size ? out : undefined;
}

/** The offset of `id` in the pack, from its version 2 index (a few positioned reads of the open file): null when not listed. */
function findOffset(pack: HeldPack, id: Buffer): number | null {
  const { idxFd: fd, fan, count, hashLen } = pack;
  const at = (pos: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    if (readSync(fd, b, 0, len, pos) !== len) throw new Error('short index');
    return b;
  };
  let lo = id[0]! === 0 ? 0 : fan.readUInt32BE((id[0]! - 1) * 4);
  let hi = fan.readUInt32BE(id[0]! * 4);
  const ids = 8 + 1024;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = at(ids + mid * hashLen, hashLen).compare(id);
    if (c === 0) {
      const offsets = ids + count * hashLen + count * 4;
      const off = at(offsets + mid * 4, 4).readUInt32BE(0);
      if (!(off & 0x80000000)) return off;
      const big = at(offsets + count * 4 + (off & 0x7fffffff) * 8, 8);
      return Number(big.readBigUInt64BE(0));
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return null;
}
