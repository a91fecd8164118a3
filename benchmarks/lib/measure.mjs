// The measurement loop shared by every method family, and the rows it makes.
import { performance } from 'node:perf_hooks';
import { step, timed } from './env.mjs';
import { LONG_MS, SLOW_MS } from './options.mjs';

/** Quantile with linear interpolation between closest ranks (NaN for no samples). */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
export function median(xs) {
  return quantile(xs, 0.5);
}
/** A duration in ms as `12 ms`, `3.4 ms` or `1.25 s`; `—` when not finite. */
export const fmt = (ms) => (Number.isFinite(ms) ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`) : '—');

/** A result row from raw samples (ms). */
export function mkRow(kase, method, key, samples, note = '') {
  return { case: kase, method, key, samples: samples.map((x) => Math.round(x * 100) / 100), median: median(samples), p90: quantile(samples, 0.9), min: Math.min(...samples), n: samples.length, note, ratio: null };
}

/** Prints one row as a progress line. */
export function printRow(r) {
  step(`${r.case.padEnd(22)} ${r.method.padEnd(44)} median ${fmt(r.median).padStart(9)}  p90 ${fmt(r.p90).padStart(9)}  n=${r.n}${r.ratio ? `  ×${r.ratio.toFixed(1)}` : ''}${r.note ? `  (${r.note})` : ''}`);
}

/**
 * Runs `methods` interleaved, `iters` rounds. Each method has `prepare()`
 * (untimed, returns a context) and `run(ctx)` (timed) or `runTimed(ctx)`
 * (measures itself, resolves to `{ ms, value }`), and optional
 * `check(ctx, value)` (untimed). A method stops early once it has 3 samples
 * and used up the time budget (`budgetMs`), or after 1 sample slower than
 * SLOW_MS. Ratios are against the method keyed `ckpt` (or `cat-file`).
 */
export async function measure(label, methods, iters, budgetMs) {
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
  const rows = state.map((s) => ({ ...mkRow(label, s.m.name, s.m.key, s.samples, s.note), error: s.error }));
  const base = rows.find((r) => r.key === 'ckpt' || r.key === 'cat-file');
  for (const r of rows) r.ratio = base && Number.isFinite(base.median) && r !== base ? r.median / base.median : null;
  for (const r of rows) printRow(r);
  return rows;
}
