/**
 * Which processes are an attempt's (agents/sweep.ts): those carrying its
 * marker (and, where no PID namespace confines it, those started in its
 * worktree), but never the repository's daemon and what runs below it. The
 * daemon is shared by every worktree of the repository: it watches the
 * attempt and runs long-lived git children (`check-ignore`, `cat-file`) in
 * its worktree, and ending them would end the user's checkpoints, not an
 * agent's leftover.
 */
import type { SweepTarget } from '../agents/sweep.js';
import { runningDaemonPid } from '../watch/daemon-paths.js';

/**
 * The sweep target of an attempt (or a reviewer's scratch worktree, a
 * teardown) in `dir`, of the repository whose common git dir is `commonDir`.
 *
 * @param sinceMs when the attempt started, ms since the epoch.
 */
export function attemptSweep(commonDir: string, dir: string, marker: Record<string, string>, sinceMs: number): Omit<SweepTarget, 'byCwd'> {
  return {
    dir,
    marker,
    sinceMs,
    spare: () => {
      const pid = runningDaemonPid(commonDir);
      return pid === null ? [] : [pid];
    },
  };
}
