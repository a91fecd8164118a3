/**
 * A file far larger than memory should allow (2 GiB, sparse, untracked),
 * snapshotted by an older ckpt or with the size cap raised
 * (`CKPT_MAX_FILE_SIZE=off`): rollback restores
 * it byte for byte and `ckpt diff` summarises it, each within a bounded
 * memory (the ckpt process's peak RSS, measured by the kernel, stays under
 * 100 MB; the blob streams from git to disk in 64 KiB pieces).
 * CKPT_BIG_FILE_BYTES changes the size.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo, takeSnapshot } from '../src/index.js';
import { listTree } from '../src/snapshot/tree-read.js';
import { CLI, git, indexBytes, makeRepo, userRefs } from './support/repo.js';
/* eslint-disable @typescript-eslint/no-explicit-any */

const SIZE = Number(process.env.CKPT_BIG_FILE_BYTES ?? 2 * 1024 ** 3);
const LIMIT_KB = 100 * 1000;

const LIB = path.join(path.dirname(CLI), '..', 'dist', 'index.js');

/**
 * Runs one library call in a fresh Node process and returns its result with
 * that process's own peak RSS in kB (getrusage RUSAGE_SELF: ckpt's memory,
 * not its git children's).
 */
function inChild(dir: string, call: 'diff' | 'rollback', arg: Record<string, unknown>): { result: any; rssKb: number } {
  const script = `import(${JSON.stringify(LIB)}).then(async (m) => {
  const repo = await m.openRepo(${JSON.stringify(dir)});
  const r = await m.${call}(repo, ${JSON.stringify(arg)});
  const out = ${call === 'diff' ? "{ files: r.files, patchBytes: r.patch.length }" : '{ changes: r.changes }'};
  process.stdout.write(JSON.stringify({ result: out, rssKb: process.resourceUsage().maxRSS }));
});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

function sha256File(p: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

describe('a 2 GiB file', () => {
  it('restores byte for byte and diffs as a summary, with ckpt under 100 MB RSS', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n' });
    const big = path.join(dir, 'big.bin');
    const fd = fs.openSync(big, 'w');
    fs.ftruncateSync(fd, SIZE);
    fs.writeSync(fd, Buffer.from('head'), 0, 4, 0);
    fs.writeSync(fd, Buffer.from('tail'), 0, 4, SIZE - 4);
    fs.closeSync(fd);
    const want = sha256File(big);
    const repo = await openRepo(dir);
    // Taken with the size cap for untracked files raised (or by a ckpt from before the cap).
    process.env.CKPT_MAX_FILE_SIZE = 'off';
    let s1;
    try {
      s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    } finally {
      delete process.env.CKPT_MAX_FILE_SIZE;
    }
    expect((await listTree(repo, s1.tree)).map((e) => e.path)).toContain('big.bin');
    fs.rmSync(big);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'changed\n');
    await takeSnapshot(repo, { kind: 'auto' });
    const index0 = indexBytes(dir);
    const refs0 = userRefs(dir);

    const d = inChild(dir, 'diff', { from: String(s1.step) });
    expect(d.result.files.find((f: { path: string }) => f.path === 'big.bin')).toMatchObject({ binary: true, status: 'D' });
    expect(d.result.patchBytes).toBeLessThan(10_000);
    expect(d.rssKb).toBeLessThan(LIMIT_KB);

    const r = inChild(dir, 'rollback', { target: String(s1.step) });
    expect(r.result.changes.map((c: { path: string }) => c.path)).toEqual(['a.txt', 'big.bin']);
    expect(fs.statSync(big).size).toBe(SIZE);
    expect(sha256File(big)).toBe(want);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a\n');
    expect(r.rssKb).toBeLessThan(LIMIT_KB);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(userRefs(dir)).toBe(refs0);
    // No staging file left anywhere.
    expect(fs.readdirSync(dir).filter((n) => n.includes('.ckpt-'))).toEqual([]);
    expect(fs.existsSync(path.join(repo.stateDir, 'restore-tmp')) ? fs.readdirSync(path.join(repo.stateDir, 'restore-tmp')) : []).toEqual([]);
    console.log(`big file: ${SIZE} bytes; ckpt diff peak RSS ${d.rssKb} kB, rollback peak RSS ${r.rssKb} kB`);
    fs.rmSync(big);
    git(dir, 'status', '--short');
  }, 900_000);
});

describe('ckpt diff with a big file among others', () => {
  it('prints the other files patches in full and the big one as a summary', async () => {
    const dir = makeRepo({ 'a.txt': 'a\n', 'b*.txt': 'b\n' });
    const repo = await openRepo(dir);
    const s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
    fs.ftruncateSync(fd, 40 * 1024 * 1024);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'A\n');
    fs.writeFileSync(path.join(dir, 'b*.txt'), 'B\n');
    const d = inChild(dir, 'diff', { from: String(s1.step) });
    expect(d.result.files.map((f: { path: string }) => f.path).sort()).toEqual(['a.txt', 'b*.txt', 'big.bin']);
    const { diff } = await import('../src/index.js');
    const r = await diff(repo, { from: String(s1.step) });
    expect(r.patch).toContain('+A\n');
    expect(r.patch).toContain('+B\n');
    expect(r.patch).toContain('Binary files /dev/null and b/big.bin differ');
    const only = await diff(repo, { from: String(s1.step), paths: ['b*.txt', 'big.bin'] });
    expect(only.patch).not.toContain('+A\n');
    expect(only.patch).toContain('+B\n');
    expect(only.patch).toContain('b/big.bin differ');
  });
});
