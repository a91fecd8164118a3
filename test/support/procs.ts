/**
 * The processes of an attempt as the test sees them from outside: every
 * running process (zombies excluded) whose working directory lies inside a
 * directory, read from /proc (independent of how ckpt confines or sweeps).
 */
import fs from 'node:fs';

/** PIDs (this PID namespace) of live processes whose cwd is `dir` or below it. Empty without /proc. */
export function processesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      if ('ZX'.includes(stat[stat.lastIndexOf(')') + 2]!)) continue;
      const cwd = fs.readlinkSync(`/proc/${n}/cwd`);
      if (cwd === real || cwd.startsWith(real + '/')) out.push(Number(n));
    } catch {
      // gone, or not readable
    }
  }
  return out;
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
