/**
 * core/process-alive.ts, the one check of whether a process runs (locks, a
 * race's liveness, the sweep): a zombie and a reused pid do not count, and a
 * race record with its process's start time reads as interrupted once that
 * pid names another process; an older record without it still works.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processRunning, processStartTime } from '../src/core/process-alive.js';
import { resolveRace, saveRace } from '../src/race/store.js';
import { makeFakeRace } from './support/fake-race.js';
import { until } from './support/wait.js';

const procState = (pid: number): string | null => {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s[s.lastIndexOf(')') + 2]!;
  } catch {
    return null;
  }
};

describe('processRunning', () => {
  it('this process runs; with another start time it is a reused pid, not running', () => {
    const start = processStartTime('self');
    expect(start).toMatch(/^\d+$/);
    expect(processRunning(process.pid)).toBe(true);
    expect(processRunning(process.pid, start)).toBe(true);
    expect(processRunning(process.pid, String(Number(start) + 1))).toBe(false);
  });

  it('a process that exited and was reaped, and a zombie not yet reaped, do not run', async () => {
    const done = spawnSync('true');
    expect(processRunning(done.pid!)).toBe(false);
    // sh starts `sleep 0` in the background, then becomes `sleep 30`, which never reaps it: a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = await new Promise<number>((r) => parent.stdout.once('data', (b: Buffer) => r(Number(b.toString().trim()))));
      await until(() => procState(pid) === 'Z', 'the background sleep to become a zombie');
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(processRunning(pid)).toBe(false);
      expect(processRunning(parent.pid!)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('a race record\'s liveness', () => {
  it('a running race whose pid now names a process started at another time reads as interrupted; without a start time (older records) the pid alone decides', async () => {
    const { repo, race } = await makeFakeRace('alive', ['claude']);
    const running = { ...race, state: 'running' as const, attempts: race.attempts.map((a) => ({ ...a, state: 'running' as const })) };
    saveRace(repo, { ...running, pidStart: processStartTime('self') });
    expect(resolveRace(repo, 'alive').state).toBe('running');
    saveRace(repo, { ...running, pidStart: String(Number(processStartTime('self')) + 1) });
    const reused = resolveRace(repo, 'alive');
    expect(reused.state).toBe('interrupted');
    expect(reused.attempts[0]!.state).toBe('interrupted');
    const { pidStart: _, ...older } = running;
    saveRace(repo, older);
    expect(resolveRace(repo, 'alive').state).toBe('running');
  });
});
