/**
 * Property test (fast-check): random sequences of an agent's edits — writes,
 * deletions, executable bits, symlinks, file ↔ directory swaps, ignored files —
 * each followed by a snapshot; then a rollback to a random step and its undo.
 * Whatever the sequence, the rollback restores that step byte for byte (or
 * refuses, changing nothing), never touches an ignored file or the user's
 * index, and the undo brings back exactly what was there.
 *
 * CKPT_PROPERTY_RUNS (default 30) and CKPT_PROPERTY_SEED replay or widen it;
 * a failure prints the seed and the shrunk sequence.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCkptError, openRepo, rollback, takeSnapshot } from '../src/index.js';
import { git, indexBytes, makeRepo, picture, storeGit, tempDir, write, type Entry } from './support/repo.js';

const PATHS = ['a.txt', 'b.txt', 'sp ace.txt', '-lead.txt', 'd/c.txt', 'd/e/f.txt', 'x', 'x/y.txt', 'x/z.log', 'node_modules/m.js', 'keep.log'];
const isIgnored = (rel: string): boolean => rel.endsWith('.log') || rel === 'node_modules' || rel.startsWith('node_modules/');

type Op =
  | { op: 'write'; path: string; content: string }
  | { op: 'remove'; path: string }
  | { op: 'chmod'; path: string }
  | { op: 'link'; path: string; target: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('write' as const), path: fc.constantFrom(...PATHS), content: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', 'line\n', 'no newline', 'crlf\r\n', '\u00e9\u0301\n')) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), path: fc.constantFrom(...PATHS, 'd', 'x') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('chmod' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('link' as const), path: fc.constantFrom('a.txt', 'x', 'd/e/f.txt', 'l'), target: fc.constantFrom('a.txt', '../outside', 'nowhere', 'd', '.git') }) },
);

/** lstat, or undefined when nothing is there (ENOENT, or a parent that is not a directory). */
function lst(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** Does what an agent's tool or shell would: parents made (replacing files in the way), the target replaced. */
function apply(root: string, o: Op): void {
  const abs = path.join(root, o.path);
  const clearParents = (): void => {
    const parts = o.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = path.join(root, ...parts.slice(0, i));
      const st = lst(p);
      if (st && !st.isDirectory()) fs.rmSync(p, { force: true });
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const st = lst(abs);
    if (st) fs.rmSync(abs, { recursive: true, force: true });
  };
  switch (o.op) {
    case 'write':
      clearParents();
      fs.writeFileSync(abs, o.content);
      break;
    case 'remove':
      if (lst(abs)) fs.rmSync(abs, { recursive: true, force: true });
      break;
    case 'chmod': {
      const st = lst(abs);
      if (st?.isFile()) fs.chmodSync(abs, st.mode & 0o100 ? 0o644 : 0o755);
      break;
    }
    case 'link':
      clearParents();
      fs.symlinkSync(o.target, abs);
      break;
  }
}

/** Files and links (not directories: git does not store them), split into tracked-able and ignored. */
function split(p: Record<string, Entry>): { content: Record<string, Entry>; ignored: Record<string, Entry> } {
  const content: Record<string, Entry> = {};
  const ignored: Record<string, Entry> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v.type === 'dir') continue;
    (isIgnored(k) ? ignored : content)[k] = v;
  }
  return { content, ignored };
}

const RUNS = Number(process.env.CKPT_PROPERTY_RUNS ?? 30);
const SEED = process.env.CKPT_PROPERTY_SEED ? Number(process.env.CKPT_PROPERTY_SEED) : undefined;

/** A file's text, or null where there is none (missing, a directory, a link to one). */
function readText(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

describe('property: snapshot → edits → rollback → undo', () => {
  it(`restores any step byte for byte, never touches ignored files or the index (${RUNS} random runs)`, { timeout: 600_000 }, async () => {
    let refused = 0;
    let restored = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), fc.nat(), async (steps, pick) => {
        const dir = makeRepo({ '.gitignore': '*.log\nnode_modules/\n', 'a.txt': 'a\n', 'd/c.txt': 'c\n' });
        write(dir, { 'b.txt': 'staged\n', 'keep.log': 'ignored from the start\n' });
        git(dir, 'add', 'b.txt'); // the user's staged work
        const index0 = indexBytes(dir);
        const repo = await openRepo(dir);
        const seen: Array<{ step: number; content: Record<string, Entry> }> = [];
        const first = await takeSnapshot(repo, { kind: 'manual', force: true });
        seen.push({ step: first.snapshot.step, content: split(picture(dir)).content });
        for (const ops of steps) {
          for (const o of ops) apply(dir, o);
          const s = await takeSnapshot(repo, { kind: 'auto', force: true });
          seen.push({ step: s.snapshot.step, content: split(picture(dir)).content });
        }
        const target = seen[pick % seen.length]!;
        const before = picture(dir);
        let changes = 0;
        try {
          changes = (await rollback(repo, { target: String(target.step) })).changes.length;
        } catch (err) {
          // The one refusal allowed: an ignored file stands where the target needs something else.
          if (!isCkptError(err, 'ROLLBACK_WOULD_CLOBBER')) throw err;
          expect(picture(dir)).toEqual(before);
          expect(indexBytes(dir).equals(index0)).toBe(true);
          refused++;
          return;
        }
        const after = split(picture(dir));
        expect(after.content).toEqual(target.content);
        expect(after.ignored).toEqual(split(before).ignored);
        expect(indexBytes(dir).equals(index0)).toBe(true);
        // A rollback that changed nothing recorded nothing: there is no rollback to undo (this repo has no other).
        if (changes === 0) {
          await expect(rollback(repo, { undo: true })).rejects.toMatchObject({ code: 'NOTHING_TO_UNDO' });
          expect(picture(dir)).toEqual(before);
          restored++;
          return;
        }
        // And the rollback is undone exactly (directories aside: git stores none).
        await rollback(repo, { undo: true });
        expect(split(picture(dir))).toEqual(split(before));
        expect(indexBytes(dir).equals(index0)).toBe(true);
        restored++;
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
    );
    console.log(`property: ${RUNS} runs, ${restored} rollbacks restored and undone, ${refused} refused (ignored file in the way)`);
    expect(restored).toBeGreaterThan(0);
  });
});

const WRITER_RUNS = Number(process.env.CKPT_PROPERTY_WRITER_RUNS ?? 10);

/**
 * A writer process (an editor, an agent) that writes each of its paths once,
 * at its own moment while the rollback runs (then leaves it alone), logging
 * each version once it is on disk. Every version is the last one at its path:
 * nothing but ckpt can destroy it.
 */
const WRITER = `
const fs = require('node:fs'), path = require('node:path');
const [root, log, spec] = process.argv.slice(1);
const t0 = Date.now();
for (const { rel, at } of JSON.parse(spec)) {
  while (Date.now() - t0 < at) {}
  const text = 'writer ' + process.pid + ' at ' + at + '\\n';
  try {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    // Its own path, never through a symlink there (O_NOFOLLOW): a write
    // through a link would land on another path than the one it names.
    const fd = fs.openSync(path.join(root, rel), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
    fs.writeSync(fd, text);
    fs.closeSync(fd);
    fs.appendFileSync(log, rel + '\\t' + text);
  } catch {}
}
`;

const WRITER_PATHS = ['a.txt', 'b.txt', 'd/c.txt', 'w/new.txt', 'bulk/f10.txt', 'bulk/f90.txt', 'bulk/f150.txt', 'bulk/f199.txt'];

describe('property: rollback while another process writes', () => {
  it(`never destroys the last bytes a concurrent writer left, and restores every other path (${WRITER_RUNS} random runs)`, { timeout: 600_000 }, async () => {
    let runs = 0;
    let refused = 0;
    let recorded = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.subarray(WRITER_PATHS, { minLength: 1 }), fc.array(fc.nat({ max: 2500 }), { minLength: WRITER_PATHS.length, maxLength: WRITER_PATHS.length }), async (steps, pick, writerPaths, moments) => {
        const files: Record<string, string> = { '.gitignore': '*.log\nnode_modules/\n', 'a.txt': 'a\n', 'd/c.txt': 'c\n' };
        for (let i = 0; i < 200; i++) files[`bulk/f${i}.txt`] = `bulk ${i}\n`;
        const dir = makeRepo(files);
        write(dir, { 'b.txt': 'staged\n', 'keep.log': 'ignored from the start\n' });
        git(dir, 'add', 'b.txt');
        const index0 = indexBytes(dir);
        const repo = await openRepo(dir);
        const seen: Array<{ step: number; content: Record<string, Entry> }> = [];
        const first = await takeSnapshot(repo, { kind: 'manual', force: true });
        seen.push({ step: first.snapshot.step, content: split(picture(dir)).content });
        for (const ops of steps) {
          for (const o of ops) apply(dir, o);
          // Every step also rewrites the bulk files, so a rollback has plenty to do while the writer runs.
          const bulk: Record<string, string> = {};
          for (let i = 0; i < 200; i++) bulk[`bulk/f${i}.txt`] = `bulk ${i} at step ${seen.length}\n`;
          write(dir, bulk);
          const s = await takeSnapshot(repo, { kind: 'auto', force: true });
          seen.push({ step: s.snapshot.step, content: split(picture(dir)).content });
        }
        const target = seen[pick % seen.length]!;
        const aux = tempDir('ckpt-writer-');
        const log = path.join(aux, 'log');
        fs.writeFileSync(log, '');
        const spec = writerPaths.map((rel, i) => ({ rel, at: moments[i]! })).sort((x, y) => x.at - y.at);
        const writer = spawn(process.execPath, ['-e', WRITER, dir, log, JSON.stringify(spec)], { stdio: 'ignore' });
        const ended = new Promise((r) => writer.once('close', r));
        let res: Awaited<ReturnType<typeof rollback>> | null = null;
        try {
          res = await rollback(repo, { target: String(target.step) });
        } catch (err) {
          if (!isCkptError(err, 'ROLLBACK_WOULD_CLOBBER')) throw err;
          refused++;
        } finally {
          await ended;
        }
        // Each version the writer left: on disk now, or in a snapshot of the chain.
        const last = new Map<string, string>();
        for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
          const tab = line.indexOf('\t');
          if (tab > 0) last.set(line.slice(0, tab), line.slice(tab + 1) + '\n');
        }
        const snapshotted = (): Map<string, Set<string>> => {
          const out = new Map<string, Set<string>>();
          for (const tree of storeGit(dir, 'log', '--format=%T', repo.ref).trim().split('\n')) {
            for (const rec of storeGit(dir, 'ls-tree', '-r', '-z', tree).split('\0')) {
              const t = rec.indexOf('\t');
              if (t < 0) continue;
              const p = rec.slice(t + 1);
              if (!last.has(p)) continue;
              if (!out.has(p)) out.set(p, new Set());
              out.get(p)!.add(storeGit(dir, 'cat-file', 'blob', rec.slice(0, t).split(' ')[2]!));
            }
          }
          return out;
        };
        let inSnapshots = snapshotted();
        for (const [p, text] of last) {
          const onDisk = readText(path.join(dir, p));
          expect(onDisk === text || !!inSnapshots.get(p)?.has(text), `the writer's ${JSON.stringify(text)} at ${p} is lost`).toBe(true);
        }
        expect(indexBytes(dir).equals(index0)).toBe(true);
        if (!res) return;
        runs++;
        if (res.recordedDuring.length > 0) recorded++;
        // Every path the writer did not touch (nor a parent or child of one) is exactly the target's.
        const touched = (k: string): boolean => writerPaths.some((w) => k === w || k.startsWith(w + '/') || w.startsWith(k + '/'));
        const strip = (c: Record<string, Entry>): Record<string, Entry> => Object.fromEntries(Object.entries(c).filter(([k]) => !touched(k)));
        expect(strip(split(picture(dir)).content)).toEqual(strip(target.content));
        // A rollback that found nothing to change recorded nothing, and has nothing to undo.
        if (res.changes.length === 0 && res.recordedDuring.length === 0) return;
        // And --undo never loses the writer's bytes either.
        await rollback(repo, { undo: true });
        inSnapshots = snapshotted();
        for (const [p, text] of last) {
          expect(readText(path.join(dir, p)) === text || !!inSnapshots.get(p)?.has(text), `the writer's ${JSON.stringify(text)} at ${p} is lost after --undo`).toBe(true);
        }
        expect(indexBytes(dir).equals(index0)).toBe(true);
      }),
      { numRuns: WRITER_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
    );
    console.log(`property with a concurrent writer: ${WRITER_RUNS} runs, ${runs} rolled back and undone (${recorded} recorded the writer's edits at the point of destruction), ${refused} refused`);
    expect(runs).toBeGreaterThan(0);
  });
});
