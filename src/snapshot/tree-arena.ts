/**
 * Raw trees by id, their bytes copied into large chunks (1 MiB each; a
 * larger tree gets a chunk of its own size): the daemon's cache of every
 * tree of a worktree (~10k at 100k files, ~450 bytes each). One Buffer per
 * tree cost ~100 bytes of heap each, and pooled copies kept whole 8 KiB
 * slabs alive beside short-lived buffers (~7.5 MB of slabs for ~4.3 MB of
 * trees at 100k files); here a tree costs its bytes, 4 bytes of length and
 * its entry in one Map.
 */
const CHUNK = 1 << 20;
/** A position is `chunk * SPAN + offset` (offset < SPAN). */
const SPAN = 2 ** 32;

export class TreeArena {
  private readonly at = new Map<string, number>();
  private readonly chunks: Buffer[] = [];
  /** The chunk small trees go into (-1: none yet), and its bytes used. */
  private open = -1;
  private used = 0;
  /** Bytes of trees held (their content, not the chunks' slack). */
  bytes = 0;

  get size(): number {
    return this.at.size;
  }

  has(oid: string): boolean {
    return this.at.has(oid);
  }

  /** The tree's content (a view into the arena: valid until {@link clear}), or undefined. */
  get(oid: string): Buffer | undefined {
    const pos = this.at.get(oid);
    if (pos === undefined) return undefined;
    const chunk = this.chunks[Math.floor(pos / SPAN)]!;
    const off = pos % SPAN;
    return chunk.subarray(off + 4, off + 4 + chunk.readUInt32LE(off));
  }

  /** Copies `content` in under `oid` (a tree already held is kept as it is: trees never change). */
  put(oid: string, content: Buffer): void {
    if (this.at.has(oid)) return;
    const need = content.length + 4;
    if (need > CHUNK) {
      // A chunk of its own, never written to again.
      this.chunks.push(Buffer.allocUnsafeSlow(need));
      this.store(oid, this.chunks.length - 1, 0, content);
      return;
    }
    if (this.open < 0 || this.used + need > CHUNK) {
      this.chunks.push(Buffer.allocUnsafeSlow(CHUNK));
      this.open = this.chunks.length - 1;
      this.used = 0;
    }
    this.store(oid, this.open, this.used, content);
    this.used += need;
  }

  /** Drops every tree. */
  clear(): void {
    this.at.clear();
    this.chunks.length = 0;
    this.open = -1;
    this.used = 0;
    this.bytes = 0;
  }

  private store(oid: string, idx: number, off: number, content: Buffer): void {
    const chunk = this.chunks[idx]!;
    chunk.writeUInt32LE(content.length, off);
    content.copy(chunk, off + 4);
    this.at.set(oid, idx * SPAN + off);
    this.bytes += content.length;
  }
}
