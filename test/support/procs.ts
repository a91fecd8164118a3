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

/** PIDs (this PID namespace) of live processes whose cwd is `dir` or below it. Empty without /proc. */
export function processesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  return livePids().filter((pid) => {
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
