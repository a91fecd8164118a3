#!/usr/bin/env node
// A quick loop for the daemon's memory and ready time (issue 11), where
// benchmarks/daemon.mjs takes minutes: the daemon started as the product
// starts it (daemonArgv, daemonEnv) on the benchmark's fixture, its ready
// time and memory (USS, RSS, private pages by mapping: V8's and mmap'd
// memory, malloc's brk heap), then hook requests (PreToolUse and PostToolUse
// taking turns, as an agent sends them) with 10 files changed
// before each, its memory again, right after them and (--idle) while quiet.
// One JSON line per run; the step's and answer's medians from the replies.
//
//   node benchmarks/daemon-mem.mjs [--size 100k] [--hooks 10] [--runs 1] [--settle MS] [--idle MS]
//        [--env K=V,..] [--node-opts "--a --b"] [--probe] [--gclog] [--alloc] [--heap]
//
// --probe, --gclog, --alloc load lib/daemon-probe.cjs into the daemon (heap
// spaces before and after a gc(), the collections seen, a sampling
// allocation profile); --heap writes a heap snapshot. Their files go to
// benchmarks/.work/daemon-mem/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freezeUnderTest, UNDER_TEST, ckpt, chainTip } from './lib/ckpt.mjs';
import { ask, waitReady } from './lib/daemon.mjs';
import { ensureRepo, Mutator, resetRepo } from './lib/repo-gen.mjs';
import { agentHooks } from './lib/hook.mjs';
import { optionValue } from './lib/options.mjs';
import { WORK } from './lib/env.mjs';

const argv = process.argv.slice(2);
const label = optionValue(argv, '--size', '100k');
const hooks = Number(optionValue(argv, '--hooks', '10'));
const runs = Number(optionValue(argv, '--runs', '1'));
const extraEnv = Object.fromEntries((optionValue(argv, '--env', '') || '').split(',').filter(Boolean).map((kv) => kv.split('=')));
const nodeOpts = (optionValue(argv, '--node-opts', '') || '').split(' ').filter(Boolean);
const probeDir = path.join(WORK, 'daemon-mem');
if (['--probe', '--gclog', '--alloc', '--heap'].some((o) => argv.includes(o))) {
  fs.mkdirSync(probeDir, { recursive: true });
  nodeOpts.push('-r', path.join(import.meta.dirname, 'lib', 'daemon-probe.cjs'), '--expose-gc');
  if (argv.includes('--heap')) nodeOpts.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${probeDir}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function mem(pid) {
  const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k) => Number(t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
  return { rss: (kb('Rss') * 1024) / 1e6, uss: ((kb('Private_Clean') + kb('Private_Dirty')) * 1024) / 1e6 };
}
/** Private pages by mapping kind: heap ([heap] = malloc brk), anon (V8 + mmap'd malloc), file (code). */
function breakdown(pid) {
  const t = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const out = {};
  let kind = '';
  for (const line of t) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1];
      kind = name === '' ? 'anon' : name.startsWith('[') ? name : name.includes('node') ? 'node-bin' : 'file';
      continue;
    }
    const p = /^Private_(?:Clean|Dirty):\s+(\d+) kB/.exec(line);
    if (p) out[kind] = (out[kind] ?? 0) + Number(p[1]) / 1000;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Number(v.toFixed(1))]));
}

await freezeUnderTest();
const { dir, manifest } = ensureRepo(label);
resetRepo(dir, manifest);
const mut = new Mutator(dir, manifest);
const repo = await ckpt.openRepo(dir);
await ckpt.takeSnapshot(repo, { kind: 'manual', force: true });
const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
const sockPath = path.join(repo.commonDir, 'ckpt', 'daemon', 'sock');
const base = { ...process.env };
delete base.NODE_EXTRA_CA_CERTS;
const env = { ...(ckpt.daemonEnv ? ckpt.daemonEnv(base) : base), CKPT_PROBE_DIR: probeDir, ...extraEnv };
for (let run = 0; run < runs; run++) {
  const args = ckpt.daemonArgv(bin, ['--verify', '1h', '--idle', '30m']);
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeOpts, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env });
  let exited = false;
  child.on('exit', () => (exited = true));
  const up = await waitReady(sockPath, t0, () => exited, 60_000);
  const version = up?.version ?? null;
  const readyMs = up?.readyMs ?? null;
  const status = up?.status ?? undefined;
  const ready = mem(child.pid);
  const settleMs = Number(optionValue(argv, '--settle', '0'));
  let settled = null;
  if (settleMs > 0) {
    await sleep(settleMs);
    settled = mem(child.pid);
    if (argv.includes('--probe')) process.kill(child.pid, 'SIGWINCH');
    await sleep(100);
  }
  const bReady = breakdown(child.pid);
  if (argv.includes('--probe')) process.kill(child.pid, 'SIGWINCH');
  if (argv.includes('--alloc')) { process.kill(child.pid, 'SIGTTIN'); await sleep(200); }
  const steps = [];
  const totals = [];
  const t1 = performance.now();
  // PreToolUse and PostToolUse taking turns, as an agent sends them.
  const nextHook = agentHooks(dir, `m-${run}`);
  for (let i = 0; i <= hooks; i++) {
    const idx = mut.mutate(10);
    const before = await chainTip(repo);
    const r = await ask(sockPath, { version, cmd: 'hook', agent: 'claude', stdin: nextHook(manifest.files[idx[0]]), cwd: dir, ppid: process.pid, race: {} }, 60_000);
    if (!r?.ok || (await chainTip(repo)) === before) throw new Error(`no snapshot: ${JSON.stringify(r)}`);
    if (i > 0 && r.phases) { steps.push(r.phases.step); totals.push(r.phases.total); }
  }
  const hooksMs = performance.now() - t1;
  // Right after the last reply, as benchmarks/lib/daemon.mjs judges it (memAfter), and 300 ms later.
  const now = mem(child.pid);
  if (argv.includes('--alloc')) { process.kill(child.pid, 'SIGTTOU'); await sleep(1500); }
  await sleep(300);
  const after = mem(child.pid);
  const idleMs = Number(optionValue(argv, '--idle', '0'));
  if (idleMs > 0) {
    for (let t = 0; t < idleMs; t += 2000) {
      await sleep(2000);
      console.log(`idle ${t + 2000} ms`, JSON.stringify(mem(child.pid)));
    }
  }
  const bAfter = breakdown(child.pid);
  if (argv.includes('--gclog')) {
    process.kill(child.pid, 'SIGPWR');
    await sleep(300);
  }
  if (argv.includes('--probe')) {
    process.kill(child.pid, 'SIGURG');
    await sleep(800);
    const m = mem(child.pid);
    console.log('after gc', JSON.stringify(m));
  }
  if (argv.includes('--heap')) {
    process.kill(child.pid, 'SIGUSR2');
    await sleep(4000);
  }
  const s2 = await ask(sockPath, { version, cmd: 'status' }, 5000);
  const v8m = (st) => Object.fromEntries(['heapUsedBytes', 'heapTotalBytes', 'externalBytes', 'arrayBuffersBytes'].map((k) => [k.replace('Bytes', ''), Number((st[k] / 1e6).toFixed(1))]));
  const med = (a) => { const b = [...a].sort((x, y) => x - y); return b.length ? Number(b[Math.floor(b.length / 2)].toFixed(1)) : null; };
  console.log(JSON.stringify({ run, stepMs: med(steps), answerMs: med(totals), readyMs: Math.round(readyMs), watches: status.worktrees[0].watches, ready, settled, now, after, hooksMs: Math.round(hooksMs), bReady, bAfter, v8Ready: v8m(status), v8After: v8m(s2.status), rescans: s2.status.worktrees[0].rescans, incremental: s2.status.worktrees[0].incremental }));
  try {
    const logText = fs.readFileSync(path.join(repo.commonDir, 'ckpt', 'daemon', 'log'), 'utf8');
    // What the daemon's log says of its compactions and its ready time (watch/daemon.ts).
    console.log('compactions:', logText.split('\n').filter((l) => /compacted/.test(l)).map((l) => l.replace(/.*compacted, /, '')).join('; '), '|', logText.split('\n').filter((l) => /ready in/.test(l)).map((l) => l.replace(/.*\(/, '(')).join(' '));
  } catch {
    // no log
  }
  await ask(sockPath, { cmd: 'stop' }, 3000);
  for (let i = 0; i < 200 && !exited; i++) await sleep(25);
  if (!exited) child.kill('SIGKILL');
  await sleep(200);
}
resetRepo(dir, manifest);
fs.rmSync(path.join(repo.commonDir, 'ckpt'), { recursive: true, force: true });
