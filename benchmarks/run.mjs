#!/usr/bin/env node
// ckpt benchmarks: snapshot, rollback, the whole-process Claude hook and
// object reads, on generated repositories of 1k, 10k and 100k files, against
// the obvious alternatives (a fresh temporary index with git plumbing, and
// isomorphic-git). See benchmarks/README.md.
//
//   node benchmarks/run.mjs [--sizes 1k,10k,100k] [--quick] [--no-iso]
//                           [--out benchmarks/results.md]
//
// `npm run bench` builds dist/ first. Plain Node ESM, no dependencies beyond
// ckpt's own dev dependencies (isomorphic-git, execa).
import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as git from 'isomorphic-git';
import { execa } from 'execa';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'benchmarks', '.work');
/** Bump when the generated repositories change; older ones are regenerated. */
const GEN_VERSION = 2;
const SIZES = { '1k': 1_000, '10k': 10_000, '100k': 100_000 };
const TARGETS = { snapshot10: 50, rollback10: 100, hook: 150 };

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { sizes: Object.keys(SIZES), quick: false, iso: true, out: path.join(ROOT, 'benchmarks', 'results.md') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--no-iso') o.iso = false;
    else if (a === '--sizes' || a.startsWith('--sizes=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      o.sizes = String(v).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const s of o.sizes) if (!(s in SIZES)) die(`unknown size ${s} (known: ${Object.keys(SIZES).join(', ')})`);
    } else if (a === '--out' || a.startsWith('--out=')) {
      o.out = path.resolve(a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    } else if (a === '-h' || a === '--help') {
      console.log('usage: node benchmarks/run.mjs [--sizes 1k,10k,100k] [--quick] [--no-iso] [--out FILE]');
      process.exit(0);
    } else die(`unknown option ${a}`);
  }
  return o;
}

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

/** Iterations per size (and --quick). Slow methods also stop at a time budget. */
function plan(size, quick) {
  if (quick) return { snap: 3, rb: 3, hook: 7, reads: 5, budgetMs: 10_000 };
  if (size === '100k') return { snap: 5, rb: 3, hook: 11, reads: 7, budgetMs: 20_000 };
  return { snap: 7, rb: 5, hook: 15, reads: 11, budgetMs: 30_000 };
}
/** A method whose samples take longer than this (median) may stop below 3 samples once its budget is spent. */
const LONG_MS = 5_000;
/** isomorphic-git's first snapshot slower than this: it is measured only for 10 changed files, once. */
const ISO_SLOW_MS = 15_000;
/** A method whose single timed iteration exceeds this runs once only. */
const SLOW_MS = 60_000;

// ---------------------------------------------------------------- env

// Hermetic git for everything: this process (ckpt in-process), its children,
// and the alternatives. No user/system config, fixed identity.
const HERMETIC = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@localhost',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@localhost',
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C',
};
Object.assign(process.env, HERMETIC);
for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES']) delete process.env[k];

// ---------------------------------------------------------------- helpers

function run(cmd, args, { cwd, env, input, ok = [0] } = {}) {
  const r = spawnSync(cmd, args, { cwd, env: env ? { ...process.env, ...env } : process.env, input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (!ok.includes(r.status)) {
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(0, 500)}`);
  }
  return r.stdout;
}
const g = (cwd, args, opts = {}) => run('git', args, { cwd, ...opts });
const gText = (cwd, args, opts = {}) => g(cwd, args, opts).toString('utf8').trim();

function splitNul(buf) {
  return buf.toString('utf8').split('\0').filter(Boolean);
}

function median(xs) {
  return quantile(xs, 0.5);
}
/** Quantile with linear interpolation between closest ranks. */
function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const fmt = (ms) => (Number.isFinite(ms) ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`) : '—');

function rng32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function log(...args) {
  console.log(...args);
}
function step(msg) {
  process.stdout.write(`  · ${msg}\n`);
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

// ---------------------------------------------------------------- repository generation

const WORDS = (
  'core util api auth user session config model view store router cache db query schema client server worker queue event ' +
  'logger metrics http grpc parser lexer render layout theme button modal form table chart upload search index billing ' +
  'invoice payment order cart product catalog inventory shipping report export import admin settings profile notify email ' +
  'sms webhook scheduler job task plugin adapter driver storage blob image video audio i18n locale crypto token policy'
).split(' ');
const TOPS = [['src', 30], ['packages', 20], ['lib', 10], ['apps', 10], ['services', 10], ['test', 12], ['docs', 5], ['tools', 3]];
const EXTS = [['.ts', 30], ['.tsx', 10], ['.js', 15], ['.json', 5], ['.md', 6], ['.css', 5], ['.py', 8], ['.go', 6], ['.yaml', 4], ['.sh', 2], ['.html', 3], ['.txt', 2]];

function weighted(r, list) {
  const total = list.reduce((s, [, w]) => s + w, 0);
  let x = r() * total;
  for (const [v, w] of list) if ((x -= w) < 0) return v;
  return list[list.length - 1][0];
}
const pick = (r, arr) => arr[Math.floor(r() * arr.length)];

function linePool(r) {
  const out = [];
  const cap = (w) => w[0].toUpperCase() + w.slice(1);
  for (let i = 0; i < 700; i++) {
    const a = pick(r, WORDS), b = pick(r, WORDS), c = pick(r, WORDS);
    const ind = '  '.repeat(Math.floor(r() * 4));
    switch (i % 9) {
      case 0: out.push(`${ind}const ${a}${cap(b)} = await ${c}.${pick(r, WORDS)}(${a}, ${Math.floor(r() * 1000)});`); break;
      case 1: out.push(`${ind}if (!${a} || ${b}.length > ${Math.floor(r() * 64)}) {`); break;
      case 2: out.push(`${ind}}`); break;
      case 3: out.push(`${ind}// ${cap(a)} the ${b} before the ${c} is ${pick(r, WORDS)}ed, see ${pick(r, WORDS)}.md`); break;
      case 4: out.push(`${ind}export function ${a}${cap(b)}(${c}: ${cap(pick(r, WORDS))}): ${cap(a)} {`); break;
      case 5: out.push(`${ind}return { ${a}, ${b}: ${c}.${pick(r, WORDS)} ?? null, count: ${Math.floor(r() * 1e6)} };`); break;
      case 6: out.push(`${ind}import { ${cap(a)}, ${b}${cap(c)} } from '../${a}/${b}.js';`); break;
      case 7: out.push(''); break;
      default: out.push(`${ind}${a}.${b}(\`${c} \${${pick(r, WORDS)}}\`, ${r() < 0.5 ? 'true' : 'false'});`);
    }
  }
  return out;
}

function fileContent(r, pool, header, size) {
  const parts = [header];
  let len = header.length + 1;
  while (len < size) {
    const l = pool[Math.floor(r() * pool.length)];
    parts.push(l);
    len += l.length + 1;
  }
  return parts.join('\n') + '\n';
}

/**
 * Returns the generated repository for `label` (creating it if needed) and
 * its manifest: tracked files with their original sizes, untracked files
 * with their content.
 */
function ensureRepo(label) {
  const n = SIZES[label];
  const dir = path.join(WORK, `repo-${label}-g${GEN_VERSION}`);
  const manifestPath = `${dir}.manifest.json`;
  if (fs.existsSync(manifestPath) && fs.existsSync(path.join(dir, '.git'))) {
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    if (m.gen === GEN_VERSION && m.n === n) return { dir, manifest: m, reused: true };
  }
  const t0 = performance.now();
  // Drop repositories of older generator versions (and a half-made one of this version).
  for (const f of fs.readdirSync(WORK)) if (f.startsWith(`repo-${label}-g`)) fs.rmSync(path.join(WORK, f), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const r = rng32(0xc4e7 + n * 31 + GEN_VERSION);
  const pool = linePool(r);
  const sizeOf = () => Math.round(Math.exp(Math.log(200) + r() * (Math.log(6000) - Math.log(200))));

  // Directories 2–4 levels deep (files sit 3–5 levels down), ~15 files each.
  const nDirs = Math.max(6, Math.round(n / 15));
  const dirs = new Set();
  while (dirs.size < nDirs) {
    const x = r();
    const depth = x < 0.25 ? 2 : x < 0.7 ? 3 : 4;
    const parts = [weighted(r, TOPS)];
    for (let i = 1; i < depth; i++) parts.push(r() < 0.2 ? `${pick(r, WORDS)}-${1 + Math.floor(r() * 9)}` : pick(r, WORDS));
    dirs.add(parts.join('/'));
  }
  const dirList = [...dirs];
  const made = new Set();
  const mkdir = (d) => {
    if (made.has(d)) return;
    fs.mkdirSync(path.join(dir, d), { recursive: true });
    made.add(d);
  };
  const files = [];
  const sizes = [];
  const taken = new Set();
  for (let i = 0; i < n; i++) {
    const d = pick(r, dirList);
    const ext = weighted(r, EXTS);
    let name = `${pick(r, WORDS)}${r() < 0.5 ? '-' + pick(r, WORDS) : ''}`;
    let rel = `${d}/${name}${ext}`;
    if (taken.has(rel)) rel = `${d}/${name}-${i}${ext}`;
    taken.add(rel);
    mkdir(d);
    const body = fileContent(r, pool, `// ${rel} (#${i})`, sizeOf());
    fs.writeFileSync(path.join(dir, rel), body);
    files.push(rel);
    sizes.push(Buffer.byteLength(body));
  }
  fs.writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\ndist/\n*.log\n.cache/\n');
  fs.writeFileSync(path.join(dir, 'README.md'), `# bench repo ${label}\n\nGenerated by ckpt benchmarks/run.mjs (generator v${GEN_VERSION}).\n`);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `bench-${label}`, private: true, version: '1.0.0' }, null, 2) + '\n');

  // Ignored: a node_modules-like tree, a dist/ and some logs.
  const nIgnored = Math.min(5000, Math.max(50, Math.round(n / 20)));
  for (let i = 0; i < nIgnored; i++) {
    const rel = `node_modules/${pick(r, WORDS)}-${i % 97}/${r() < 0.5 ? 'lib' : 'dist'}/${pick(r, WORDS)}-${i}.js`;
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), fileContent(r, pool, `// ${rel}`, sizeOf()));
  }
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, 'dist', `bundle-${i}.js`), fileContent(r, pool, '// bundle', 4000));
  fs.writeFileSync(path.join(dir, 'debug.log'), 'log line\n'.repeat(200));

  const genFilesMs = performance.now() - t0;
  g(dir, ['init', '-q', '-b', 'main']);
  g(dir, ['config', 'commit.gpgSign', 'false']);
  g(dir, ['add', '-A']);
  g(dir, ['commit', '-q', '--no-verify', '-m', `bench repo ${label}`]);
  // Like a clone: the committed objects in one pack (no delta search: fast).
  g(dir, ['-c', 'pack.threads=2', 'repack', '-a', '-d', '-q', '--window=0', '--depth=0']);
  // Files written in the second the index was written are "racily clean": refresh once now.
  g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] });

  // Untracked (not ignored) files: part of every snapshot.
  const nUntracked = Math.max(5, Math.round(n * 0.005));
  const untracked = [];
  for (let i = 0; i < nUntracked; i++) {
    const rel = i % 3 === 0 ? `scratch/notes-${i}.md` : `${pick(r, dirList)}/wip-${i}.ts`;
    const content = fileContent(r, pool, `// untracked ${rel}`, sizeOf());
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
    untracked.push({ rel, content });
  }
  const manifest = {
    gen: GEN_VERSION,
    n,
    files,
    sizes,
    untracked,
    ignored: nIgnored + 11,
    dirs: made.size,
    bytes: sizes.reduce((a, b) => a + b, 0),
    generatedMs: Math.round(performance.now() - t0),
    writeFilesMs: Math.round(genFilesMs),
  };
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  return { dir, manifest, reused: false };
}

/**
 * Brings a (possibly reused) repository back to its generated state: tracked
 * files as committed, untracked files present, no ckpt state, no leftover
 * loose objects from earlier runs.
 */
function resetRepo(dir, manifest) {
  g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] });
  const changed = g(dir, ['diff-files', '--name-only', '-z']);
  if (changed.length > 0) g(dir, ['checkout-index', '-f', '-z', '--stdin'], { input: changed });
  const want = new Map(manifest.untracked.map((u) => [u.rel, u.content]));
  for (const rel of splitNul(g(dir, ['ls-files', '-o', '--exclude-standard', '-z']))) {
    if (!want.has(rel)) fs.rmSync(path.join(dir, rel), { force: true });
  }
  for (const [rel, content] of want) {
    const p = path.join(dir, rel);
    let same = false;
    try {
      same = fs.readFileSync(p, 'utf8') === content;
    } catch {
      same = false;
    }
    if (!same) {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  const refs = gText(dir, ['for-each-ref', '--format=delete %(refname)', 'refs/ckpt/', 'refs/ckpt-bench/']);
  if (refs) g(dir, ['update-ref', '--stdin'], { input: refs + '\n' });
  for (const d of ['ckpt', 'bench-iso', 'bench-floor', 'bench-min-hook']) fs.rmSync(path.join(dir, '.git', d), { recursive: true, force: true });
  g(dir, ['prune', '--expire=now']);
  g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] });
}

/**
 * Edits files of the repository and puts them back. Every edit appends a
 * unique line, so each method hashes and stores its own new blobs; `restore`
 * truncates edited files back to their committed size (i.e. content).
 */
class Mutator {
  constructor(dir, manifest) {
    this.dir = dir;
    this.files = manifest.files;
    this.sizes = manifest.sizes;
    this.dirty = new Map();
    this.cursor = 0;
    this.counter = 0;
    this.stride = 7919; // prime, coprime with the file count: a scattered walk, distinct files
    if (this.files.length % this.stride === 0) this.stride = 7907;
  }
  /** N distinct file indexes, different on every call (until the list wraps). */
  choose(n) {
    const out = [];
    const len = this.files.length;
    for (let k = 0; k < n; k++) out.push((this.cursor + k * this.stride) % len);
    this.cursor = (this.cursor + n * this.stride + 1) % len;
    return out;
  }
  /** Appends a unique line to N files; returns their indexes and the original bytes of the first `sample` of them. */
  mutate(n, sample = 0) {
    const tag = `${process.pid}-${++this.counter}`;
    const idx = this.choose(n);
    const samples = idx.slice(0, sample).map((i) => [i, fs.readFileSync(path.join(this.dir, this.files[i]))]);
    this.samples = samples;
    for (const i of idx) {
      fs.appendFileSync(path.join(this.dir, this.files[i]), `// ckpt-bench edit ${tag}\n`);
      this.dirty.set(i, true);
    }
    return idx;
  }
  restore() {
    for (const i of this.dirty.keys()) {
      const p = path.join(this.dir, this.files[i]);
      if (fs.statSync(p).size !== this.sizes[i]) fs.truncateSync(p, this.sizes[i]);
    }
    this.dirty.clear();
  }
  /** Throws unless every file in `idx` is back at its committed size and the samples match byte for byte. */
  verify(idx, samples) {
    for (const i of idx) {
      const size = fs.statSync(path.join(this.dir, this.files[i])).size;
      if (size !== this.sizes[i]) throw new Error(`verification failed: ${this.files[i]} has ${size} bytes, expected ${this.sizes[i]}`);
    }
    for (const [i, bytes] of samples) {
      if (!fs.readFileSync(path.join(this.dir, this.files[i])).equals(bytes)) throw new Error(`verification failed: ${this.files[i]} content differs`);
    }
  }
}

// ---------------------------------------------------------------- methods

let tmpCounter = 0;
/** A path for a temporary index that does not exist yet (git refuses an empty file as an index). */
function tmpIndexPath() {
  return path.join(WORK, 'tmp', `index-${process.pid}-${++tmpCounter}`);
}

/** The obvious alternative: a throwaway index, `add -A`, `write-tree`, `commit-tree`. */
function gitTempIndexSnapshot(dir, seed) {
  const idx = tmpIndexPath();
  const env = { GIT_INDEX_FILE: idx };
  try {
    if (seed === 'read-tree') g(dir, ['read-tree', 'HEAD'], { env });
    else if (seed === 'user-index') fs.copyFileSync(path.join(dir, '.git', 'index'), idx);
    g(dir, ['add', '-A'], { env });
    const tree = gText(dir, ['write-tree'], { env });
    return gText(dir, ['commit-tree', tree, '-p', 'HEAD', '-m', 'snapshot'], { env });
  } finally {
    fs.rmSync(idx, { force: true });
  }
}

/**
 * A floor for any snapshot built on `git add -A`: add -A and write-tree into
 * a persistent private index (.git/bench-floor/index, seeded from the user's
 * index), nothing else: no commit, no ref, no check.
 */
function gitFloorSnapshot(dir) {
  const idx = path.join(dir, '.git', 'bench-floor', 'index');
  if (!fs.existsSync(idx)) {
    fs.mkdirSync(path.dirname(idx), { recursive: true });
    fs.copyFileSync(path.join(dir, '.git', 'index'), idx);
  }
  const env = { GIT_INDEX_FILE: idx };
  g(dir, ['add', '-A'], { env });
  return gText(dir, ['write-tree'], { env });
}

/** Restores `tree` with a temporary index: every file (`-a`), or only `paths` (NUL-separated, from diff-tree). */
function gitTempIndexRestore(dir, tree, fromTree) {
  const idx = tmpIndexPath();
  const env = { GIT_INDEX_FILE: idx };
  try {
    g(dir, ['read-tree', tree], { env });
    if (fromTree) {
      const paths = g(dir, ['diff-tree', '-r', '-z', '--name-only', '--no-renames', fromTree, tree]);
      if (paths.length > 0) g(dir, ['checkout-index', '-f', '-z', '--stdin'], { env, input: paths });
    } else {
      g(dir, ['checkout-index', '-a', '-f'], { env });
    }
  } finally {
    fs.rmSync(idx, { force: true });
  }
}

/**
 * isomorphic-git cannot use another index file, so it gets its own gitdir
 * (`.git/bench-iso`): HEAD, config, refs and an index of its own, with
 * `objects` a symlink to the real object store (like ckpt's shadow git dir
 * with GIT_OBJECT_DIRECTORY). Its index is seeded with a copy of the user's
 * index (git writes index v2 with nanosecond stat data, which isomorphic-git
 * reads), so its stat cache is warm from the start, as ckpt's is.
 */
function isoContext(dir) {
  // (runs in the isomorphic-git worker process, see IsoWorker)
  const gitdir = path.join(dir, '.git', 'bench-iso');
  if (!fs.existsSync(path.join(gitdir, 'index'))) {
    fs.mkdirSync(path.join(gitdir, 'refs', 'heads'), { recursive: true });
    fs.symlinkSync(path.join(dir, '.git', 'objects'), path.join(gitdir, 'objects'));
    fs.writeFileSync(path.join(gitdir, 'HEAD'), 'ref: refs/heads/bench\n');
    fs.writeFileSync(path.join(gitdir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfilemode = true\n');
    fs.copyFileSync(path.join(dir, '.git', 'index'), path.join(gitdir, 'index'));
  }
  return { fs, dir, gitdir, cache: {}, head: gText(dir, ['rev-parse', 'HEAD']) };
}

const ISO_AUTHOR = { name: 'bench', email: 'bench@localhost' };

/** statusMatrix against HEAD, stage what differs (add/remove) into the private index, commit on refs/heads/bench of the shadow gitdir. */
async function isoSnapshot(ctx) {
  const { fs: ifs, dir, gitdir, cache } = ctx;
  const matrix = await git.statusMatrix({ fs: ifs, dir, gitdir, cache, ref: ctx.head });
  const add = [];
  const remove = [];
  for (const [file, , w, s] of matrix) {
    if (w === 0) {
      if (s !== 0) remove.push(file);
    } else if (!((w === 1 && s === 1) || (w === 2 && s === 2))) add.push(file);
  }
  if (add.length > 0) await git.add({ fs: ifs, dir, gitdir, cache, filepath: add });
  for (const f of remove) await git.remove({ fs: ifs, dir, gitdir, cache, filepath: f });
  const oid = await git.commit({ fs: ifs, dir, gitdir, cache, message: 'snapshot', author: ISO_AUTHOR });
  return { oid, added: add.length, removed: remove.length };
}

/** Files that differ between two commits (walk of both trees, equal subtrees pruned), then checkout of those paths from `to`. */
async function isoRestore(ctx, fromCommit, toCommit) {
  const { fs: ifs, dir, gitdir, cache } = ctx;
  const changed = await git.walk({
    fs: ifs,
    dir,
    gitdir,
    cache,
    trees: [git.TREE({ ref: fromCommit }), git.TREE({ ref: toCommit })],
    map: async (filepath, [a, b]) => {
      if (filepath === '.') return undefined;
      if (a && b && (await a.oid()) === (await b.oid()) && (await a.mode()) === (await b.mode())) return null;
      const ta = a && (await a.type());
      const tb = b && (await b.type());
      if (ta === 'blob' || tb === 'blob') return filepath;
      return undefined;
    },
  });
  if (changed.length === 0) return 0;
  await git.checkout({ fs: ifs, dir, gitdir, cache, ref: toCommit, filepaths: changed, force: true, noUpdateHead: true });
  return changed.length;
}

/**
 * isomorphic-git runs in a separate, long-lived Node process (in-process
 * from its own point of view: timings are taken inside it, with a cache
 * object shared across calls). Keeping its caches (a whole packfile, parsed
 * indexes) out of this process matters: Linux fork() cost grows with the
 * parent's memory, and ckpt and the git alternatives spawn git from here.
 */
class IsoWorker {
  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), ['--iso-worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: process.env, execArgv: ['--expose-gc'] });
    this.next = 0;
    this.pending = new Map();
    this.child.on('message', (m) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve({ ms: m.ms, value: m.value });
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`isomorphic-git worker exited with ${code}`));
      this.pending.clear();
    });
  }
  /**
   * Runs `op` in the worker; resolves to { ms (measured in the worker), value }
   * once the worker has collected its garbage and had 100 ms to settle, so
   * that nothing of it runs while the next method is timed.
   */
  async call(op, args = {}) {
    const id = ++this.next;
    const res = await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, args });
    });
    await new Promise((r) => setTimeout(r, 100));
    return res;
  }
  close() {
    if (this.child.connected) this.child.disconnect();
  }
  kill() {
    this.child.kill('SIGKILL');
  }
}

function isoWorkerMain() {
  let ctx = null;
  const shared = new Map();
  const ops = {
    open: ({ dir }) => {
      ctx = isoContext(dir);
      return { gitdir: ctx.gitdir };
    },
    snapshot: () => isoSnapshot(ctx),
    restore: ({ from, to }) => isoRestore(ctx, from, to),
    readBlobs: async ({ gitdir, oids, fresh }) => {
      if (!fresh && !shared.has(gitdir)) shared.set(gitdir, {});
      const cache = fresh ? {} : shared.get(gitdir);
      let bytes = 0;
      for (const oid of oids) bytes += (await git.readBlob({ fs, gitdir, oid, cache })).blob.length;
      return bytes;
    },
    rss: () => process.memoryUsage().rss,
  };
  process.on('message', async ({ id, op, args }) => {
    try {
      const t0 = performance.now();
      const value = await ops[op](args);
      const ms = performance.now() - t0;
      // Collect now, untimed, before answering: left to itself V8 finishes a
      // large heap's GC on helper threads after the call, on the cores the
      // next method (ckpt or git) is being timed on.
      globalThis.gc?.();
      process.send({ id, ms, value });
    } catch (err) {
      process.send({ id, error: String(err?.stack ?? err) });
    }
  });
}

// ---------------------------------------------------------------- measurement loop

/**
 * Runs `methods` interleaved, `iters` rounds. Each method has `prepare()`
 * (untimed, returns a context) and `run(ctx)` (timed) and optional
 * `check(ctx, value)` (untimed). A method stops early once it has 3 samples
 * and used up the time budget, or after 1 sample slower than SLOW_MS.
 */
async function measure(label, methods, iters, budgetMs) {
  const state = methods.map((m) => ({ m, samples: [], spent: 0, done: false, note: m.note ?? '', error: null }));
  for (let it = 0; it < iters; it++) {
    // Rotate the order so drift (page cache, other load) spreads over all methods.
    const order = state.map((_, i) => state[(i + it) % state.length]);
    for (const s of order) {
      if (s.done) continue;
      if (s.m.iters !== undefined && s.samples.length >= s.m.iters) {
        s.done = true;
        s.note = [s.note, `${s.m.iters} iteration${s.m.iters === 1 ? '' : 's'} only`].filter(Boolean).join('; ');
        continue;
      }
      const t0 = performance.now();
      try {
        const ctx = await s.m.prepare();
        // `runTimed` methods measure themselves (the isomorphic-git worker).
        const { ms, value } = s.m.runTimed ? await s.m.runTimed(ctx) : await timed(() => s.m.run(ctx));
        if (s.m.check) await s.m.check(ctx, value);
        s.samples.push(ms);
        if (ms > SLOW_MS) {
          s.done = true;
          s.note = [s.note, `one iteration took ${fmt(ms)}; not repeated`].filter(Boolean).join('; ');
        }
      } catch (err) {
        s.done = true;
        s.error = String(err?.message ?? err).split('\n')[0];
        s.note = [s.note, `FAILED: ${s.error}`].filter(Boolean).join('; ');
      }
      s.spent += performance.now() - t0;
      const enough = s.samples.length >= 3 || (s.samples.length >= 1 && median(s.samples) > LONG_MS);
      if (enough && s.spent > budgetMs && it < iters - 1) {
        s.done = true;
        s.note = [s.note, `stopped at ${s.samples.length} iterations (time budget)`].filter(Boolean).join('; ');
      }
    }
  }
  const rows = state.map((s) => ({ case: label, method: s.m.name, key: s.m.key, samples: s.samples.map((x) => Math.round(x * 100) / 100), median: median(s.samples), p90: quantile(s.samples, 0.9), min: Math.min(...s.samples), n: s.samples.length, note: s.note, error: s.error }));
  const base = rows.find((r) => r.key === 'ckpt' || r.key === 'cat-file');
  for (const r of rows) r.ratio = base && Number.isFinite(base.median) && r !== base ? r.median / base.median : null;
  for (const r of rows) step(`${label.padEnd(22)} ${r.method.padEnd(44)} median ${fmt(r.median).padStart(9)}  p90 ${fmt(r.p90).padStart(9)}  n=${r.n}${r.ratio ? `  ×${r.ratio.toFixed(1)}` : ''}${r.note ? `  (${r.note})` : ''}`);
  return rows;
}

// ---------------------------------------------------------------- benchmarks per size

async function benchSize(label, opts, lib) {
  const p = plan(label, opts.quick);
  log(`\n== ${label} files ==`);
  const t0 = performance.now();
  const { dir, manifest, reused } = ensureRepo(label);
  step(`${reused ? 'reusing' : 'generated'} ${path.relative(ROOT, dir)}: ${manifest.files.length + 3} tracked files in ${manifest.dirs} dirs, ${(manifest.bytes / 1e6).toFixed(1)} MB, ${manifest.untracked.length} untracked, ${manifest.ignored} ignored${reused ? '' : ` (${(manifest.generatedMs / 1000).toFixed(1)} s)`}`);
  resetRepo(dir, manifest);
  step(`reset in ${fmt(performance.now() - t0)}`);
  const out = { label, dir, gen: { files: manifest.files.length + 3, dirs: manifest.dirs, bytes: manifest.bytes, untracked: manifest.untracked.length, ignored: manifest.ignored, generatedMs: manifest.generatedMs, reused }, snapshot: [], rollback: [], hook: [], reads: [], breakdown: {} };
  const mut = new Mutator(dir, manifest);
  const repo = await lib.openRepo(dir);
  const refreshUserIndex = () => g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] });
  // Warm ckpt: first snapshot seeds its private index from the user's index.
  out.firstSnapshotMs = (await timed(() => lib.takeSnapshot(repo, { kind: 'manual', force: true }))).ms;
  step(`ckpt's first snapshot (private index seeded from the user's index): ${fmt(out.firstSnapshotMs)}`);
  out.rssMB = Math.round(process.memoryUsage().rss / 1e6);
  let iso = opts.iso ? new IsoWorker() : null;
  let isoSlow = false;
  if (iso) {
    await iso.call('open', { dir });
    // The first snapshot (statusMatrix over everything, index seeded with the user's) gets SLOW_MS at most.
    const pending = iso.call('snapshot');
    pending.catch(() => undefined);
    let timer;
    const first = await Promise.race([pending, new Promise((resolve) => (timer = setTimeout(() => resolve(null), SLOW_MS)))]);
    clearTimeout(timer);
    const ms = first ? first.ms : Infinity;
    step(`isomorphic-git warm-up snapshot (its index seeded from the user's): ${first ? fmt(ms) : `not done after ${SLOW_MS / 1000} s`}`);
    if (!first) {
      out.isoNote = `isomorphic-git's first snapshot (statusMatrix + add + commit, nothing changed) did not finish within ${SLOW_MS / 1000} s, so isomorphic-git was skipped for ${label} except object reads`;
      iso.kill();
      iso = null;
      fs.rmSync(path.join(dir, '.git', 'bench-iso'), { recursive: true, force: true });
    } else if (ms > ISO_SLOW_MS) {
      isoSlow = true;
      out.isoNote = `isomorphic-git's first snapshot took ${fmt(ms)} (> ${ISO_SLOW_MS / 1000} s), so it was measured once, for the 10-file cases only`;
    }
    if (out.isoNote) step(out.isoNote);
  }

  // ---- snapshots
  for (const n of [0, 10, 1000]) {
    // Every method starts from: committed state + untracked files, its own
    // state warm (a snapshot of exactly that), then N files edited.
    const before = async (warm) => {
      mut.restore();
      refreshUserIndex();
      if (warm) await warm();
      mut.mutate(n);
    };
    const methods = [
      { key: 'ckpt', name: 'ckpt takeSnapshot (warm private index)', prepare: () => before(() => lib.takeSnapshot(repo, { kind: 'manual' })), run: () => lib.takeSnapshot(repo, { kind: 'manual', force: true }), check: (_, v) => assert(v.created, 'no snapshot recorded') },
    ];
    if (n === 0) {
      methods.push({ key: 'ckpt-noforce', name: 'ckpt takeSnapshot, unchanged → not recorded', prepare: () => before(() => lib.takeSnapshot(repo, { kind: 'manual' })), run: () => lib.takeSnapshot(repo, { kind: 'manual' }), check: (_, v) => assert(!v.created, 'recorded although unchanged') });
    }
    methods.push(
      { key: 'git-fresh', name: 'git: fresh temp index, add -A+write-tree+commit-tree', prepare: () => before(), run: () => gitTempIndexSnapshot(dir, null) },
      { key: 'git-readtree', name: 'git: temp index seeded by read-tree HEAD', prepare: () => before(), run: () => gitTempIndexSnapshot(dir, 'read-tree') },
      { key: 'git-userindex', name: "git: temp index = copy of user's index", prepare: () => before(), run: () => gitTempIndexSnapshot(dir, 'user-index') },
      { key: 'git-floor', name: 'floor: add -A + write-tree, warm private index', prepare: () => before(() => gitFloorSnapshot(dir)), run: () => gitFloorSnapshot(dir) },
    );
    if (iso && (!isoSlow || n === 10)) {
      methods.push({ key: 'iso', name: 'isomorphic-git statusMatrix+add+commit', iters: isoSlow ? 1 : undefined, prepare: () => before(() => iso.call('snapshot')), runTimed: () => iso.call('snapshot'), check: (_, v) => assert(v.added >= n, `isomorphic-git staged ${v.added} files, expected ≥ ${n}`) });
    }
    out.snapshot.push(...(await measure(`snapshot, ${n} changed`, methods, p.snap, p.budgetMs)));
    mut.restore();
  }

  // ---- rollback
  for (const n of [10, 1000]) {
    // Each iteration: base snapshot, edit N files, snapshot (the "step"), then
    // the method restores the base; the edited files are verified afterwards.
    const setup = async () => {
      mut.restore();
      refreshUserIndex();
      const base = (await lib.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      const idx = mut.mutate(n, 5);
      const samples = mut.samples;
      const stepSnap = (await lib.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      return { base, step: stepSnap, idx, samples };
    };
    const check = (ctx) => mut.verify(ctx.idx, ctx.samples);
    const methods = [
      { key: 'ckpt', name: 'ckpt rollback (incl. pre-rollback snapshot)', prepare: setup, run: (c) => lib.rollback(repo, { target: c.base.id }), check: (c, v) => { assert(v.changes.length === n, `ckpt rolled back ${v.changes.length} files, expected ${n}`); check(c); } },
      { key: 'git-all', name: 'git: temp index read-tree + checkout-index -a -f', prepare: setup, run: (c) => gitTempIndexRestore(dir, c.base.tree, null), check },
      { key: 'git-diff', name: 'git: diff-tree + read-tree + checkout-index paths', prepare: setup, run: (c) => gitTempIndexRestore(dir, c.base.tree, c.step.tree), check },
    ];
    if (iso && (!isoSlow || n === 10)) {
      methods.push({ key: 'iso', name: 'isomorphic-git walk(diff) + checkout filepaths', iters: isoSlow ? 1 : undefined, prepare: setup, runTimed: (c) => iso.call('restore', { from: c.step.id, to: c.base.id }), check: (c, v) => { assert(v === n, `isomorphic-git restored ${v} files, expected ${n}`); check(c); } });
    }
    out.rollback.push(...(await measure(`rollback, ${n}-file step`, methods, p.rb, p.budgetMs)));
    mut.restore();
  }

  // ---- whole-process hook
  mut.restore();
  refreshUserIndex();
  await lib.takeSnapshot(repo, { kind: 'manual' });
  out.hook = await benchHook(label, dir, repo, mut, manifest, p.hook, lib);
  mut.restore();

  // ---- object reads
  if (!iso && opts.iso) iso = new IsoWorker();
  out.reads = await benchReads(label, dir, manifest, mut, p.reads, iso);
  if (iso) {
    out.isoWorkerRssMB = Math.round((await iso.call('rss')).value / 1e6);
    iso.close();
  }

  // ---- where the time goes (git processes and their own run time, from GIT_TRACE_PERFORMANCE)
  out.breakdown = await breakdown(dir, repo, mut, manifest, lib, opts.quick ? 3 : 5);
  mut.restore();
  resetRepo(dir, manifest);
  out.totalMs = performance.now() - t0;
  step(`${label} done in ${fmt(out.totalMs)}`);
  return out;
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function hookPayload(dir, rel, i) {
  return JSON.stringify({ hook_event_name: 'PreToolUse', cwd: dir, session_id: 'bench', tool_name: 'Edit', tool_input: { file_path: path.join(dir, rel), old_string: 'a', new_string: 'b' }, tool_use_id: `toolu_bench_${i}` });
}

function spawnTimed(args, { cwd, input, env, shell }) {
  const t0 = performance.now();
  const fullEnv = env ? { ...process.env, ...env } : { ...process.env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const r = shell ? spawnSync('/bin/sh', ['-c', shell], { cwd, input, env: fullEnv, maxBuffer: 1 << 26 }) : spawnSync(process.execPath, args, { cwd, input, env: fullEnv, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${shell ?? `node ${args.join(' ')}`} exited ${r.status}: ${String(r.stderr).slice(0, 300)}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

async function benchHook(label, dir, repo, mut, manifest, iters, lib) {
  const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
  // What Claude Code runs: the settings' command line, through a shell.
  const installed = lib.claudeHookCommand(bin, process.execPath);
  const hookLog = path.join(repo.commonDir, 'ckpt', 'hook.log');
  const logSize = () => (fs.existsSync(hookLog) ? fs.statSync(hookLog).size : 0);
  const tip = () => gText(dir, ['rev-parse', '--verify', '-q', repo.ref]);
  const samples = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = tip();
    const size0 = logSize();
    const { ms, stdout } = spawnTimed([], { cwd: dir, shell: installed, input: hookPayload(dir, manifest.files[idx[0]], i) });
    assert(stdout.length === 0, 'the hook printed on stdout');
    assert(logSize() === size0, `the hook logged an error: ${fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8').trim().split('\n').pop() : ''}`);
    assert(tip() !== before, 'the hook recorded no snapshot');
    samples.push(ms);
  }
  const rows = [mkRow(`hook, 10 files changed`, 'the installed hook command via sh -c (PreToolUse)', 'ckpt', samples)];
  const direct = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = tip();
    direct.push(spawnTimed([bin, 'hook', 'claude'], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `direct-${i}`) }).ms);
    assert(tip() !== before, 'the hook recorded no snapshot');
  }
  rows.push(mkRow(`hook, 10 files changed`, `node bin/ckpt.js hook claude, environment as is${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS set)' : ''}`, 'ckpt-direct', direct));
  // A floor for a Node hook with the same plumbing (see min-hook.mjs); its first run seeds its index.
  const minHook = path.join(ROOT, 'benchmarks', 'min-hook.mjs');
  const minRef = () => gText(dir, ['rev-parse', '--verify', '-q', 'refs/ckpt-bench/min-hook'], { ok: [0, 1] });
  spawnTimed([minHook], { cwd: dir, input: hookPayload(dir, manifest.files[0], 'warm') });
  const minSamples = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = minRef();
    minSamples.push(spawnTimed([minHook], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `min-${i}`) }).ms);
    assert(minRef() !== before, 'min-hook recorded no commit');
  }
  rows.push(mkRow('hook, 10 files changed', 'floor: minimal Node hook, 5 git processes (min-hook.mjs)', 'min-hook', minSamples));
  // Floors: Node start-up, and the CLI up to the hook's dispatch without a snapshot.
  const floor = [];
  const floorNoCa = [];
  const early = [];
  for (let i = 0; i < iters; i++) {
    floor.push(spawnTimed(['-e', '0'], { cwd: dir }).ms);
    if (process.env.NODE_EXTRA_CA_CERTS) floorNoCa.push(spawnTimed(['-e', '0'], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: undefined } }).ms);
    early.push(spawnTimed([bin, 'hook', 'bench-unknown-agent'], { cwd: dir, input: '{}', env: { NODE_EXTRA_CA_CERTS: undefined } }).ms);
  }
  rows.push(mkRow('hook, 10 files changed', `node -e 0 (Node start-up floor, environment as is)`, 'node-floor', floor));
  if (floorNoCa.length) rows.push(mkRow('hook, 10 files changed', 'node -e 0 with NODE_EXTRA_CA_CERTS unset', 'node-floor-noca', floorNoCa));
  rows.push(mkRow('hook, 10 files changed', 'node bin/ckpt.js hook <unknown> (CLI load, no snapshot; NODE_EXTRA_CA_CERTS unset)', 'cli-floor', early));
  for (const r of rows) step(`${r.case.padEnd(22)} ${r.method.padEnd(44)} median ${fmt(r.median).padStart(9)}  p90 ${fmt(r.p90).padStart(9)}  n=${r.n}`);
  return rows;
}

function mkRow(kase, method, key, samples, note = '') {
  return { case: kase, method, key, samples: samples.map((x) => Math.round(x * 100) / 100), median: median(samples), p90: quantile(samples, 0.9), min: Math.min(...samples), n: samples.length, note, ratio: null };
}

/** Reads blobs through one `git cat-file --batch` vs isomorphic-git readBlob (fresh cache = as in a new process, shared cache = long-lived process). */
async function benchReads(label, dir, manifest, mut, iters, iso) {
  const headBlobs = [];
  for (const line of g(dir, ['ls-tree', '-r', '-z', 'HEAD']).toString('utf8').split('\0')) {
    const m = /^100644 blob ([0-9a-f]{40})\t/.exec(line);
    if (m) headBlobs.push(m[1]);
  }
  const r = rng32(42);
  const choose = (arr, k) => Array.from({ length: k }, () => arr[Math.floor(r() * arr.length)]);
  // Loose blobs, as ckpt's own snapshots leave them: hash 200 edited files with -w.
  const idx = mut.mutate(200);
  const loose = gText(dir, ['hash-object', '-w', '--stdin-paths'], { input: idx.map((i) => manifest.files[i]).join('\n') + '\n' }).split('\n').filter(Boolean);
  mut.restore();
  const sets = [
    ['packed', 10, choose(headBlobs, 10)],
    ['packed', 200, choose(headBlobs, 200)],
    ['loose', 10, loose.slice(0, 10)],
    ['loose', 200, loose.slice(0, 200)],
  ];
  const gitdir = path.join(dir, '.git');
  const rows = [];
  for (const [where, k, oids] of sets) {
    const methods = [
      {
        key: 'cat-file',
        name: 'git cat-file --batch (one process)',
        prepare: () => oids,
        run: (o) => {
          const outBuf = g(dir, ['cat-file', '--batch'], { input: o.join('\n') + '\n' });
          let pos = 0;
          let count = 0;
          while (pos < outBuf.length) {
            const nl = outBuf.indexOf(10, pos);
            const size = Number(outBuf.toString('latin1', pos, nl).split(' ')[2]);
            pos = nl + 1 + size + 1;
            count++;
          }
          return count;
        },
        check: (o, v) => assert(v === o.length, 'cat-file returned too few objects'),
      },
    ];
    if (iso) {
      methods.push(
        { key: 'iso-cold', name: 'isomorphic-git readBlob, fresh cache', prepare: () => oids, runTimed: (o) => iso.call('readBlobs', { gitdir, oids: o, fresh: true }) },
        { key: 'iso-warm', name: 'isomorphic-git readBlob, shared cache', prepare: async () => { await iso.call('readBlobs', { gitdir, oids: oids.slice(0, 1), fresh: false }); return oids; }, runTimed: (o) => iso.call('readBlobs', { gitdir, oids: o, fresh: false }) },
      );
    }
    rows.push(...(await measure(`read ${k} ${where} blobs`, methods, iters, 30_000)));
  }
  return rows;
}

/**
 * Where the time of the in-process snapshot (10 changed), the rollback of a
 * 10-file step and the hook process goes: each is run `reps` times with
 * GIT_TRACE_PERFORMANCE on, which makes every git process log its own run
 * time ("git command: …"). The repetition with the median total is reported:
 * how many git processes, how long they ran, and the rest (Node, module
 * load, spawning and reaping processes).
 */
async function breakdown(dir, repo, mut, manifest, lib, reps) {
  const logFile = path.join(WORK, 'tmp', `gittrace-${process.pid}`);
  const read = () => {
    const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n') : [];
    fs.rmSync(logFile, { force: true });
    const calls = [];
    for (const l of lines) {
      const m = /performance: ([0-9.]+) s: git command: (.*)$/.exec(l);
      if (!m) continue;
      const args = m[2].split(' ').slice(1);
      // The subcommand: the first argument that is not an option (skipping `-c key=value`).
      let cmd = '?';
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '-c' || args[i] === '-C') i++;
        else if (!args[i].startsWith('-')) {
          cmd = args[i];
          break;
        }
      }
      calls.push({ cmd, ms: Number(m[1]) * 1000 });
    }
    return { count: calls.length, gitMs: calls.reduce((a, c) => a + c.ms, 0), calls: calls.map((c) => `${c.cmd} ${c.ms < 10 ? c.ms.toFixed(1) : c.ms.toFixed(0)}`).join(', ') };
  };
  const runs = { snapshot: [], rollback: [], hook: [] };
  fs.rmSync(logFile, { force: true });
  try {
    for (let r = 0; r < reps; r++) {
      // in-process snapshot, 10 changed
      mut.restore();
      await lib.takeSnapshot(repo, { kind: 'manual' });
      mut.mutate(10);
      process.env.GIT_TRACE_PERFORMANCE = logFile;
      let t = await timed(() => lib.takeSnapshot(repo, { kind: 'manual', force: true }));
      delete process.env.GIT_TRACE_PERFORMANCE;
      runs.snapshot.push({ totalMs: t.ms, ...read() });
      // rollback of a 10-file step
      mut.restore();
      const base = (await lib.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      mut.mutate(10);
      await lib.takeSnapshot(repo, { kind: 'manual', force: true });
      process.env.GIT_TRACE_PERFORMANCE = logFile;
      t = await timed(() => lib.rollback(repo, { target: base.id }));
      delete process.env.GIT_TRACE_PERFORMANCE;
      runs.rollback.push({ totalMs: t.ms, ...read() });
      mut.dirty.clear();
      // the hook process
      const idx = mut.mutate(10);
      const h = spawnTimed([path.join(UNDER_TEST, 'bin', 'ckpt.js'), 'hook', 'claude'], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `trace-${r}`), env: { GIT_TRACE_PERFORMANCE: logFile } });
      runs.hook.push({ totalMs: h.ms, ...read() });
    }
  } finally {
    delete process.env.GIT_TRACE_PERFORMANCE;
  }
  const res = { reps };
  for (const [k, list] of Object.entries(runs)) {
    const sorted = [...list].sort((a, b) => a.totalMs - b.totalMs);
    res[k] = sorted[Math.floor((sorted.length - 1) / 2)];
  }
  step(`git processes: snapshot ${res.snapshot.count} (${fmt(res.snapshot.gitMs)} of ${fmt(res.snapshot.totalMs)} inside git: ${res.snapshot.calls}); rollback ${res.rollback.count} (${fmt(res.rollback.gitMs)} of ${fmt(res.rollback.totalMs)}); hook ${res.hook.count} (${fmt(res.hook.gitMs)} of ${fmt(res.hook.totalMs)})`);
  return res;
}

// ---------------------------------------------------------------- size-independent measurements

/** Node start-up and module load of the hook path, and the cost of one git spawn. */
async function benchStartup(iters) {
  const out = {};
  const cli = path.join(UNDER_TEST, 'dist', 'cli.js');
  const chunks = path.join(UNDER_TEST, 'dist', 'chunks');
  const hooksChunk = fs.readdirSync(chunks).filter((f) => f.endsWith('.js')).find((f) => fs.readFileSync(path.join(chunks, f), 'utf8').includes('function handleClaudeHook'));
  const hookCmdChunk = fs.readdirSync(chunks).filter((f) => f.endsWith('.js')).find((f) => fs.readFileSync(path.join(chunks, f), 'utf8').includes('function runHook'));
  const script = `
    const t = [performance.now()];
    await import(${JSON.stringify(pathToFileURL(cli).href)}); t.push(performance.now());
    ${hookCmdChunk ? `await import(${JSON.stringify(pathToFileURL(path.join(chunks, hookCmdChunk)).href)});` : ''} t.push(performance.now());
    ${hooksChunk ? `await import(${JSON.stringify(pathToFileURL(path.join(chunks, hooksChunk)).href)});` : ''} t.push(performance.now());
    console.log(JSON.stringify({ boot: t[0], cli: t[1] - t[0], hookCmd: t[2] - t[1], hooksLib: t[3] - t[2] }));`;
  const deps = `
    const r = {}; let t = performance.now();
    for (const m of ['execa', 'proper-lockfile', 'write-file-atomic']) { await import(m); const n = performance.now(); r[m] = n - t; t = n; }
    console.log(JSON.stringify(r));`;
  const a = [];
  const b = [];
  for (let i = 0; i < iters; i++) {
    a.push(JSON.parse(spawnTimed(['--input-type=module', '-e', script], { cwd: ROOT }).stdout.toString()));
    b.push(JSON.parse(spawnTimed(['--input-type=module', '-e', deps], { cwd: UNDER_TEST }).stdout.toString()));
  }
  const med = (arr, k) => median(arr.map((x) => x[k]));
  out.moduleLoad = { nodeBootToUserCode: med(a, 'boot'), cli: med(a, 'cli'), hookCommand: med(a, 'hookCmd'), hooksLibrary: med(a, 'hooksLib'), execa: med(b, 'execa'), properLockfile: med(b, 'proper-lockfile'), writeFileAtomic: med(b, 'write-file-atomic'), chunks: { hookCmdChunk, hooksChunk } };
  // One git spawn: spawnSync vs execa (what ckpt's git() uses).
  const s1 = [];
  const s2 = [];
  for (let i = 0; i < 15; i++) {
    let t0 = performance.now();
    run('git', ['version']);
    s1.push(performance.now() - t0);
    t0 = performance.now();
    await execa('git', ['version'], { encoding: 'buffer', reject: false, stdin: 'ignore' });
    s2.push(performance.now() - t0);
  }
  out.spawn = { spawnSync: median(s1), execa: median(s2) };
  step(`module load (median of ${iters}): node boot→user code ${fmt(out.moduleLoad.nodeBootToUserCode)}, dist/cli.js ${fmt(out.moduleLoad.cli)}, hook command ${fmt(out.moduleLoad.hookCommand)}, hooks+snapshot library ${fmt(out.moduleLoad.hooksLibrary)} (execa alone ${fmt(out.moduleLoad.execa)})`);
  step(`one \`git version\`: spawnSync ${fmt(out.spawn.spawnSync)}, execa ${fmt(out.spawn.execa)}`);
  return out;
}

// ---------------------------------------------------------------- machine and reporting

function machineInfo() {
  let cpu = 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  let fsType = 'unknown';
  try {
    fsType = run('df', ['-T', WORK]).toString().trim().split('\n').pop().split(/\s+/)[1];
  } catch {
    // no df
  }
  const isoVersion = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'isomorphic-git', 'package.json'), 'utf8')).version;
  let commit = 'unknown';
  let dirty = '';
  try {
    commit = gText(ROOT, ['rev-parse', '--short', 'HEAD']);
    dirty = gText(ROOT, ['status', '--porcelain', '--', 'src']) ? ' (src/ has uncommitted changes)' : '';
  } catch {
    // not a checkout
  }
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    git: gText(ROOT, ['--version']).replace(/^git version /, ''),
    iso: isoVersion,
    fs: fsType,
    kernel: `${os.type()} ${os.release()}`,
    commit: commit + dirty,
    loadStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function mdTable(headers, rows) {
  const right = new Set(['median', 'p90', 'min', 'n', 'ratio', 'total', 'git processes', 'time inside git', 'outside git']);
  return [`| ${headers.join(' | ')} |`, `|${headers.map((h) => (right.has(h) ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function resultRows(rows) {
  return rows.map((r) => [r.case, r.method, fmt(r.median), fmt(r.p90), String(r.n), r.ratio ? `${r.ratio.toFixed(1)}×` : r.key === 'ckpt' || r.key === 'cat-file' ? '1.0× (base)' : '', r.note || '']);
}

function targetsOf(results) {
  const r10k = results.find((r) => r.label === '10k');
  const get = (list, kase, key) => list?.find((x) => x.case === kase && x.key === key);
  const rows = [];
  const add = (name, limit, row) => rows.push({ name, limit, median: row?.median, p90: row?.p90, met: row ? row.median <= limit : null });
  add('snapshot, 10 changed files (ckpt takeSnapshot, in-process)', TARGETS.snapshot10, get(r10k?.snapshot, 'snapshot, 10 changed', 'ckpt'));
  add('rollback of a 10-file step (ckpt rollback, in-process)', TARGETS.rollback10, get(r10k?.rollback, 'rollback, 10-file step', 'ckpt'));
  add('whole-process `ckpt hook claude`, as installed', TARGETS.hook, get(r10k?.hook, 'hook, 10 files changed', 'ckpt'));
  return rows;
}

function writeMarkdown(file, { opts, machine, results, startup, startedAt, elapsedMs, loadEnd }) {
  const L = [];
  L.push('# ckpt benchmark results', '');
  L.push(`Generated by \`node benchmarks/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\` on ${startedAt.toISOString()} (took ${(elapsedMs / 60000).toFixed(1)} min).`);
  L.push('All times are wall-clock milliseconds; **median** and **p90** over the iterations (n). Ratios are alternative ÷ ckpt (medians): above 1× means ckpt is faster; for object reads they are ÷ `git cat-file --batch`.', '');
  L.push('## Machine', '');
  L.push(mdTable(['', ''], [
    ['CPU', `${machine.cpu} (${machine.cores} cores)`],
    ['RAM', `${machine.ramGiB} GiB`],
    ['OS', machine.kernel],
    ['Node', machine.node],
    ['NODE_EXTRA_CA_CERTS', process.env.NODE_EXTRA_CA_CERTS ? `set (${process.env.NODE_EXTRA_CA_CERTS}); the installed hook command clears it` : 'not set'],
    ['git', machine.git],
    ['isomorphic-git', machine.iso],
    ['filesystem of benchmarks/.work', machine.fs],
    ['ckpt commit', machine.commit],
    ['load average at start / end', `${machine.loadStart} / ${loadEnd}`],
    ['mode', `${opts.quick ? '--quick' : 'default'}; sizes ${results.map((r) => r.label).join(', ')}`],
  ]));
  L.push('', 'The machine was shared with other work while this ran, so expect noise; p90 shows how much.', '');
  L.push('## Targets (10k files)', '');
  L.push(mdTable(['target', 'limit (median)', 'median', 'p90', 'met?'], targetsOf(results).map((t) => [t.name, `≤ ${t.limit} ms`, fmt(t.median), fmt(t.p90), t.met === null ? 'not measured' : t.met ? '**yes**' : '**no**'])));
  L.push('');
  for (const r of results) {
    L.push(`## ${r.label} files`, '');
    L.push(`Repository: ${r.gen.files} tracked files in ${r.gen.dirs} directories (${(r.gen.bytes / 1e6).toFixed(1)} MB), ${r.gen.untracked} untracked, ${r.gen.ignored} ignored; committed objects in one pack.${r.gen.reused ? ' Reused from an earlier run.' : ` Generated in ${(r.gen.generatedMs / 1000).toFixed(1)} s.`}`);
    if (r.isoNote) L.push('', `Note: ${r.isoNote}.`);
    L.push('', `ckpt's first snapshot of the repository (no chain yet; private index seeded from a copy of the user's index): ${fmt(r.firstSnapshotMs)}.`);
    L.push('', `Memory (RSS) of the benchmark process, from which ckpt and git run: ${r.rssMB} MB; of the isomorphic-git worker at the end: ${r.isoWorkerRssMB ?? '—'} MB.`);
    L.push('', '### Snapshot', '');
    L.push(mdTable(['case', 'method', 'median', 'p90', 'n', 'ratio', 'note'], resultRows(r.snapshot)));
    L.push('', '### Rollback', '');
    L.push(mdTable(['case', 'method', 'median', 'p90', 'n', 'ratio', 'note'], resultRows(r.rollback)));
    L.push('', '### Whole-process hook', '');
    L.push(mdTable(['case', 'method', 'median', 'p90', 'n', 'ratio', 'note'], resultRows(r.hook)));
    L.push('', '### Object reads', '');
    L.push(mdTable(['case', 'method', 'median', 'p90', 'n', 'ratio', 'note'], resultRows(r.reads)));
    const b = r.breakdown;
    if (b?.snapshot) {
      L.push('', `### Where the time goes (GIT_TRACE_PERFORMANCE; the median of ${b.reps} runs)`, '');
      L.push(mdTable(['operation', 'total', 'git processes', 'time inside git', 'outside git', 'calls (ms inside git each)'], [
        ['snapshot, 10 changed (in-process)', fmt(b.snapshot.totalMs), String(b.snapshot.count), fmt(b.snapshot.gitMs), fmt(b.snapshot.totalMs - b.snapshot.gitMs), b.snapshot.calls],
        ['rollback of a 10-file step (in-process)', fmt(b.rollback.totalMs), String(b.rollback.count), fmt(b.rollback.gitMs), fmt(b.rollback.totalMs - b.rollback.gitMs), b.rollback.calls],
        ['`ckpt hook claude` process', fmt(b.hook.totalMs), String(b.hook.count), fmt(b.hook.gitMs), fmt(b.hook.totalMs - b.hook.gitMs), b.hook.calls],
      ]));
      L.push('', '"Time inside git" is what each git process reports for itself; "outside git" is the rest: Node (and, for the hook, its start-up and module loading), plus starting, feeding and reaping the git processes.');
    }
    L.push('');
  }
  if (startup) {
    const m = startup.moduleLoad;
    L.push('## Start-up and module load (hook path)', '');
    L.push(mdTable(['what', 'median'], [
      ['Node boot until user code runs (`performance.now()` at first line)', fmt(m.nodeBootToUserCode)],
      ['import dist/cli.js', fmt(m.cli)],
      [`import the hook command chunk (${m.chunks.hookCmdChunk ?? '?'})`, fmt(m.hookCommand)],
      [`import the hooks + snapshot library chunk (${m.chunks.hooksChunk ?? '?'}, pulls execa, proper-lockfile, write-file-atomic)`, fmt(m.hooksLibrary)],
      ['…of which `import("execa")` alone (separate process)', fmt(m.execa)],
      ['…`import("proper-lockfile")` after execa', fmt(m.properLockfile)],
      ['…`import("write-file-atomic")` after those', fmt(m.writeFileAtomic)],
      ['one `git version` via spawnSync', fmt(startup.spawn.spawnSync)],
      ['one `git version` via execa (as ckpt runs git)', fmt(startup.spawn.execa)],
    ]));
    L.push('');
  }
  L.push('## Method', '');
  L.push(...METHOD_NOTES, '');
  fs.writeFileSync(file, L.join('\n'));
}

const METHOD_NOTES = [
  '- Repositories are generated under `benchmarks/.work/` (deterministic, reused across runs): nested directories 2–4 levels deep, text files of 200 B–6 KB (log-uniform), one commit (then `git repack -a -d`, as after a clone), 0.5% untracked files, a `.gitignore` with an ignored `node_modules/`, `dist/` and `*.log`. Every run starts by resetting the repository (worktree as committed, no `refs/ckpt/*`, loose objects pruned). All git runs with `GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null` and a fixed identity.',
  '- ckpt runs from a copy of `bin/` and `dist/` taken at the start of the run (`benchmarks/.work/ckpt-under-test`), so a concurrent rebuild cannot change it midway.',
  '- **Edits**: each iteration first restores the files edited before, then the method gets its own warm state (ckpt: a snapshot of exactly that worktree, so its private index — git\'s stat cache — is fresh; isomorphic-git: the same with its own index), then N files get a unique line appended (so every method hashes and writes its own new blobs), then only the method is timed. Methods run interleaved, in a rotating order. The user\'s index is refreshed (`git update-index --refresh`) before each iteration, untimed.',
  '- **Snapshot** methods: *ckpt* = `takeSnapshot(repo, {kind: "manual", force: true})` in-process (cat-file, `add -A` into its persistent private index, write-tree, diff-tree, commit-tree, update-ref; plus, only when the user\'s index changed, an index commit). *git fresh temp index* = `GIT_INDEX_FILE=<new path> git add -A && git write-tree && git commit-tree` (3 processes; hashes every file each time; `mktemp`\'s empty file cannot be used since git rejects an empty index file, so a non-existent path is used). *read-tree HEAD* seeds that index from HEAD first (no stat data, so every file is still hashed). *copy of user\'s index* seeds it with the user\'s `.git/index` (fresh stat data for committed files). None of the alternatives updates a ref or checks for "nothing changed". *floor* = just `git add -A` + `git write-tree` into a persistent, warm private index (like ckpt\'s, without commit, ref, lock or checks): the least any `add -A`-based snapshot costs. *isomorphic-git*: it cannot use another index file, so it has its own gitdir (`.git/bench-iso`, with `objects` symlinked to the real store and its index seeded from the user\'s), `statusMatrix` against HEAD, `add` of what differs, `commit` (which writes the trees from the index) on its own branch — same warm stat cache as ckpt. isomorphic-git runs in a separate long-lived Node process, in-process there with one cache object shared across calls, and is timed inside that process: its caches (a whole packfile, parsed indexes) would otherwise inflate this process, and Linux `fork()` — hence every git spawn of ckpt and of the alternatives — gets slower as the parent\'s memory grows (about 2 ms per spawn at ~250 MB RSS on this machine).',
  '- **Rollback**: each iteration takes a base snapshot, edits N files, takes the step snapshot (both untimed, ckpt), then times restoring the base and verifies that all N files are back to their committed size and 5 of them byte for byte. *ckpt* = `rollback(repo, {target: base.id})`, which records a pre-rollback snapshot first and a `rollback` snapshot after, and plans and checks every change. *git -a* = temp index `read-tree <base tree>` + `checkout-index -a -f` (rewrites every file). *git paths* = `diff-tree --name-only` step↔base + `read-tree` into a temp index + `checkout-index --stdin` of those paths. *isomorphic-git* = `walk` of both commits\' trees (equal subtrees pruned) for the changed paths, then `checkout({ref, filepaths, force, noUpdateHead})`. The alternatives take no safety snapshot and do no clobber checks.',
  '- **Hook**: `node bin/ckpt.js hook claude` spawned with a PreToolUse JSON on stdin (cwd = the repository) after 10 files were edited; the run checks that it printed nothing, logged no error and moved the ref. `node -e 0` is the floor for any Node hook; `hook <unknown agent>` loads the CLI and the hook command but takes no snapshot; `min-hook.mjs` (in this directory) is the least a Node hook can do with the same plumbing: Node built-ins only, 5 git processes (rev-parse, `add -A` into a warm private index, write-tree, commit-tree, update-ref), no lock, no checks — a floor, not a design.',
  '- **Object reads**: K blob ids (random committed blobs, i.e. packed; or 200 freshly written loose blobs) read through one `git cat-file --batch` process (spawnSync, output parsed) vs `isomorphic-git.readBlob` sequentially in-process, with a fresh cache per iteration (as a new CLI process would: packed reads load and checksum the whole pack first) or a cache shared across iterations (a long-lived process).',
  '- Iterations stop early for a slow method once it has spent its time budget and has 3 samples (1 if its median is above 5 s); a method whose single iteration exceeds 60 s runs once. When isomorphic-git\'s first snapshot of a repository takes more than 15 s it is measured once, for the 10-file cases only. With few samples p90 is close to the maximum (it is interpolated between ranks).',
];

function printSummary(results, startup) {
  log('\n== summary (medians) ==');
  const t = targetsOf(results);
  for (const x of t) log(`  ${x.met === null ? '?' : x.met ? 'OK  ' : 'MISS'} ${x.name}: ${fmt(x.median)} (target ≤ ${x.limit} ms, p90 ${fmt(x.p90)})`);
  for (const r of results) {
    log(`\n  ${r.label}:`);
    const all = [...r.snapshot, ...r.rollback, ...r.hook, ...r.reads];
    const w1 = Math.max(...all.map((x) => x.case.length));
    const w2 = Math.max(...all.map((x) => x.method.length));
    log(`  ${'case'.padEnd(w1)}  ${'method'.padEnd(w2)}  ${'median'.padStart(9)}  ${'p90'.padStart(9)}  ${'n'.padStart(2)}  ratio`);
    for (const x of all) log(`  ${x.case.padEnd(w1)}  ${x.method.padEnd(w2)}  ${fmt(x.median).padStart(9)}  ${fmt(x.p90).padStart(9)}  ${String(x.n).padStart(2)}  ${x.ratio ? x.ratio.toFixed(1) + '×' : ''}${x.error ? '  FAILED' : ''}`);
  }
  if (startup) log(`\n  module load: cli ${fmt(startup.moduleLoad.cli)}, hook cmd ${fmt(startup.moduleLoad.hookCommand)}, hooks lib ${fmt(startup.moduleLoad.hooksLibrary)}`);
}

// ---------------------------------------------------------------- main

let UNDER_TEST = '';

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const t0 = performance.now();
  fs.mkdirSync(path.join(WORK, 'tmp'), { recursive: true });
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')) || !fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) die('dist/ is missing: run `npm run bench` (or `node scripts/build.mjs --no-types`) first');
  // Freeze the code under test: others may rebuild dist/ while this runs.
  UNDER_TEST = path.join(WORK, 'ckpt-under-test');
  fs.rmSync(UNDER_TEST, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(UNDER_TEST, 'dist'), { recursive: true, filter: (s) => !s.includes(`${path.sep}types`) });
  fs.cpSync(path.join(ROOT, 'bin'), path.join(UNDER_TEST, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(UNDER_TEST, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const lib = await import(pathToFileURL(path.join(UNDER_TEST, 'dist', 'index.js')).href);
  const machine = machineInfo();
  log(`ckpt bench — ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, Node ${machine.node}, git ${machine.git}, isomorphic-git ${machine.iso}, ${machine.fs}`);
  log(`sizes ${opts.sizes.join(', ')}${opts.quick ? ' (quick)' : ''}; load average ${machine.loadStart}`);
  log('\n== start-up ==');
  const startup = await benchStartup(opts.quick ? 5 : 11);
  const results = [];
  for (const label of Object.keys(SIZES).filter((s) => opts.sizes.includes(s))) {
    results.push(await benchSize(label, opts, lib));
  }
  const elapsedMs = performance.now() - t0;
  const loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  printSummary(results, startup);
  writeMarkdown(opts.out, { opts, machine, results, startup, startedAt, elapsedMs, loadEnd });
  fs.writeFileSync(path.join(WORK, `results-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ opts, machine, startup, results, elapsedMs }, null, 1));
  log(`\nwrote ${path.relative(process.cwd(), opts.out)} (${(elapsedMs / 60000).toFixed(1)} min)`);
}

if (process.argv.includes('--iso-worker')) isoWorkerMain();
else main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
