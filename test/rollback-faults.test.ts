/**
 * A rollback that fails part-way (the disk fills up while it writes): what
 * it already changed is put back from the pre-rollback snapshot, it says so,
 * and nothing is left that blocks other commands (`--undo`, a single-path
 * rollback, the same rollback once there is room). Needs a small tmpfs,
 * mounted where the machine allows it (root); skipped elsewhere.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCkptError, openRepo, rollback, takeSnapshot } from '../src/index.js';
import { git, indexBytes, picture, userRefs, write, type Entry } from './support/repo.js';
import { mountSmallDisk } from './support/tmpfs.js';

const fileEntries = (p: Record<string, Entry>): Record<string, Entry> => Object.fromEntries(Object.entries(p).filter(([, v]) => v.type !== 'dir'));

const disk = mountSmallDisk('24m', 'ckpt-tmpfs-');
const mounted = !('reason' in disk);
const mnt = mounted ? disk.dir : '';
afterAll(async () => {
  if (mounted) await disk.unmount();
});

describe.skipIf(!mounted)('rollback on a full disk', () => {
  it('ENOSPC part-way: everything put back byte for byte, FS_FAILED says so, no journal, other commands work', async () => {
    const dir = path.join(mnt, 'repo');
    fs.mkdirSync(dir);
    git(dir, 'init', '-q');
    const files: Record<string, string | Buffer> = { '.gitignore': '*.log\n', 'zz/big.bin': randomBytes(3 * 1024 * 1024) };
    for (let i = 0; i < 20; i++) files[`a${String(i).padStart(2, '0')}.txt`] = `original ${i}\n`;
    write(dir, files);
    git(dir, 'add', '-A');
    git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'initial');
    write(dir, { 'keep.log': 'ignored\n' });
    const repo = await openRepo(dir);
    const s1 = (await takeSnapshot(repo, { kind: 'manual' })).snapshot;
    const p1 = picture(dir);
    const edits: Record<string, string | null> = { 'zz/big.bin': null };
    for (let i = 0; i < 20; i++) edits[`a${String(i).padStart(2, '0')}.txt`] = `changed ${i}\n`;
    write(dir, edits);
    await takeSnapshot(repo, { kind: 'auto' });
    const before = picture(dir);
    const index0 = indexBytes(dir);
    const refs0 = userRefs(dir);
    // Leave about 1 MiB: the pre-rollback snapshot and the small files fit, the 3 MiB file does not.
    const st = fs.statfsSync(mnt);
    const free = st.bavail * st.bsize;
    const filler = path.join(mnt, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - 1024 * 1024)));

    const err = await rollback(repo, { target: String(s1.step) }).catch((e: unknown) => e);
    expect(isCkptError(err, 'FS_FAILED'), String(err)).toBe(true);
    expect((err as { data: { errno: string } }).data.errno).toBe('ENOSPC');
    expect((err as { hint: string }).hint).toMatch(/put back/);
    expect(picture(dir)).toEqual(before);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(userRefs(dir)).toBe(refs0);
    expect(fs.existsSync(path.join(repo.stateDir, 'journal.json'))).toBe(false);
    const staging = path.join(repo.stateDir, 'restore-tmp');
    expect(fs.existsSync(staging) ? fs.readdirSync(staging) : []).toEqual([]);

    // Nothing blocks: a single-path rollback, and its --undo.
    await rollback(repo, { target: String(s1.step), paths: ['a00.txt'] });
    expect(fs.readFileSync(path.join(dir, 'a00.txt'), 'utf8')).toBe('original 0\n');
    await rollback(repo, { undo: true });
    expect(picture(dir)).toEqual(before);
    // With room again, the same rollback goes through, and its undo.
    fs.rmSync(filler);
    await rollback(repo, { target: String(s1.step) });
    expect(picture(dir)).toEqual(p1);
    await rollback(repo, { undo: true });
    // Directories aside (git stores none: the rollback made zz/ hold a file, the undo emptied and removed it).
    expect(fileEntries(picture(dir))).toEqual(fileEntries(before));
    expect(indexBytes(dir).equals(index0)).toBe(true);
  });
});
