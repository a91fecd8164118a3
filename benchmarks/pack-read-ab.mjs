#!/usr/bin/env node
// In-process pack reads on delta chains (git/pack-read.ts), A/B in one run:
// 200 blobs of 20 KB, each a small edit of the one before, packed by git
// (`pack-objects`, depth 50: chains up to ~49) in a temporary repository;
// each round reads every blob (A) one readPackedObject each (the packs
// listed, indexes opened and every chain inflated per object: the restore's
// reads before PackReader), (B) one PackReader for all (one listing, bases
// cached), (C) one `git cat-file --batch`. Rounds interleaved, medians.
//
//   node benchmarks/pack-read-ab.mjs [--rounds 9] [--blobs 200]
//
// Bundles src/git/pack-read.ts with esbuild into benchmarks/.work/ (its
// packages resolved from node_modules; removed at the end, as the temporary
// repository is).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(n) ? Number(argv[argv.indexOf(n) + 1]) : d);
const rounds = arg('--rounds', 9);
const count = arg('--blobs', 200);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-packab-'));
const cleanup = [tmp];
fs.mkdirSync(path.join(ROOT, 'benchmarks', '.work'), { recursive: true });
try {
  const work = fs.mkdtempSync(path.join(ROOT, 'benchmarks', '.work', 'packab-'));
  cleanup.push(work);
  const entry = path.join(work, 'entry.mjs');
  fs.writeFileSync(entry, `export { PackReader, readPackedObject } from ${JSON.stringify(path.join(ROOT, 'src/git/pack-read.ts'))};\nexport { openRepo } from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))};\n`);
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: path.join(work, 'bundle.mjs'), logLevel: 'error', packages: 'external' });
  const { PackReader, readPackedObject, openRepo } = await import(pathToFileURL(path.join(work, 'bundle.mjs')).href);
  const dir = path.join(tmp, 'repo');
  const git = (args, input) => execFileSync('git', args, { cwd: dir, input, encoding: 'utf8', maxBuffer: 1 << 28 });
  fs.mkdirSync(dir);
  git(['init', '-q']);
  let text = randomBytes(10_000).toString('hex');
  const ids = [];
  for (let i = 0; i < count; i++) {
    const at = (i * 997) % (text.length - 20);
    text = `${text.slice(0, at)}edit ${i} ${text.slice(at + 10)}`;
    ids.push(git(['hash-object', '-w', '--stdin'], text).trim());
  }
  git(['pack-objects', '-q', '--depth=50', path.join(dir, '.git/objects/pack/pack')], ids.join('\n') + '\n');
  git(['prune-packed', '-q']);
  const depths = git(['verify-pack', '-v', ...fs.readdirSync(path.join(dir, '.git/objects/pack')).filter((n) => n.endsWith('.idx')).map((n) => path.join(dir, '.git/objects/pack', n))]);
  const maxDepth = Math.max(0, ...depths.split('\n').map((l) => /^[0-9a-f]{40} blob\s+\d+ \d+ \d+ (\d+) /.exec(l)?.[1]).filter(Boolean).map(Number));
  const repo = await openRepo(dir);
  const check = (obj, id) => {
    if (!obj || obj.type !== 'blob') throw new Error(`not read: ${id}`);
  };
  const cases = {
    'A per-object readPackedObject': () => {
      for (const id of ids) check(readPackedObject(repo, id), id);
    },
    'B one PackReader': () => {
      const r = new PackReader(repo);
      for (const id of ids) check(r.read(id), id);
      r.close();
    },
    'C git cat-file --batch': () => {
      const r = spawnSync('git', ['cat-file', '--batch'], { cwd: dir, input: ids.join('\n') + '\n', maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error('cat-file failed');
    },
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, f] of Object.entries(cases)) {
      const t = performance.now();
      f();
      times[k].push(performance.now() - t);
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const b = median(times['B one PackReader']);
  console.log(`${count} blobs of ${text.length} bytes, chains up to ${maxDepth}, ${rounds} interleaved rounds (median ms, ratio to B):`);
  for (const [k, a] of Object.entries(times)) console.log(`  ${k.padEnd(32)} ${median(a).toFixed(1).padStart(8)} ms  ×${(median(a) / b).toFixed(2)}`);
} finally {
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
}
