/**
 * Reading objects in bulk with one `git cat-file --batch` process
 * (git-cat-file(1) "BATCH OUTPUT"): one spawn for any number of objects.
 */
import type { ChildProcessByStdio } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { CkptError } from '../core/errors.js';
import { git, gitToFd, spawnGit } from './exec.js';

/** An object read back: its id, type and raw content bytes. */
export interface GitObject {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  content: Buffer;
}

/**
 * Reads each named object (an oid, a ref, `REV^{tree}`, …). Names that do not
 * resolve map to `null`.
 *
 * @param names object names; none may contain a newline.
 * @param env environment selecting the repository (see shadow.ts).
 * @throws CkptError `INVALID_ARGUMENT` for a name with a newline; `GIT_FAILED`.
 */
export async function readObjects(
  names: readonly string[],
  opts: { cwd: string; env: Record<string, string | undefined> },
): Promise<Map<string, GitObject | null>> {
  const out = new Map<string, GitObject | null>();
  if (names.length === 0) return out;
  for (const n of names) {
    if (n.includes('\n') || n === '') throw new CkptError('INVALID_ARGUMENT', `bad object name ${JSON.stringify(n)}`);
  }
  const { stdout } = await git(['cat-file', '--batch'], { cwd: opts.cwd, env: opts.env, input: names.join('\n') + '\n' });
  let pos = 0;
  for (const name of names) {
    const nl = stdout.indexOf(0x0a, pos);
    if (nl < 0) throw new CkptError('GIT_FAILED', 'short output from git cat-file --batch');
    const header = stdout.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    const parts = header.split(' ');
    if (parts.length === 3 && /^[0-9a-f]+$/.test(parts[0]!)) {
      const size = Number(parts[2]);
      const content = stdout.subarray(pos, pos + size);
      pos += size + 1; // content is followed by a newline
      out.set(name, { oid: parts[0]!, type: parts[1] as GitObject['type'], content: Buffer.from(content) });
    } else {
      // "<name> missing" or "<name> ambiguous"
      out.set(name, null);
    }
  }
  return out;
}

/**
 * The sizes in bytes of the named objects, by name, from one `git cat-file
 * --batch-check`; names that resolve to nothing are left out.
 *
 * @throws CkptError `INVALID_ARGUMENT` for a name with a newline; `GIT_FAILED`.
 */
export async function objectSizes(names: readonly string[], opts: { cwd: string; env: Record<string, string | undefined> }): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const list = [...new Set(names)];
  if (list.length === 0) return out;
  for (const n of list) if (n.includes('\n') || n === '') throw new CkptError('INVALID_ARGUMENT', `bad object name ${JSON.stringify(n)}`);
  const { stdout } = await git(['cat-file', '--batch-check=%(objectsize)'], { cwd: opts.cwd, env: opts.env, input: list.join('\n') + '\n' });
  const lines = stdout.toString('utf8').split('\n');
  list.forEach((n, i) => {
    const size = lines[i];
    if (size && /^\d+$/.test(size)) out.set(n, Number(size));
  });
  return out;
}

/**
 * A long-lived `git cat-file --batch-command` that sizes objects (`info`)
 * and copies blobs out piece by piece (`contents`; git-cat-file(1) "BATCH
 * OUTPUT"), so a blob of any size passes through a
 * buffer of at most a few pipe chunks (64 KiB each), never whole. Requests
 * are served one at a time, in order. {@link BlobStream.close} ends git.
 */
export class BlobStream {
  private proc: ChildProcessByStdio<Writable, Readable, Readable> | null = null;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private stderr = '';
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param env environment selecting the repository (see shadow.ts). git is
   *   started on the first blob asked for (a restore whose blobs are all read
   *   in process starts none).
   */
  constructor(private readonly opts: { cwd: string; env: Record<string, string | undefined> }) {}

  /** Starts git now (it would start on the first request), so that its start-up overlaps the caller's other work. */
  start(): void {
    void this.child;
  }

  private get child(): ChildProcessByStdio<Writable, Readable, Readable> {
    if (this.proc) return this.proc;
    const child = spawnGit(['cat-file', '--batch-command'], this.opts);
    this.proc = child;
    const notify = (): void => {
      const w = this.wake;
      this.wake = null;
      w?.();
    };
    child.stdout.on('readable', notify);
    child.stdout.on('end', () => {
      this.ended = true;
      notify();
    });
    child.on('error', (err) => {
      this.failure = err;
      notify();
    });
    child.on('close', () => {
      this.ended = true;
      notify();
    });
    child.stderr.on('data', (c: Buffer) => {
      if (this.stderr.length < 4000) this.stderr += c.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    return child;
  }

  /**
   * Streams blob `oid` to `sink`, in pieces of at most 64 KiB, in order.
   * `sink` may be synchronous (a `writeSync` to a file): the next piece is
   * read from git only once it returns.
   *
   * @returns the blob's size in bytes, or null when git has no such object.
   * @throws CkptError `GIT_FAILED` when git ends or misbehaves; whatever `sink` throws.
   */
  copy(oid: string, sink: (piece: Buffer) => void): Promise<number | null> {
    if (!/^[0-9a-f]{40,64}$/.test(oid)) return Promise.reject(new CkptError('INVALID_ARGUMENT', `bad object id ${JSON.stringify(oid)}`));
    const run = this.queue.then(() => this.copyNow(oid, sink));
    // A failed request leaves the stream unusable; later requests fail too, on their own.
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads a whole blob into memory, refusing one larger than `maxBytes` (symlink targets, ignore files). */
  async read(oid: string, maxBytes: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let size = 0;
    const n = await this.copy(oid, (p) => {
      size += p.length;
      if (size > maxBytes) throw new CkptError('HOSTILE_TREE', `object ${oid} is larger than ${maxBytes} bytes where a short value is expected`, { hint: 'Nothing more was changed. The snapshot was not made by ckpt, or was tampered with.' });
      parts.push(Buffer.from(p));
    });
    return n === null ? null : Buffer.concat(parts);
  }

  /**
   * The sizes (bytes) of the given objects, by id, asked of the same git
   * (`info`); objects git does not have are left out.
   *
   * @throws CkptError `INVALID_ARGUMENT` for a bad id; `GIT_FAILED`.
   */
  sizes(oids: readonly string[]): Promise<Map<string, number>> {
    const list = [...new Set(oids)];
    const bad = list.find((o) => !/^[0-9a-f]{40,64}$/.test(o));
    if (bad !== undefined) return Promise.reject(new CkptError('INVALID_ARGUMENT', `bad object id ${JSON.stringify(bad)}`));
    if (list.length === 0) return Promise.resolve(new Map());
    const run = this.queue.then(() => this.sizesNow(list));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sizesNow(list: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    this.child.stdin.write(list.map((o) => `info ${o}\n`).join(''));
    for (const oid of list) {
      const line = (await this.readLine()).toString('utf8');
      const parts = line.split(' ');
      if (parts.length === 2 && parts[0] === oid && parts[1] === 'missing') continue;
      if (parts.length !== 3 || parts[0] !== oid || !/^\d+$/.test(parts[2]!)) throw this.broken(`unexpected info line ${JSON.stringify(line.slice(0, 200))}`);
      out.set(oid, Number(parts[2]));
    }
    return out;
  }

  /**
   * Writes blob `oid` straight into the open file `fd` with its own `git
   * cat-file blob` (git streams it; not a byte passes through this process):
   * for blobs too large to be worth a trip through {@link copy}.
   *
   * @throws CkptError `GIT_FAILED` (a missing object, say).
   */
  async copyToFd(oid: string, fd: number): Promise<void> {
    if (!/^[0-9a-f]{40,64}$/.test(oid)) throw new CkptError('INVALID_ARGUMENT', `bad object id ${JSON.stringify(oid)}`);
    await gitToFd(['cat-file', 'blob', oid], fd, this.opts);
  }

  /** Ends git; waits for it to exit. */
  async close(): Promise<void> {
    const child = this.proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await closed;
    clearTimeout(t);
  }

  private async copyNow(oid: string, sink: (piece: Buffer) => void): Promise<number | null> {
    this.child.stdin.write(`contents ${oid}\n`);
    const header = (await this.readLine()).toString('utf8');
    const parts = header.split(' ');
    if (parts.length === 2 && parts[1] === 'missing') return null;
    if (parts.length !== 3 || parts[0] !== oid || !/^\d+$/.test(parts[2]!)) throw this.broken(`unexpected header ${JSON.stringify(header.slice(0, 200))}`);
    const size = Number(parts[2]);
    let left = size;
    // A sink that fails (a full disk) does not end the request: the rest is read and dropped,
    // so the stream stays in step for the next request (putting back what was changed, say).
    let failed: { err: unknown } | null = null;
    while (left > 0) {
      const piece = await this.take(Math.min(left, 65536));
      left -= piece.length;
      if (failed) continue;
      try {
        sink(piece);
      } catch (err) {
        failed = { err };
      }
    }
    const lf = await this.take(1);
    if (lf[0] !== 0x0a) throw this.broken('content not followed by a newline');
    if (failed) throw failed.err;
    return size;
  }

  /** Up to `max` bytes (at least one), waiting for git as needed. */
  private async take(max: number): Promise<Buffer> {
    while (this.buffered === 0) await this.more();
    const first = this.chunks[0]!;
    if (first.length <= max) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.buffered -= max;
    return first.subarray(0, max);
  }

  private async readLine(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      while (this.buffered === 0) await this.more();
      const first = this.chunks[0]!;
      const nl = first.indexOf(0x0a);
      if (nl >= 0) {
        parts.push(first.subarray(0, nl));
        if (nl + 1 < first.length) this.chunks[0] = first.subarray(nl + 1);
        else this.chunks.shift();
        this.buffered -= nl + 1;
        return Buffer.concat(parts);
      }
      parts.push(first);
      this.chunks.shift();
      this.buffered -= first.length;
      if (parts.reduce((s, p) => s + p.length, 0) > 4096) throw this.broken('header line too long');
    }
  }

  private async more(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.broken(this.failure.message);
      const c = this.child.stdout.read() as Buffer | null;
      if (c) {
        this.chunks.push(c);
        this.buffered += c.length;
        return;
      }
      if (this.ended) throw this.broken('git cat-file ended early');
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private broken(why: string): CkptError {
    return new CkptError('GIT_FAILED', `git cat-file --batch: ${why}${this.stderr ? `: ${this.stderr.trim().split('\n')[0]}` : ''}`, {
      data: { stderr: this.stderr.slice(0, 4000) },
      hint: "This is git's own failure; run `git fsck` if objects may be missing.",
    });
  }
}

/**
 * The object id git gives `bytes` stored as a blob (`git hash-object
 * --no-filters`): `sha1`/`sha256` over `blob <size>\0` and the bytes.
 */
export function hashBlob(bytes: Buffer, format: 'sha1' | 'sha256'): string {
  return createHash(format).update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** One read buffer for {@link hashPath} (synchronous, so never shared by two reads at once). */
const hashBuffer = Buffer.allocUnsafe(1024 * 1024);

/**
 * The blob id of what is at `file` now, as `git hash-object --no-filters`
 * would compute it, read in 1 MiB pieces (bounded memory whatever the size):
 * a regular file's bytes, or a symlink's target bytes. Never follows a
 * symlink, never opens a FIFO, socket or device (they have no blob id).
 *
 * @returns the id; `null` when nothing is there; `'special'` for a directory,
 *   FIFO, socket or device; `'changing'` when the file's size changed while
 *   it was read (a writer is at work).
 * @throws the file-system error (EACCES, EIO, …).
 */
export function hashPath(file: Buffer | string, format: 'sha1' | 'sha256'): string | null {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  if (st.isSymbolicLink()) return hashBlob(readlinkSync(file, { encoding: 'buffer' }), format);
  if (!st.isFile()) return 'special';
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | (fsc.O_NONBLOCK ?? 0));
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) return 'special';
    const h = createHash(format).update(`blob ${fst.size}\0`);
    const buf = hashBuffer;
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > fst.size) return 'changing';
      h.update(buf.subarray(0, n));
    }
    if (total !== fst.size) return 'changing';
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}
