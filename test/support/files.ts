/**
 * A byte-exact picture of a worktree that never holds a file in memory: each
 * file's sha256 read as a stream, so huge and sparse files can be compared.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** One entry of {@link hashedPicture}. */
export interface HashedEntry {
  type: 'file' | 'link' | 'dir' | 'special';
  mode?: number;
  size?: number;
  /** sha256 of the bytes (files) or of the link target. */
  sha256?: string;
}

function sha256File(p: Buffer): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Calls `visit` for every path under `root` except the top-level `.git`,
 * parents before children, never following a symlink: `rel` is the
 * worktree-relative path as raw bytes read as latin1, `abs` the path bytes.
 */
export function walkWorktree(root: string, visit: (rel: string, abs: Buffer, st: fs.Stats) => void): void {
  const walk = (dir: Buffer, rel: string): void => {
    for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
      const n = name.toString('latin1');
      if (rel === '' && n === '.git') continue;
      const abs = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(abs);
      visit(r, abs, st);
      if (st.isDirectory()) walk(abs, r);
    }
  };
  walk(Buffer.from(root), '');
}

/**
 * Every path under `root` (except `.git`), keyed by its raw bytes (latin1):
 * type, executable bit, size and sha256. Files whose name is in `sizeOnly`
 * (worktree-relative) get their size only: a 64 GiB sparse file is not read.
 */
export function hashedPicture(root: string, sizeOnly: readonly string[] = []): Record<string, HashedEntry> {
  const out: Record<string, HashedEntry> = {};
  walkWorktree(root, (r, p, st) => {
    if (st.isSymbolicLink()) out[r] = { type: 'link', sha256: createHash('sha256').update(fs.readlinkSync(p, { encoding: 'buffer' })).digest('hex') };
    else if (st.isDirectory()) out[r] = { type: 'dir' };
    else if (!st.isFile()) out[r] = { type: 'special' };
    else out[r] = { type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size, ...(sizeOnly.includes(r) ? {} : { sha256: sha256File(p) }) };
  });
  return out;
}

/**
 * Every file under `dir`, its git dir included, with the sha256 of its bytes
 * (`special` for anything but a regular file), by path relative to `dir`;
 * `skip` leaves out a path (and all below it): what a test lets change.
 */
export function everyFile(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) walk(p);
      else out[rel] = e.isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : 'special';
    }
  };
  walk(dir);
  return out;
}
