// Method family "hook": the whole `ckpt hook claude` process as Claude Code
// runs it (the installed command line, through a shell) and directly, against
// floors: Node start-up, the CLI without a snapshot, and min-hook.mjs.
import fs from 'node:fs';
import path from 'node:path';
import { UNDER_TEST, chainTip, ckpt } from './ckpt.mjs';
import { ROOT, assert, gText, spawnTimed } from './env.mjs';
import { mkRow, printRow } from './measure.mjs';

/** A payload as Claude Code sends it on the hook's stdin (`event`: PreToolUse or PostToolUse), for an Edit of `rel`. */
export function hookPayload(dir, rel, i, event = 'PreToolUse') {
  const post = event === 'PostToolUse' ? { tool_response: { filePath: path.join(dir, rel), success: true } } : {};
  return JSON.stringify({ hook_event_name: event, cwd: dir, session_id: 'bench', tool_name: 'Edit', tool_input: { file_path: path.join(dir, rel), old_string: 'a', new_string: 'b' }, ...post, tool_use_id: `toolu_bench_${i}` });
}

/**
 * The hooks of an agent's tool calls, in the order an agent sends them: a
 * PreToolUse, then the PostToolUse of the same call (one tool_use_id), then
 * the next call's PreToolUse. The daemon takes a `before` step, then an
 * `after` step (watch/daemon.ts arms its early compaction only after the
 * latter: an agent's PostToolUse follows its PreToolUse within the tool's
 * run, ~150 ms for a Read). `next(rel)` returns the payload of the next hook.
 */
export function agentHooks(dir, id) {
  let n = 0;
  return (rel) => {
    const k = n++;
    return hookPayload(dir, rel, `${id}-${Math.floor(k / 2)}`, k % 2 === 0 ? 'PreToolUse' : 'PostToolUse');
  };
}

/** The hook cases of one size (`s`: see size.mjs), `s.plan.hook` iterations each; returns their rows. */
export async function benchHook(s) {
  const { dir, repo, mut, manifest } = s;
  const iters = s.plan.hook;
  const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
  // What Claude Code runs: the settings' command line, through a shell.
  const installed = ckpt.claudeHookCommand(bin, process.execPath);
  const hookLog = path.join(repo.commonDir, 'ckpt', 'hook.log');
  const logSize = () => (fs.existsSync(hookLog) ? fs.statSync(hookLog).size : 0);
  const tip = () => chainTip(repo);
  const samples = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = await tip();
    const size0 = logSize();
    const { ms, stdout } = spawnTimed([], { cwd: dir, shell: installed, input: hookPayload(dir, manifest.files[idx[0]], i) });
    assert(stdout.length === 0, 'the hook printed on stdout');
    assert(logSize() === size0, `the hook logged an error: ${fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8').trim().split('\n').pop() : ''}`);
    assert((await tip()) !== before, 'the hook recorded no snapshot');
    samples.push(ms);
  }
  const rows = [mkRow(`hook, 10 files changed`, 'the installed hook command via sh -c (PreToolUse)', 'ckpt', samples)];
  const direct = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = await tip();
    direct.push(spawnTimed([bin, 'hook', 'claude'], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `direct-${i}`) }).ms);
    assert((await tip()) !== before, 'the hook recorded no snapshot');
  }
  rows.push(mkRow(`hook, 10 files changed`, `node bin/ckpt.js hook claude, environment as is${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS set)' : ''}`, 'ckpt-direct', direct));
  // A floor for a Node hook with the same plumbing (see min-hook.mjs); its first run seeds its index.
  const minHook = path.join(ROOT, 'benchmarks', 'min-hook.mjs');
  const minRef = () => gText(dir, ['rev-parse', '--verify', '-q', 'refs/ckpt-bench/min-hook'], { ok: [0, 1] });
  spawnTimed([minHook], { cwd: dir, input: hookPayload(dir, manifest.files[0], 'warm') });
  const minSamples = [];
  for (let i = 0; i < iters; i++) {
    const idx = mut.mutate(10);
    const before = minRef();
    minSamples.push(spawnTimed([minHook], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `min-${i}`) }).ms);
    assert(minRef() !== before, 'min-hook recorded no commit');
  }
  rows.push(mkRow('hook, 10 files changed', 'floor: minimal Node hook, 5 git processes (min-hook.mjs)', 'min-hook', minSamples));
  // Floors: Node start-up, and the CLI up to the hook's dispatch without a snapshot.
  const floor = [];
  const floorNoCa = [];
  const early = [];
  for (let i = 0; i < iters; i++) {
    floor.push(spawnTimed(['-e', '0'], { cwd: dir }).ms);
    if (process.env.NODE_EXTRA_CA_CERTS) floorNoCa.push(spawnTimed(['-e', '0'], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: undefined } }).ms);
    early.push(spawnTimed([bin, 'hook', 'bench-unknown-agent'], { cwd: dir, input: '{}', env: { NODE_EXTRA_CA_CERTS: undefined } }).ms);
  }
  rows.push(mkRow('hook, 10 files changed', `node -e 0 (Node start-up floor, environment as is)`, 'node-floor', floor));
  if (floorNoCa.length) rows.push(mkRow('hook, 10 files changed', 'node -e 0 with NODE_EXTRA_CA_CERTS unset', 'node-floor-noca', floorNoCa));
  rows.push(mkRow('hook, 10 files changed', 'node bin/ckpt.js hook <unknown> (CLI load, no snapshot; NODE_EXTRA_CA_CERTS unset)', 'cli-floor', early));
  for (const r of rows) printRow(r);
  return rows;
}
