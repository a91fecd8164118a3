/** core/duration.ts: one rule for every duration (a unit, longer than zero) and a formatter that reads back. */
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseTimePoint } from '../src/core/duration.js';

describe('durations', () => {
  it('needs a unit and a length', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('2 hours')).toBe(7_200_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    for (const bad of ['180', '0', '1.5', '-5', '', '  ', '0s', '-5m', 'soon', '1h30', 'h']) {
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_DURATION', hint: expect.stringContaining('180s, 180m') }));
    }
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
