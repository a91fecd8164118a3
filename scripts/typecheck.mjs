#!/usr/bin/env node
// Type-checks every TypeScript project of the repository: each
// `tsconfig.json` / `tsconfig.<name>.json` at the root or under src/ (the
// library's; the tests', tsconfig.test.json: test/ with the src/ it imports;
// and the browser client's with the DOM library, whichever exist), with
// `tsc --noEmit -p`. `npm run typecheck`; run by .ci/run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SKIP = new Set(['node_modules', 'dist', '.git', 'coverage', 'test-artifacts']);

/** Paths of the tsconfig files in `dir` and below it (relative, sorted). */
function configs(dir, recurse) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isFile() && /^tsconfig(\.[\w-]+)?\.json$/.test(e.name)) out.push(rel);
    else if (recurse && e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith('.')) out.push(...configs(rel, true));
  }
  return out.sort();
}

const projects = [...configs('.', false), ...(fs.existsSync('src') ? configs('src', true) : [])];
if (projects.length === 0) {
  console.error('typecheck: no tsconfig.json found');
  process.exit(2);
}
const tsc = path.join('node_modules', 'typescript', 'bin', 'tsc');
let failed = 0;
for (const p of projects) {
  console.log(`== tsc --noEmit -p ${p}`);
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', p], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed > 0) {
  console.error(`typecheck: ${failed} of ${projects.length} projects have type errors`);
  process.exit(1);
}
console.log(`typecheck: ${projects.length} project${projects.length === 1 ? '' : 's'} clean`);
