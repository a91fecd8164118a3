// Where the time goes: git processes and their own run time
// (GIT_TRACE_PERFORMANCE) against the total, for the in-process snapshot,
// the rollback and the hook process.
import fs from 'node:fs';
import path from 'node:path';
import { UNDER_TEST, ckpt } from './ckpt.mjs';
import { WORK, spawnTimed, step, timed } from './env.mjs';
import { hookPayload } from './hook.mjs';
import { fmt } from './measure.mjs';

/**
 * Where the time of the in-process snapshot (10 changed), the rollback of a
 * 10-file step and the hook process goes: each is run `reps` times with
 * GIT_TRACE_PERFORMANCE on, which makes every git process log its own run
 * time ("git command: …"). The repetition with the median total is reported:
 * how many git processes, how long they ran, and the rest (Node, module
 * load, spawning and reaping processes).
 */
export async function breakdown(s, reps) {
  const { dir, repo, mut, manifest } = s;
  const logFile = path.join(WORK, 'tmp', `gittrace-${process.pid}`);
  const read = () => {
    const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n') : [];
    fs.rmSync(logFile, { force: true });
    const calls = [];
    for (const l of lines) {
      const m = /performance: ([0-9.]+) s: git command: (.*)$/.exec(l);
      if (!m) continue;
      const args = m[2].split(' ').slice(1);
      // The subcommand: the first argument that is not an option (skipping `-c key=value`).
      let cmd = '?';
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '-c' || args[i] === '-C') i++;
        else if (!args[i].startsWith('-')) {
          cmd = args[i];
          break;
        }
      }
      calls.push({ cmd, ms: Number(m[1]) * 1000 });
    }
    return { count: calls.length, gitMs: calls.reduce((a, c) => a + c.ms, 0), calls: calls.map((c) => `${c.cmd} ${c.ms < 10 ? c.ms.toFixed(1) : c.ms.toFixed(0)}`).join(', ') };
  };
  const runs = { snapshot: [], rollback: [], hook: [] };
  fs.rmSync(logFile, { force: true });
  try {
    for (let r = 0; r < reps; r++) {
      // in-process snapshot, 10 changed
      mut.restore();
      await ckpt.takeSnapshot(repo, { kind: 'manual' });
      mut.mutate(10);
      process.env.GIT_TRACE_PERFORMANCE = logFile;
      let t = await timed(() => ckpt.takeSnapshot(repo, { kind: 'manual', force: true }));
      delete process.env.GIT_TRACE_PERFORMANCE;
      runs.snapshot.push({ totalMs: t.ms, ...read() });
      // rollback of a 10-file step
      mut.restore();
      const base = (await ckpt.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      mut.mutate(10);
      await ckpt.takeSnapshot(repo, { kind: 'manual', force: true });
      process.env.GIT_TRACE_PERFORMANCE = logFile;
      t = await timed(() => ckpt.rollback(repo, { target: base.id }));
      delete process.env.GIT_TRACE_PERFORMANCE;
      runs.rollback.push({ totalMs: t.ms, ...read() });
      mut.dirty.clear();
      // the hook process
      const idx = mut.mutate(10);
      const h = spawnTimed([path.join(UNDER_TEST, 'bin', 'ckpt.js'), 'hook', 'claude'], { cwd: dir, input: hookPayload(dir, manifest.files[idx[0]], `trace-${r}`), env: { GIT_TRACE_PERFORMANCE: logFile } });
      runs.hook.push({ totalMs: h.ms, ...read() });
    }
  } finally {
    delete process.env.GIT_TRACE_PERFORMANCE;
  }
  const res = { reps };
  for (const [k, list] of Object.entries(runs)) {
    const sorted = [...list].sort((a, b) => a.totalMs - b.totalMs);
    res[k] = sorted[Math.floor((sorted.length - 1) / 2)];
  }
  step(`git processes: snapshot ${res.snapshot.count} (${fmt(res.snapshot.gitMs)} of ${fmt(res.snapshot.totalMs)} inside git: ${res.snapshot.calls}); rollback ${res.rollback.count} (${fmt(res.rollback.gitMs)} of ${fmt(res.rollback.totalMs)}); hook ${res.hook.count} (${fmt(res.hook.gitMs)} of ${fmt(res.hook.totalMs)})`);
  return res;
}
