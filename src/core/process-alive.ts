/**
 * Whether a process still runs: the one check behind ckpt's locks
 * (owned-lock.ts `processGone`), a race's liveness (race/store.ts) and the
 * sweep of an attempt's processes (agents/sweep.ts). `kill(pid, 0)` alone is
 * not enough: it succeeds on a zombie (exited, not yet reaped by its parent
 * or by a container's init that never calls wait(2)), and on a pid the
 * kernel gave to another process since (a reused pid). Linux's
 * `/proc/<pid>/stat` (proc(5)) tells both: the state field and the start
 * time (field 22, clock ticks since boot). Without /proc, kill's answer
 * stands.
 */
import { readFileSync } from 'node:fs';

/** proc(5) `/proc/<pid>/stat`: "pid (comm) S ...", comm may hold spaces and parentheses; the fields from the state (field 3) on, or null when unreadable. */
export function procStatFields(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The start time of process `pid` (`/proc/<pid>/stat` field 22, clock ticks since boot, as text), or null where unknown (no /proc, gone). */
export function processStartTime(pid: number | 'self'): string | null {
  return procStatFields(pid)?.[19] ?? null;
}

/** kill(2) with signal 0: whether `pid` names a process (another user's included: EPERM). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether process `pid` (of this PID namespace) runs: it exists (`kill(pid,
 * 0)` succeeds or says EPERM), is no zombie (state Z or X), and, when
 * `start` is given (a start time recorded by {@link processStartTime}), was
 * started at that time, so a reused pid does not read as running. True
 * when in doubt (no /proc, the start time unknown on either side): callers
 * judging a lock or a record abandoned must not on a guess.
 */
export function processRunning(pid: number, start: string | null = null): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || !exists(pid)) return false;
  const f = procStatFields(pid);
  // Unreadable: no /proc (kill's answer stands), or the process went between the two calls.
  if (!f) return exists(pid);
  if (f[0] === 'Z' || f[0] === 'X') return false;
  return start === null || f[19] === undefined || f[19] === start;
}
