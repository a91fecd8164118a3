/**
 * agents/sweep.ts: a process left inside the attempt's PID namespace is not
 * called "outside" it; only one in ckpt's own namespace is. Real processes,
 * a real namespace (util-linux unshare, or bwrap through runProcess).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { confinementWorks } from '../src/agents/confine.js';
import { runProcess } from '../src/agents/process.js';
import { findAttemptProcesses, sweepAttemptProcesses, type SweepTarget } from '../src/agents/sweep.js';

const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;
const marker = (): Record<string, string> => ({ CKPT_RACE_ID: `sweep-test-${process.pid}-${Math.random().toString(36).slice(2)}`, CKPT_ATTEMPT: 'a' });
const childrenOf = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

describe('sweep', () => {
  it('never takes a process it is told to spare, nor anything below it, though it carries the marker and runs in the worktree (the repository\'s daemon and its git children)', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-sweep-')));
    const m = marker();
    const procs: ChildProcess[] = [];
    try {
      // A "shared" parent (as the daemon, not this process's child's child) whose child runs in the worktree with the marker.
      const shared = spawn('sh', ['-c', 'sleep 60 & wait'], { cwd: dir, env: { ...process.env, ...m }, stdio: 'ignore' });
      // An agent's leftover: same marker, same directory, nothing spares it.
      const own = spawn('sh', ['-c', 'sleep 60 & wait'], { cwd: dir, env: { ...process.env, ...m }, stdio: 'ignore' });
      procs.push(shared, own);
      const t: SweepTarget = { dir, marker: m, sinceMs: 0, byCwd: true, spare: () => [shared.pid!] };
      const unspared: SweepTarget = { ...t, spare: () => [] };
      for (let i = 0; i < 500 && findAttemptProcesses(unspared).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const below = childrenOf(shared.pid!);
      const left = childrenOf(own.pid!);
      expect([below.length, left.length]).toEqual([1, 1]);
      expect(findAttemptProcesses(unspared).sort()).toEqual([...below, ...left].sort()); // without spare: both are taken
      expect(findAttemptProcesses(t)).toEqual(left);
      const res = await sweepAttemptProcesses(t, 2000);
      expect(res.ended).toEqual(left);
      expect(fs.existsSync(`/proc/${below[0]}`)).toBe(true); // the spared tree runs on
    } finally {
      for (const c of procs.flatMap((p) => childrenOf(p.pid!))) spawnSync('kill', ['-9', String(c)]);
      for (const p of procs) p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('takes a process by whole marker entries only, wherever they sit in its environment (one larger than the sweep\'s 64 KiB buffer too)', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-sweep-')));
    const m = marker();
    const procs: ChildProcess[] = [];
    const start = (env: NodeJS.ProcessEnv): number => {
      const p = spawn('sh', ['-c', 'sleep 60 & wait'], { env, stdio: 'ignore' });
      procs.push(p);
      return p.pid!;
    };
    try {
      const near = { CKPT_RACE_ID: m.CKPT_RACE_ID, CKPT_ATTEMPT: 'ab', XCKPT_ATTEMPT: 'a', CKPT_ATTEMPTX: 'a' };
      const big = { ...process.env, ...Object.fromEntries([1, 2, 3, 4].map((i) => [`A_LARGE_${i}`, 'x'.repeat(40 * 1024)])) };
      // Leaders are this process's children (never taken): what each started is looked at.
      const ours = [start({ ...big, ...m }), start({ ...m, PATH: process.env.PATH })];
      const others = [start({ ...process.env, ...near }), start({ ...big, CKPT_RACE_ID: `${m.CKPT_RACE_ID}x`, CKPT_ATTEMPT: 'a' })];
      const t: SweepTarget = { dir, marker: m, sinceMs: 0, byCwd: false };
      const want = ours.flatMap(childrenOf);
      for (let i = 0; i < 500 && (want.length < 2 || findAttemptProcesses(t).length < 2); i++) {
        await new Promise((r) => setTimeout(r, 10));
        want.splice(0, want.length, ...ours.flatMap(childrenOf));
      }
      expect(want).toHaveLength(2);
      expect(others.flatMap(childrenOf)).toHaveLength(2);
      expect(findAttemptProcesses(t).sort()).toEqual(want.sort());
    } finally {
      for (const c of procs.flatMap((p) => childrenOf(p.pid!))) spawnSync('kill', ['-9', String(c)]);
      for (const p of procs) p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it.skipIf(!canUnshare)('tells a process inside a PID namespace from one outside it, and ends both', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-sweep-'));
    const m = marker();
    const env = { ...process.env, ...m };
    const procs: ChildProcess[] = [];
    try {
      // Each leader is this process's child (never swept); what each started is.
      procs.push(spawn('unshare', ['--pid', '--fork', 'sleep', '60'], { env, stdio: 'ignore' }));
      procs.push(spawn('sh', ['-c', 'sleep 60 & wait'], { env, stdio: 'ignore' }));
      const t: SweepTarget = { dir, marker: m, sinceMs: 0, byCwd: false };
      for (let i = 0; i < 500 && findAttemptProcesses(t).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const inside = childrenOf(procs[0]!.pid!);
      const outside = childrenOf(procs[1]!.pid!);
      expect(inside).toHaveLength(1);
      expect(outside).toHaveLength(1);
      const res = await sweepAttemptProcesses(t, 2000, 100);
      expect(res.ended.sort()).toEqual([...inside, ...outside].sort());
      expect(res.outside).toEqual(outside);
      expect(findAttemptProcesses(t)).toEqual([]);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  for (const mechanism of ['bwrap', 'unshare'] as const) {
    it.skipIf(!confinementWorks(mechanism))(`${mechanism}: what the agent left in its namespace is not reported as outside it`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-sweep-'));
      const m = marker();
      try {
        for (let run = 0; run < 3; run++) {
          const res = await runProcess({
            argv: ['sh', '-c', 'sleep 60 & sleep 60 & echo started'],
            cwd: dir,
            env: { ...process.env, ...m },
            logFile: path.join(dir, 'log'),
            confine: { mechanism, sweep: { dir, marker: m, sinceMs: Date.now() } },
          }).done;
          expect(res.exitCode).toBe(0);
          expect(res.stragglersOutside).toEqual([]);
          expect(findAttemptProcesses({ dir, marker: m, sinceMs: 0, byCwd: false })).toEqual([]);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
