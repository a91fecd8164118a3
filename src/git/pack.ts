/**
 * Pack files written in process: a step's new blobs and trees go into one
 * pack (`pack-<checksum>.pack` and its `.idx`) instead of one loose object
 * file each, so a step fsyncs two files where it fsynced ~40 (measured on
 * this project's machine: 43 small files fsynced at once took 18–24 ms under
 * load, 3 files ~1 ms; docs/architecture.md, "The daemon's step").
 *
 * Formats as git reads them (gitformat-pack(5)): a version 2 pack
 * (`PACK`, version, count; each object a type-and-size header then its
 * content as a zlib stream, stored blocks for a step's pack, never a delta;
 * the hash of all of it as its
 * trailer) and a version 2 index (`\377tOc`, version, the 256-entry fan-out,
 * the sorted object ids, the CRC-32 of each entry as stored, 31-bit offsets
 * with the 64-bit table for larger ones, the pack's checksum, the index's
 * own checksum). The pack is named after its trailer, as git names its own.
 * `git fsck --strict`, `git cat-file`, `git repack` and `ckpt gc` read them
 * (test: store-pack.test.ts).
 */
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

/** One object to pack: its id, type and content (without git's `type size\0` header). */
export interface PackObject {
  oid: string;
  type: 'commit' | 'tree' | 'blob' | 'tag';
  content: Buffer;
}

/** A pack and its index, built in memory. */
export interface BuiltPack {
  /** The pack's checksum in hex: its name is `pack-<name>.pack` / `.idx`. */
  name: string;
  pack: Buffer;
  idx: Buffer;
}

const TYPE_CODE = { commit: 1, tree: 2, blob: 3, tag: 4 } as const;

/**
 * Builds a pack of `objects` (each stored whole, deflated at `level`) and
 * its version 2 index. Duplicates (same id) are stored once.
 *
 * @param format the repository's object format (hash of ids and checksums).
 * @param level zlib level; 0 (the default): stored blocks written without
 *   zlib ({@link storedZlib}), for a daemon step's pack.
 */
export function buildPack(objects: readonly PackObject[], format: 'sha1' | 'sha256', level = 0): BuiltPack {
  const unique = new Map<string, PackObject>();
  for (const o of objects) if (!unique.has(o.oid)) unique.set(o.oid, o);
  const list = [...unique.values()];
  const hashLen = format === 'sha256' ? 32 : 20;
  // Sizes first, then one buffer written in place (no buffer per entry, no copies).
  const deflated = level === 0 ? null : list.map((o) => deflateObject(o.content, level));
  const headers = list.map((o) => entryHeader(TYPE_CODE[o.type], o.content.length));
  let total = 12 + hashLen;
  list.forEach((o, i) => (total += headers[i]!.length + (deflated ? deflated[i]!.length : storedLength(o.content.length))));
  const pack = Buffer.allocUnsafeSlow(total);
  pack.write('PACK', 0, 'latin1');
  pack.writeUInt32BE(2, 4);
  pack.writeUInt32BE(list.length, 8);
  let pos = 12;
  const entries: { oid: Buffer; crc: number; offset: number }[] = [];
  list.forEach((o, i) => {
    const start = pos;
    pos += headers[i]!.copy(pack, pos);
    pos = deflated ? pos + deflated[i]!.copy(pack, pos) : writeStored(pack, pos, o.content);
    entries.push({ oid: Buffer.from(o.oid, 'hex'), crc: crc32(pack.subarray(start, pos)), offset: start });
  });
  const checksum = createHash(format).update(pack.subarray(0, pos)).digest();
  checksum.copy(pack, pos);
  return { name: checksum.toString('hex'), pack, idx: buildIndex(entries, checksum, format) };
}

/** Bytes of {@link storedZlib}'s stream for `n` bytes of content. */
function storedLength(n: number): number {
  return 2 + Math.max(1, Math.ceil(n / 65535)) * 5 + n + 4;
}

/**
 * `content` as a zlib stream of stored (uncompressed) deflate blocks
 * (RFC 1950 and 1951, BTYPE 00), written without zlib: no stream to set up,
 * no matching, an Adler-32 over the bytes. What a step's pack holds: its
 * objects are small and short-lived as they are (the fold rewrites them as
 * deltas and compresses them, git/pack-fold.ts), and ~40 zlib streams were
 * the largest part of a step's own CPU time (~2.4 ms at 100k files).
 */
export function storedZlib(content: Buffer): Buffer {
  const out = Buffer.allocUnsafe(storedLength(content.length));
  writeStored(out, 0, content);
  return out;
}

/** Writes {@link storedZlib}'s stream of `content` into `out` at `pos`; returns the position after it. */
function writeStored(out: Buffer, pos: number, content: Buffer): number {
  const blocks = Math.max(1, Math.ceil(content.length / 65535));
  out[pos++] = 0x78; // deflate, 32 KiB window
  out[pos++] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, content.length - start);
    out[pos] = b === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, pos + 1);
    out.writeUInt16LE(~len & 0xffff, pos + 3);
    content.copy(out, pos + 5, start, start + len);
    pos += 5 + len;
  }
  out.writeUInt32BE(adler32(content), pos);
  return pos + 4;
}

/** Adler-32 of `buf` (RFC 1950), summed in runs short enough never to overflow. */
function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; ) {
    const end = Math.min(buf.length, i + 3800);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * `content` zlib-deflated (a pack entry's data, a loose object's file) with
 * a window and hash table no larger than it needs: zlib's defaults allocate
 * ~270 KB per stream, which for the ~40 small objects of a step was ~10 MB
 * of short-lived external memory each time, and in the daemon (a large
 * heap) the garbage collections it set off made deflating a step's objects
 * take ~7 ms instead of ~0.3 ms (cpu profile of the daemon answering hooks).
 * Any zlib inflater reads it (the window size is in the stream's header).
 */
export function deflateObject(content: Buffer, level = 1): Buffer {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(content.length + 262))));
  return deflateSync(content, { level, windowBits, memLevel: Math.min(8, Math.max(1, windowBits - 7)) });
}

/** The type-and-size header of a pack entry: 3 bits of type, the size in 4 + 7·n bits, little end first. */
function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let c = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(c | 0x80);
    c = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(c);
  return Buffer.from(bytes);
}

function buildIndex(entries: { oid: Buffer; crc: number; offset: number }[], packChecksum: Buffer, format: 'sha1' | 'sha256'): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.oid, b.oid));
  const n = sorted.length;
  const fanout = Buffer.alloc(256 * 4);
  let k = 0;
  for (let b = 0; b < 256; b++) {
    while (k < n && sorted[k]!.oid[0]! <= b) k++;
    fanout.writeUInt32BE(k, b * 4);
  }
  const crcs = Buffer.alloc(n * 4);
  const offsets = Buffer.alloc(n * 4);
  const large: Buffer[] = [];
  sorted.forEach((e, i) => {
    crcs.writeUInt32BE(e.crc >>> 0, i * 4);
    if (e.offset < 0x80000000) offsets.writeUInt32BE(e.offset, i * 4);
    else {
      offsets.writeUInt32BE((0x80000000 | large.length) >>> 0, i * 4);
      const big = Buffer.alloc(8);
      big.writeBigUInt64BE(BigInt(e.offset));
      large.push(big);
    }
  });
  const head = Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]);
  const body = Buffer.concat([head, fanout, ...sorted.map((e) => e.oid), crcs, offsets, ...large, packChecksum]);
  return Buffer.concat([body, createHash(format).update(body).digest()]);
}

/**
 * The object ids a version 2 pack index lists (its checksum checked).
 *
 * @returns the ids in hex, or null when `idx` is not a well-formed version 2
 *   index of `format` (the caller then trusts nothing of it).
 */
export function indexedObjects(idx: Buffer, format: 'sha1' | 'sha256'): string[] | null {
  const len = format === 'sha256' ? 32 : 20;
  if (idx.length < 8 + 1024 + 2 * len || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) return null;
  const body = idx.subarray(0, idx.length - len);
  if (!createHash(format).update(body).digest().equals(idx.subarray(idx.length - len))) return null;
  const n = idx.readUInt32BE(8 + 255 * 4);
  const start = 8 + 1024;
  if (idx.length < start + n * (len + 8) + 2 * len) return null;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(idx.toString('hex', start + i * len, start + (i + 1) * len));
  return out;
}
