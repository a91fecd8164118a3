// Size-independent measurements: Node start-up and module load of the hook
// path, and the cost of one git spawn (spawnSync vs execa).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { UNDER_TEST } from './ckpt.mjs';
import { ROOT, run, spawnTimed, step } from './env.mjs';
import { fmt, median } from './measure.mjs';

/** Node start-up and module load of the hook path, and the cost of one git spawn. */
export async function benchStartup(iters) {
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
    for (const m of ['execa', 'write-file-atomic']) { await import(m); const n = performance.now(); r[m] = n - t; t = n; }
    console.log(JSON.stringify(r));`;
  const a = [];
  const b = [];
  for (let i = 0; i < iters; i++) {
    a.push(JSON.parse(spawnTimed(['--input-type=module', '-e', script], { cwd: ROOT }).stdout.toString()));
    b.push(JSON.parse(spawnTimed(['--input-type=module', '-e', deps], { cwd: UNDER_TEST }).stdout.toString()));
  }
  const med = (arr, k) => median(arr.map((x) => x[k]));
  out.moduleLoad = { nodeBootToUserCode: med(a, 'boot'), cli: med(a, 'cli'), hookCommand: med(a, 'hookCmd'), hooksLibrary: med(a, 'hooksLib'), execa: med(b, 'execa'), writeFileAtomic: med(b, 'write-file-atomic'), chunks: { hookCmdChunk, hooksChunk } };
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
