/**
 * Processes as the test sees them from outside, read from /proc: whether one
 * lives (zombies excluded), and those of an attempt: every one whose working
 * directory lies inside a directory (independent of how ckpt confines or
 * sweeps).
 */
import fs from 'node:fs';

/**
 * Whether `pid` is a live process: /proc lists it and it is no zombie (a
 * process that exited, not yet reaped, still answers `kill(pid, 0)`).
 */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !'ZX'.includes(stat[stat.lastIndexOf(')') + 2]!);
  } catch {
    return false;
  }
}

/** PIDs (this PID namespace) of the live processes but this one. Empty without /proc. */
export function livePids(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => pid !== process.pid && alive(pid));
}

/** The parent pid of `pid` from /proc, or null when it is gone. */
function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Whether `pid` is a repository's daemon (`… daemon run`) or runs below one (its git processes). */
function ofDaemon(pid: number): boolean {
  for (let p: number | null = pid; p !== null && p > 1; p = parentOf(p)) {
    try {
      if (/ daemon run( |$)/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trimEnd())) return true;
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * PIDs (this PID namespace) of live processes whose cwd is `dir` or below it,
 * but the repository's daemon and what runs below it (its git processes for a
 * worktree it watches, such as its `git check-ignore`): never an attempt's,
 * as race/sweep-target.ts says. Empty without /proc.
 */
export function processesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  return livePids().filter((pid) => {
    if (ofDaemon(pid)) return false;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      return cwd === real || cwd.startsWith(real + '/');
    } catch {
      return false; // gone, or not readable
    }
  });
}

/** SIGKILLs every process {@link processesIn} `dir` (test clean-up). */
export function killProcessesIn(dir: string): void {
  for (const pid of processesIn(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
