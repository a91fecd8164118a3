/**
 * Processes as the test sees them from outside, read from /proc: whether one
 * lives (zombies excluded), and those of an attempt: every one whose working
 * directory lies inside a directory (independent of how ckpt confines or
 * sweeps).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { runningDaemonPid } from '../../src/watch/daemon-paths.js';

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

/** Whether `pid` is `root` or runs below it. */
function below(pid: number, root: number): boolean {
  for (let p: number | null = pid; p !== null && p > 1; p = parentOf(p)) if (p === root) return true;
  return false;
}

/** The pid of the running daemon of the repository `dir` is in (its `daemon.json`, as race/sweep-target.ts reads it), or null. */
function daemonOf(dir: string): number | null {
  const r = spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: dir, encoding: 'utf8' });
  return r.status === 0 ? runningDaemonPid(r.stdout.trim()) : null;
}

/**
 * PIDs (this PID namespace) of live processes whose cwd is `dir` or below it,
 * but the repository's running daemon and what runs below it (its git
 * processes for a worktree it watches, such as its `git check-ignore`): never
 * an attempt's, as race/sweep-target.ts says. Exactly that daemon's subtree
 * (its pid from `daemon.json`): any other process, one an agent started as
 * `… daemon run` too, counts. Empty without /proc.
 */
export function processesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  const daemon = daemonOf(real);
  return livePids().filter((pid) => {
    if (daemon !== null && below(pid, daemon)) return false;
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
