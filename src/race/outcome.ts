/** An attempt's outcome from how its agent process ended and what its output said. */
import { formatDuration } from '../core/duration.js';
import type { ProcessResult } from '../agents/process.js';
import type { ParsedOutput } from '../agents/presets.js';
import type { AttemptState } from './types.js';

/** The state an ended agent leaves its attempt in, and why it failed (null when it did not). */
export interface Outcome {
  state: Extract<AttemptState, 'done' | 'failed' | 'timeout' | 'interrupted'>;
  error: string | null;
}

/**
 * Decides the outcome: not started → failed; stopped by ckpt → interrupted
 * (abort) or timeout (wall clock, idle); exit 0 with no error reported by the
 * agent's own output → done; else failed, with the agent's message or its last
 * output line.
 *
 * @param limits the limits that applied, ms (for the error text).
 */
export function attemptOutcome(res: ProcessResult, parsed: Pick<ParsedOutput, 'isError' | 'resultText'>, limits: { timeoutMs: number; idleTimeoutMs: number }): Outcome {
  if (res.spawnError) return { state: 'failed', error: res.spawnError };
  if (res.stoppedBy === 'abort') return { state: 'interrupted', error: null };
  if (res.stoppedBy === 'timeout' || res.stoppedBy === 'idle') {
    const error = res.stoppedBy === 'idle' ? `no output or file change for ${formatDuration(limits.idleTimeoutMs)}: killed` : `ran longer than ${formatDuration(limits.timeoutMs)}: killed`;
    return { state: 'timeout', error };
  }
  if (res.exitCode === 0 && !parsed.isError) return { state: 'done', error: null };
  return { state: 'failed', error: parsed.resultText ?? (lastNonEmpty(res.outputTail) || `exited with ${res.exitCode ?? res.signal}`) };
}

function lastNonEmpty(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1)?.slice(0, 500) ?? '';
}
