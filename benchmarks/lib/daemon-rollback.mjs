// Method family "rollback through the daemon" (issue 11): the whole
// `ckpt rollback <step>` process of a 10-file step, and its `--undo`, with the
// repository's daemon running, beside bare Node (the same environment), the
// direct path (CKPT_NO_DAEMON=1) and git's own restore of the same paths
// (diff-tree + read-tree + checkout-index), interleaved in one loop. Every
// iteration checks the restored files byte for byte, and that the daemon read
// the worktree (`readBy: daemon`).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { UNDER_TEST, ckpt, storeObjectsDir } from './ckpt.mjs';
import { assert, log, spawnTimed, step } from './env.mjs';
import { median, mkRow, printRow } from './measure.mjs';
import { ensureRepo, Mutator, resetRepo } from './repo-gen.mjs';
import { ask, waitReady } from './daemon.mjs';
import { gitTempIndexRestore } from './rollback.mjs';

/** Issue 11's rollback target: the whole process at most bare Node plus this, in ms (median, at 100k files). */
export const ROLLBACK_OVER_NODE_MS = 50;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Starts `bin daemon run` for the repository at `dir` and waits (up to 120 s)
 * until it watches its worktree. Resolves to `{ version, stop() }`.
 */
export async function startDaemonProcess(bin, dir, sockPath, env) {
  const child = spawn(process.execPath, ckpt.daemonArgv(bin, ['--verify', '1h', '--idle', '30m']), { cwd: dir, stdio: 'ignore', env: ckpt.daemonEnv ? ckpt.daemonEnv(env) : env });
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async (version) => {
    if (version) await ask(sockPath, { cmd: 'stop' }, 3000);
    for (let i = 0; i < 400 && !exited; i++) await sleep(25);
    if (!exited) child.kill('SIGKILL');
  };
  const ready = await waitReady(sockPath, performance.now(), () => exited);
  if (ready?.readyMs != null) return { version: ready.version, stop: () => stop(ready.version) };
  await stop(ready?.version ?? null);
  throw new Error('the daemon did not become ready');
}

/**
 * The rollback family for one size: rows keyed `rb-daemon`, `rb-undo-daemon`,
 * `rb-direct`, `rb-git`, `rb-node`, and the target's value (the daemon's
 * whole-process median over bare Node's, ms).
 */
export async function benchDaemonRollback(label, { quick, baseline = null }) {
  const iters = quick ? 3 : label === '100k' ? 9 : 13;
  log(`\n== rollback through the daemon, ${label} files ==`);
  const { dir, manifest } = ensureRepo(label);
  resetRepo(dir, manifest);
  const mut = new Mutator(dir, manifest);
  const repo = await ckpt.openRepo(dir);
  await ckpt.takeSnapshot(repo, { kind: 'manual', force: true });
  const bin = path.join(UNDER_TEST, 'bin', 'ckpt.js');
  const sockPath = path.join(repo.commonDir, 'ckpt', 'daemon', 'sock');
  // The same environment for every process timed here: NODE_EXTRA_CA_CERTS unset (Node parses the bundle at start; no TLS here).
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const daemon = await startDaemonProcess(bin, dir, sockPath, env);
  const objects = storeObjectsDir(repo);
  const snap = async (kind) => {
    const r = await ask(sockPath, { version: daemon.version, cmd: 'snapshot', cwd: dir, kind, agent: 'bench' }, 60_000);
    assert(r?.ok, `the daemon took no snapshot: ${JSON.stringify(r)}`);
    return r.snapshot;
  };
  const noCa = { NODE_EXTRA_CA_CERTS: undefined };
  // A 10-file step: the state before it (base), 10 files edited, the step. Untimed.
  const makeStep = async () => {
    mut.restore();
    const base = await snap('manual');
    const idx = mut.mutate(10);
    const edited = idx.map((i) => [i, sha(path.join(dir, manifest.files[i]))]);
    const stepSnap = await snap('after');
    return { base, stepSnap, idx, edited };
  };
  const original = (c) => mut.verify(c.idx, []);
  const editedAgain = (c) => {
    for (const [i, h] of c.edited) assert(sha(path.join(dir, manifest.files[i])) === h, `${manifest.files[i]} is not back to the step's bytes`);
  };
  const rollbackCli = (args, extraEnv, with_ = bin) => {
    const r = spawnTimed([with_, 'rollback', ...args, '--json'], { cwd: dir, env: { ...noCa, ...extraEnv } });
    return { ms: r.ms, value: JSON.parse(String(r.stdout)) };
  };
  const methods = [
    {
      key: 'rb-daemon',
      name: '`ckpt rollback <step>`, whole process, the daemon running',
      prepare: makeStep,
      run: (c) => rollbackCli([String(c.base.step)], {}),
      check: (c, v) => {
        assert(v.changes.length === 10 && v.readBy === 'daemon', `rolled back ${v.changes.length} files, read by ${v.readBy}`);
        original(c);
      },
    },
    {
      key: 'rb-undo-daemon',
      name: '`ckpt rollback --undo` of it, whole process, the daemon running',
      prepare: async () => {
        const c = await makeStep();
        const r = rollbackCli([String(c.base.step)], {});
        assert(r.value.readBy === 'daemon', `the rollback before --undo was read by ${r.value.readBy}`);
        original(c);
        return c;
      },
      run: () => rollbackCli(['--undo'], {}),
      check: (c, v) => {
        assert(v.changes.length === 10 && v.readBy === 'daemon', `--undo restored ${v.changes.length} files, read by ${v.readBy}`);
        editedAgain(c);
      },
    },
    // --baseline DIR: another build's bin/ckpt.js (its own CLI and client) against the same daemon, in the same loop (A/B).
    ...(baseline
      ? [
          {
            key: 'rb-daemon-base',
            name: `the same, the baseline's client (${baseline.name})`,
            prepare: makeStep,
            run: (c) => rollbackCli([String(c.base.step)], {}, baseline.bin),
            check: (c, v) => {
              assert(v.changes.length === 10 && v.readBy === 'daemon', `rolled back ${v.changes.length} files, read by ${v.readBy}`);
              original(c);
            },
          },
        ]
      : []),
    {
      key: 'rb-direct',
      name: '`ckpt rollback <step>`, whole process, CKPT_NO_DAEMON=1 (git reads the worktree)',
      prepare: makeStep,
      run: (c) => rollbackCli([String(c.base.step)], { CKPT_NO_DAEMON: '1' }),
      check: (c, v) => {
        assert(v.changes.length === 10 && v.readBy === 'git', `rolled back ${v.changes.length} files, read by ${v.readBy}`);
        original(c);
      },
    },
    {
      key: 'rb-git',
      name: "git's own: diff-tree + read-tree + checkout-index of the paths (temporary index; no snapshot, no check)",
      prepare: makeStep,
      run: (c) => {
        const t = performance.now();
        gitTempIndexRestore(dir, c.base.tree, c.stepSnap.tree, objects);
        return { ms: performance.now() - t, value: null };
      },
      check: original,
    },
    {
      key: 'rb-node',
      name: '`node -e 0`, the same environment',
      prepare: async () => null,
      run: () => spawnTimed(['-e', '0'], { cwd: dir, env: noCa }),
    },
  ];
  const samples = new Map(methods.map((m) => [m.key, []]));
  try {
    // One of each first, untimed: the daemon's first snapshots, the page cache.
    for (const m of methods) {
      const c = await m.prepare();
      const v = m.run(c).value;
      if (m.check) m.check(c, v);
    }
    for (let it = 0; it < iters; it++) {
      for (let k = 0; k < methods.length; k++) {
        const m = methods[(k + it) % methods.length];
        const c = await m.prepare();
        const { ms, value } = m.run(c);
        if (m.check) m.check(c, value);
        samples.get(m.key).push(ms);
      }
    }
  } finally {
    await daemon.stop();
    mut.restore();
  }
  const kase = `rollback of a 10-file step, whole process (${label})`;
  const rows = methods.map((m) => mkRow(kase, m.name, m.key, samples.get(m.key)));
  for (const r of rows) printRow(r);
  const med = (key) => median(samples.get(key));
  step(`rollback through the daemon: node -e 0 + ${(med('rb-daemon') - med('rb-node')).toFixed(0)} ms (target + ${ROLLBACK_OVER_NODE_MS} ms); --undo + ${(med('rb-undo-daemon') - med('rb-node')).toFixed(0)} ms; the direct path ${(med('rb-direct') / med('rb-daemon')).toFixed(1)}× the daemon's`);
  resetRepo(dir, manifest);
  fs.rmSync(path.join(repo.commonDir, 'ckpt'), { recursive: true, force: true });
  return { label, rows, target: { value: med('rb-daemon') - med('rb-node'), undo: med('rb-undo-daemon') - med('rb-node'), target: ROLLBACK_OVER_NODE_MS } };
}

/** The rollback family's lines of the results section (markdown): its rows, its target met or not, per size. */
export function rollbackReport(results, fmt) {
  const lines = ['', '| case | method | median | p90 | n |', '|---|---|---:|---:|---:|'];
  for (const r of results) for (const row of r.rows) lines.push(`| ${row.case} | ${row.method} | ${fmt(row.median)} | ${fmt(row.p90)} | ${row.n} |`);
  lines.push('', '| size | target | value | |', '|---|---|---:|---|');
  for (const r of results) {
    const t = r.target;
    const met = Number.isFinite(t.value) ? (t.value <= t.target ? 'met' : '**not met**') : '—';
    lines.push(`| ${r.label} | rollback of a 10-file step through the daemon, whole process ≤ \`node -e 0\` (same environment) + ${t.target} ms${r.label === '100k' ? '' : ' (the issue sets it at 100k)'} | +${fmt(t.value)} (\`--undo\` +${fmt(t.undo)}) | ${met} |`);
  }
  return lines;
}
