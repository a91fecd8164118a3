// The deps family (issue 12): for each `race --deps` strategy, the seconds and
// the real disk one attempt costs, on this project's own node_modules.
//
// Disk is measured as the file system sees it: free blocks (statfs `bfree` ×
// `bsize`) before and after providing one attempt's node_modules, each after
// `sync -f` so delayed allocation is settled; never `du`, which counts a
// clone's or a hard link's blocks as if they were new. Every strategy runs the
// same code a race runs (the library's planDeps/provideDeps; `install` is the
// command planDeps chose), round-robin so the machine's load falls on all of
// them alike. Reflinks need a file system that has them: where this machine
// can, an XFS image on a loop device is made for them (root, mkfs.xfs).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ckpt } from './ckpt.mjs';
import { ROOT, WORK, g, step } from './env.mjs';
import { median } from './measure.mjs';

/** Free bytes of the file system holding `dir`, once its writes are settled. */
function freeBytes(dir) {
  execFileSync('sync', ['-f', dir]);
  const s = fs.statfsSync(dir);
  return s.bfree * s.bsize;
}

/** A repository at `dir` holding this project's package.json and lockfile, its node_modules a real copy of this checkout's. */
function sourceRepo(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\n');
  g(dir, ['init', '-q']);
  g(dir, ['add', '-A']);
  g(dir, ['commit', '-qm', 'deps bench']);
  // A real copy: this checkout's node_modules may share inodes with another checkout.
  execFileSync('cp', ['-a', '--reflink=never', '--', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  return dir;
}

/** Files and apparent bytes of a tree (for the report's context only). */
function treeSize(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += fs.lstatSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

/** A private file system of `type` (`ext4`, `xfs`) on a loop device under WORK, so no other process's writes move its free blocks; or why not. */
function mountLoop(type) {
  const mkfs = `mkfs.${type}`;
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a loop image' };
  if (spawnSync('sh', ['-c', `command -v ${mkfs}`]).status !== 0) return { skip: `${mkfs} not installed` };
  const base = path.join(WORK, `deps-${type}`);
  spawnSync('umount', [path.join(base, 'mnt')], { stdio: 'ignore' });
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(path.join(base, 'mnt'), { recursive: true });
  const img = path.join(base, 'img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 2 * 1024 ** 3);
  const mk = spawnSync(mkfs, ['-q', ...(type === 'ext4' ? ['-F'] : []), img], { encoding: 'utf8' });
  const mo = mk.status === 0 ? spawnSync('mount', ['-o', 'loop', img, path.join(base, 'mnt')], { encoding: 'utf8' }) : mk;
  if (mo.status !== 0) {
    fs.rmSync(base, { recursive: true, force: true });
    return { skip: `no loop mount here: ${(mo.stderr || '').trim()}` };
  }
  return { mnt: path.join(base, 'mnt'), base };
}

function unmount(m) {
  if (!m.mnt) return;
  if (spawnSync('umount', [m.mnt]).status !== 0) spawnSync('umount', ['-l', m.mnt]);
  fs.rmSync(m.base, { recursive: true, force: true });
}

/**
 * One attempt's node_modules by `strategy`, from the repository `src` into a
 * fresh directory beside it: seconds (the strategy alone) and bytes the file
 * system lost; the directory is removed afterwards.
 */
async function oneAttempt(src, strategy, i) {
  const repo = await ckpt.openRepo(src);
  const dest = path.join(path.dirname(src), `attempt-${strategy}-${i}`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest);
  const plan = await ckpt.planDeps(repo, { strategy, paths: ['node_modules'], unsafe: true, worktreeRoot: path.dirname(src) });
  if (plan.install) for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(src, f), path.join(dest, f));
  const before = freeBytes(dest);
  const t0 = process.hrtime.bigint();
  if (plan.install) {
    const r = spawnSync(plan.install.argv[0], plan.install.argv.slice(1), { cwd: dest, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
    if (r.status !== 0) throw new Error(`${plan.install.argv.join(' ')} failed: ${r.stderr}`);
  } else {
    await ckpt.provideDeps(repo, dest, plan);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = freeBytes(dest);
  fs.rmSync(dest, { recursive: true, force: true });
  freeBytes(path.dirname(dest));
  return { resolved: plan.strategy, seconds, bytes: before - after };
}

/**
 * The deps family: `runs` rounds over every strategy on the machine's own
 * file system (where the benchmark's work directory is), and reflink (with
 * copy beside it) on XFS where one can be mounted.
 */
export async function benchDeps({ runs = 3 } = {}) {
  const size = treeSize(path.join(ROOT, 'node_modules'));
  const ext4 = mountLoop('ext4');
  const xfs = mountLoop('xfs');
  try {
    const cases = [];
    // Without clones: a private ext4 image, else (noisy: shared with every other process) the work directory's own file system.
    if (ext4.mnt) cases.push({ fs: 'ext4 (loop image)', src: sourceRepo(path.join(ext4.mnt, 'src')), strategies: ['auto', 'copy', 'hardlink', 'symlink', 'install'] });
    else {
      const here = sourceRepo(path.join(WORK, 'deps', 'src'));
      const t = execFileSync('df', ['--output=fstype', here], { encoding: 'utf8' }).trim().split('\n').pop();
      cases.push({ fs: `${t} (shared: other processes' writes move its free blocks)`, src: here, strategies: ['auto', 'copy', 'hardlink', 'symlink', 'install'] });
    }
    if (xfs.mnt) cases.push({ fs: 'xfs (loop image)', src: sourceRepo(path.join(xfs.mnt, 'src')), strategies: ['auto', 'reflink', 'copy', 'hardlink'] });
    const samples = new Map();
    for (let i = 0; i < runs; i++) {
      for (const c of cases) {
        for (const s of c.strategies) {
          const r = await oneAttempt(c.src, s, i);
          const key = `${c.fs}|${s}`;
          if (!samples.has(key)) samples.set(key, { fs: c.fs, strategy: s, resolved: r.resolved, seconds: [], bytes: [] });
          samples.get(key).seconds.push(r.seconds);
          samples.get(key).bytes.push(r.bytes);
          step(`${c.fs} ${s}${r.resolved !== s ? ` (→ ${r.resolved})` : ''} run ${i + 1}: ${r.seconds.toFixed(2)} s, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
        }
      }
    }
    const rows = [...samples.values()].map((x) => ({ ...x, medianSeconds: median(x.seconds), medianBytes: median(x.bytes), n: x.seconds.length }));
    return { rows, size, noClones: cases[0].fs, xfsSkip: xfs.skip ?? null, ext4Skip: ext4.skip ?? null };
  } finally {
    unmount(ext4);
    unmount(xfs);
    fs.rmSync(path.join(WORK, 'deps'), { recursive: true, force: true });
  }
}
