// Command-line options, sizes, targets and the iteration plan.
import path from 'node:path';
import { ROOT } from './env.mjs';

/** Repository sizes by label: tracked files generated. */
export const SIZES = { '1k': 1_000, '10k': 10_000, '100k': 100_000 };
/** Targets at 10k files, medians in ms (benchmarks/README.md). */
export const TARGETS = { snapshot10: 50, rollback10: 100, hook: 150 };

/** A method whose samples take longer than this (median, ms) may stop below 3 samples once its budget is spent. */
export const LONG_MS = 5_000;
/** isomorphic-git's first snapshot slower than this (ms): it is measured only for 10 changed files, once. */
export const ISO_SLOW_MS = 15_000;
/** A method whose single timed iteration exceeds this (ms) runs once only. */
export const SLOW_MS = 60_000;

export const USAGE = 'usage: node benchmarks/run.mjs [--sizes 1k,10k,100k] [--quick] [--no-iso] [--out FILE]';

/** Parses the command line: `{ sizes, quick, iso, out }`. Exits 2 on a bad option. */
export function parseArgs(argv) {
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
      console.log(USAGE);
      process.exit(0);
    } else die(`unknown option ${a}`);
  }
  return o;
}

export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

/** Iterations per size (and --quick), and each case's time budget in ms. Slow methods also stop at the budget. */
export function plan(size, quick) {
  if (quick) return { snap: 3, rb: 3, hook: 7, reads: 5, budgetMs: 10_000 };
  if (size === '100k') return { snap: 5, rb: 3, hook: 11, reads: 7, budgetMs: 20_000 };
  return { snap: 7, rb: 5, hook: 15, reads: 11, budgetMs: 30_000 };
}

/** The value after `name` in `argv` (`--runs 3`), else `dflt`. The small entries' (daemon, deps, event-sources) parser. */
export function optionValue(argv, name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
}
