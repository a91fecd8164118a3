/** core/duration.ts: one rule for every duration (a unit, longer than zero) and a formatter that reads back. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runProcess } from '../src/agents/process.js';
import { formatDuration, parseDuration, parseTimePoint } from '../src/core/duration.js';
import { durationText } from '../src/core/duration-schema.js';
import { MAX_TIMER_MS, setLongTimeout } from '../src/core/timer.js';
import { attemptOutcome } from '../src/race/outcome.js';

describe('durations', () => {
  it('needs a unit and a length', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('2 hours')).toBe(7_200_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    for (const bad of ['180', '0', '1.5', '-5', '', '  ', 'soon', '1h30', 'h']) {
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_DURATION', hint: expect.stringContaining('180s, 180m') }));
    }
    // These have a unit: the hint says what is wrong, the amount.
    for (const bad of ['0s', '-5m', '0ms']) {
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_DURATION', hint: expect.stringMatching(/^Give an amount longer than zero/) }));
    }
  });

  it('a JSON number (config "timeout": 180) is refused with the units hint', () => {
    const res = durationText.safeParse(180);
    expect(res.success).toBe(false);
    const issue = res.error!.issues[0] as { message: string; params?: { hint?: string; code?: string } };
    expect(issue.message).toMatch(/180 is a number without a unit/);
    expect(issue.params).toEqual({ hint: expect.stringContaining('180s, 180m'), code: 'INVALID_DURATION' });
    expect(durationText.parse('30d')).toBe('30d');
  });

  it('timers longer than setTimeout allows (2^31-1 ms, ~24.8 days) fire after the whole delay, not at once', () => {
    vi.useFakeTimers();
    try {
      const day = 86_400_000;
      const fired: string[] = [];
      setLongTimeout(() => fired.push('30d'), 30 * day);
      const cleared = setLongTimeout(() => fired.push('cleared'), 40 * day);
      setLongTimeout(() => fired.push('1s'), 1000);
      vi.advanceTimersByTime(1000);
      expect(fired).toEqual(['1s']);
      vi.advanceTimersByTime(MAX_TIMER_MS); // past one setTimeout's limit
      expect(fired).toEqual(['1s']);
      vi.advanceTimersByTime(30 * day - MAX_TIMER_MS - 1001);
      expect(fired).toEqual(['1s']);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['1s', '30d']);
      cleared.clear();
      vi.advanceTimersByTime(20 * day);
      expect(fired).toEqual(['1s', '30d']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a process run with a 30-day timeout and idle timeout is not killed (it was, at once)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-longtimer-'));
    try {
      const res = await runProcess({ argv: ['sh', '-c', 'sleep 0.3; echo finished'], cwd: dir, env: process.env, logFile: path.join(dir, 'log'), timeoutMs: parseDuration('30d'), idleTimeoutMs: parseDuration('30d') }).done;
      expect(res.stoppedBy).toBeNull();
      expect(res.exitCode).toBe(0);
      expect(res.outputTail).toMatch(/finished/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kill messages give the limit as a duration (25d, not 2160000 s)', () => {
    const res = { stoppedBy: 'timeout', spawnError: null, exitCode: null } as Parameters<typeof attemptOutcome>[0];
    expect(attemptOutcome(res, { isError: false, resultText: null }, { timeoutMs: parseDuration('25d'), idleTimeoutMs: parseDuration('10m') }).error).toBe('ran longer than 25d: killed');
    expect(attemptOutcome({ ...res, stoppedBy: 'idle' }, { isError: false, resultText: null }, { timeoutMs: 1, idleTimeoutMs: parseDuration('90s') }).error).toBe('no output or file change for 1m30s: killed');
  });

  it('formats exactly, in a form it reads back', () => {
    for (const v of [1, 250, 1000, 90_000, 1_800_000, 5_400_000, 86_400_000 + 1234]) expect(parseDuration(formatDuration(v))).toBe(v);
    expect(formatDuration(1_800_000)).toBe('30m');
    expect(formatDuration(90_000)).toBe('1m30s');
  });

  it('points in time: ago, now, ISO dates; a bare number is refused', () => {
    const now = Date.parse('2026-11-23T14:05:00Z');
    expect(parseTimePoint('10 minutes ago', now)).toBe(now - 600_000);
    expect(parseTimePoint('10m', now)).toBe(now - 600_000);
    expect(parseTimePoint('now', now)).toBe(now);
    expect(parseTimePoint('2026-11-23T14:00:00Z', now)).toBe(now - 300_000);
    for (const bad of ['180', '180 ago', 'whenever']) expect(() => parseTimePoint(bad, now), bad).toThrow(expect.objectContaining({ code: 'INVALID_DURATION' }));
  });
});
