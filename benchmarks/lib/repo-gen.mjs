// The generated repositories: deterministic trees of 1k, 10k or 100k text
// files under benchmarks/.work/ (reused across runs, keyed by size and
// generator version), the reset to their generated state before a run, and
// the edits every iteration makes and undoes (Mutator).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { splitNulText } from './ckpt.mjs';
import { WORK, g, gText, rng32 } from './env.mjs';
import { SIZES } from './options.mjs';

/** Bump when the generated repositories change; older ones are regenerated. */
export const GEN_VERSION = 2;

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
export function ensureRepo(label) {
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
export function resetRepo(dir, manifest) {
  g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] });
  const changed = g(dir, ['diff-files', '--name-only', '-z']);
  if (changed.length > 0) g(dir, ['checkout-index', '-f', '-z', '--stdin'], { input: changed });
  const want = new Map(manifest.untracked.map((u) => [u.rel, u.content]));
  for (const rel of splitNulText(g(dir, ['ls-files', '-o', '--exclude-standard', '-z']))) {
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
export class Mutator {
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
