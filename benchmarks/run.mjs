#!/usr/bin/env node
// ckpt benchmarks: snapshot, rollback, the whole-process Claude hook and
// object reads, on generated repositories of 1k, 10k and 100k files, against
// the obvious alternatives (a fresh temporary index with git plumbing, and
// isomorphic-git). See benchmarks/README.md; the parts are in lib/.
//
//   node benchmarks/run.mjs [--sizes 1k,10k,100k] [--quick] [--no-iso]
//                           [--out benchmarks/results.md]
//
// `npm run bench` builds dist/ first. Plain Node ESM, no dependencies beyond
// ckpt's own dev dependencies (isomorphic-git, execa) and ckpt's built library.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freezeUnderTest, isBuilt } from './lib/ckpt.mjs';
import { WORK, log, useHermeticGit } from './lib/env.mjs';
import { SIZES, die, parseArgs } from './lib/options.mjs';
import { machineInfo, printSummary, writeMarkdown } from './lib/report.mjs';
import { benchSize } from './lib/size.mjs';
import { benchStartup } from './lib/startup.mjs';

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  useHermeticGit();
  // This benchmark measures the direct path (every step read with git): the daemon, on by default,
  // has its own family (benchmarks/daemon.mjs), and a hook row here must neither go through one nor start one.
  process.env.CKPT_NO_DAEMON = '1';
  const startedAt = new Date();
  const t0 = performance.now();
  fs.mkdirSync(path.join(WORK, 'tmp'), { recursive: true });
  if (!isBuilt()) die('dist/ is missing: run `npm run bench` (or `node scripts/build.mjs --no-types`) first');
  // Freeze the code under test: others may rebuild dist/ while this runs.
  await freezeUnderTest();
  const machine = machineInfo();
  log(`ckpt bench — ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, Node ${machine.node}, git ${machine.git}, isomorphic-git ${machine.iso}, ${machine.fs}`);
  log(`sizes ${opts.sizes.join(', ')}${opts.quick ? ' (quick)' : ''}; load average ${machine.loadStart}`);
  log('\n== start-up ==');
  const startup = await benchStartup(opts.quick ? 5 : 11);
  const results = [];
  for (const label of Object.keys(SIZES).filter((s) => opts.sizes.includes(s))) {
    results.push(await benchSize(label, opts));
  }
  const elapsedMs = performance.now() - t0;
  const loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  printSummary(results, startup);
  writeMarkdown(opts.out, { argv, opts, machine, results, startup, startedAt, elapsedMs, loadEnd });
  fs.writeFileSync(path.join(WORK, `results-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ opts, machine, startup, results, elapsedMs }, null, 1));
  log(`\nwrote ${path.relative(process.cwd(), opts.out)} (${(elapsedMs / 60000).toFixed(1)} min)`);
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
