// One repository size from start to end: generate or reuse and reset the
// repository, warm ckpt and isomorphic-git, run every method family, and
// leave the repository as generated.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { breakdown } from './breakdown.mjs';
import { ckpt } from './ckpt.mjs';
import { ROOT, g, log, step, timed } from './env.mjs';
import { benchHook } from './hook.mjs';
import { IsoWorker } from './iso-client.mjs';
import { fmt } from './measure.mjs';
import { ISO_SLOW_MS, SLOW_MS, plan } from './options.mjs';
import { benchReads } from './reads.mjs';
import { Mutator, ensureRepo, resetRepo } from './repo-gen.mjs';
import { benchRollback } from './rollback.mjs';
import { benchSnapshot } from './snapshot.mjs';

/**
 * Benchmarks the size `label` ('1k', '10k', '100k') with `opts` (see
 * options.mjs); resolves to its results (rows per family, the breakdown,
 * the repository's shape, memory, notes).
 */
export async function benchSize(label, opts) {
  const p = plan(label, opts.quick);
  log(`\n== ${label} files ==`);
  const t0 = performance.now();
  const { dir, manifest, reused } = ensureRepo(label);
  step(`${reused ? 'reusing' : 'generated'} ${path.relative(ROOT, dir)}: ${manifest.files.length + 3} tracked files in ${manifest.dirs} dirs, ${(manifest.bytes / 1e6).toFixed(1)} MB, ${manifest.untracked.length} untracked, ${manifest.ignored} ignored${reused ? '' : ` (${(manifest.generatedMs / 1000).toFixed(1)} s)`}`);
  resetRepo(dir, manifest);
  step(`reset in ${fmt(performance.now() - t0)}`);
  const out = { label, dir, gen: { files: manifest.files.length + 3, dirs: manifest.dirs, bytes: manifest.bytes, untracked: manifest.untracked.length, ignored: manifest.ignored, generatedMs: manifest.generatedMs, reused }, snapshot: [], rollback: [], hook: [], reads: [], breakdown: {} };
  const mut = new Mutator(dir, manifest);
  const repo = await ckpt.openRepo(dir);
  // Warm ckpt: first snapshot seeds its private index from the user's index.
  out.firstSnapshotMs = (await timed(() => ckpt.takeSnapshot(repo, { kind: 'manual', force: true }))).ms;
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
  /** What every method family gets: the repository, its edits, ckpt's handle on it, the isomorphic-git worker. */
  const s = { label, dir, manifest, mut, repo, iso, isoSlow, plan: p, refreshUserIndex: () => g(dir, ['update-index', '-q', '--refresh'], { ok: [0, 1] }) };

  out.snapshot = await benchSnapshot(s);
  out.rollback = await benchRollback(s);

  // ---- whole-process hook
  mut.restore();
  s.refreshUserIndex();
  await ckpt.takeSnapshot(repo, { kind: 'manual' });
  out.hook = await benchHook(s);
  mut.restore();

  // ---- object reads (isomorphic-git reads even where its snapshots were skipped)
  if (!s.iso && opts.iso) s.iso = new IsoWorker();
  out.reads = await benchReads(s);
  if (s.iso) {
    out.isoWorkerRssMB = Math.round((await s.iso.call('rss')).value / 1e6);
    s.iso.close();
  }

  // ---- where the time goes (git processes and their own run time, from GIT_TRACE_PERFORMANCE)
  out.breakdown = await breakdown(s, opts.quick ? 3 : 5);
  mut.restore();
  resetRepo(dir, manifest);
  out.totalMs = performance.now() - t0;
  step(`${label} done in ${fmt(out.totalMs)}`);
  return out;
}
