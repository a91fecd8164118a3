#!/usr/bin/env node
// The deps family (issue 12): seconds and real disk per attempt for each
// `race --deps` strategy, on this project's own node_modules, in one run:
//
//   node benchmarks/deps.mjs [--runs 3] [--out benchmarks/results.md]
//
// dist/ must be built. Writes its section of results.md between the
// `<!-- deps -->` markers (the rest of the file is run.mjs's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchDeps } from './lib/deps.mjs';
import { ROOT, log } from './lib/env.mjs';
import { optionValue } from './lib/options.mjs';
import { startRun } from './lib/start.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => optionValue(argv, name, dflt);
const runs = Number(arg('--runs', '3'));
const out = path.resolve(arg('--out', path.join(ROOT, 'benchmarks', 'results.md')));

const { machine, startedAt } = await startRun();
const res = await benchDeps({ runs });

const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const SAFE = { auto: 'yes', reflink: 'yes', copy: 'yes', install: 'yes', hardlink: '**no**: an in-place write reaches the user\'s file', symlink: '**no**: every write reaches the user\'s directory' };
const lines = [];
lines.push('<!-- deps -->');
lines.push('<a id="deps"></a>');
lines.push('## Dependencies per attempt (issue 12)');
lines.push('');
lines.push(`\`node benchmarks/deps.mjs --runs ${runs}\`, ${startedAt.toISOString()}; ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, Node ${machine.node}; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (the machine is shared with other developers' builds and tests). This project's own node_modules: ${res.size.files} files, ${mib(res.size.bytes)} apparent size. Per attempt: seconds of the strategy alone, and the disk the file system lost (free blocks from statfs before and after, each after \`sync -f\`; not du), on private file systems (2 GiB loop images made for the run: no other process writes there; npm's cache stays on the machine's own disk). Medians of ${runs} runs, the strategies taking turns.`);
lines.push('');
lines.push('| file system | strategy | ran as | seconds | disk per attempt | user\'s bytes safe | n |');
lines.push('|---|---|---|---:|---:|---|---:|');
for (const r of res.rows) lines.push(`| ${r.fs} | \`${r.strategy}\` | ${r.resolved} | ${r.medianSeconds.toFixed(2)} | ${mib(r.medianBytes)} | ${SAFE[r.strategy]} | ${r.n} |`);
if (res.xfsSkip) lines.push(`\nreflink not measured: ${res.xfsSkip}.`);
if (res.ext4Skip) lines.push(`\nno private ext4 image (${res.ext4Skip}): the first rows' disk figures are noisy.`);
lines.push('');
const get = (fsName, s) => res.rows.find((r) => r.fs === fsName && r.strategy === s);
const copy = get(res.noClones, 'copy');
const install = get(res.noClones, 'install');
const ext4Auto = get(res.noClones, 'auto');
const reflink = res.rows.find((r) => r.strategy === 'reflink');
lines.push(
  `**The default is \`auto\`**: a copy-on-write clone (\`reflink\`) where the worktrees' file system has them, else a full \`copy\`. ` +
    (reflink ? `On XFS a clone costs ${reflink.medianSeconds.toFixed(2)} s and ${mib(reflink.medianBytes)} (metadata only) per attempt. ` : '') +
    (copy && install ? `On ${res.noClones.split(' (')[0]} (no clones) \`auto\` is a copy: ${ext4Auto.medianSeconds.toFixed(2)} s and ${mib(ext4Auto.medianBytes)} per attempt (\`copy\` named: ${copy.medianSeconds.toFixed(2)} s, ${mib(copy.medianBytes)}), against ${install.medianSeconds.toFixed(2)} s and ${mib(install.medianBytes)} for \`npm ci --prefer-offline\` from a warm cache: an install is no cheaper in disk (npm writes every file again), several times slower, and may differ from what the user runs (a patched or locally built package). ` : '') +
    '`hardlink` and `symlink` cost least but an attempt writing into its node_modules changes the user\'s bytes (test/race-deps.test.ts), so they are refused unless `--unsafe-deps` is given.',
);
lines.push('<!-- /deps -->');
const section = lines.join('\n') + '\n';
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const re = /<!-- deps -->[\s\S]*?<!-- \/deps -->\n?/;
text = re.test(text) ? text.replace(re, section) : text.replace(/\n*$/, '\n\n') + section;
fs.writeFileSync(out, text);
log(`\nwrote the deps section of ${path.relative(process.cwd(), out)}`);
