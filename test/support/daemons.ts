/**
 * ckpt daemons started during a test run, found from outside: a daemon
 * moves to `/` and may have been started by any CLI process of a test (a
 * hook, `ckpt watch`, a rollback, a race), so they are found in `/proc` by
 * what every process of the run inherits (`TMPDIR`, the run's own temp
 * directory: global-setup.ts) and by their argv (`… daemon run`), and, for
 * one repository, by its `daemon.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runningDaemonPid } from '../../src/watch/daemon-paths.js';
import { alive, livePids } from './procs.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves once it is gone (bounded). */
async function end(pid: number, graceMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (const until = Date.now() + graceMs; Date.now() < until && alive(pid); ) await sleep(50);
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (const until = Date.now() + 10_000; Date.now() < until && alive(pid); ) await sleep(20);
}

/**
 * The common git dirs of the repositories at `dir` or up to three levels
 * below it (a test's temp dir is a repository itself, or holds clones,
 * worktrees, `repo-X/app`), not looking inside a `.git` or `node_modules`.
 */
function commonDirsIn(dir: string, depth = 3): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    if (e.name === '.git') out.push(path.join(dir, e.name));
    else if (depth > 0 && e.name !== 'node_modules') out.push(...commonDirsIn(path.join(dir, e.name), depth - 1));
  }
  return out;
}

/**
 * Stops the daemon of every repository at or up to three levels below `dir`, and
 * waits until each is gone: what a test's temp dir needs before it is removed
 * (a daemon keeps nothing open for long, but a removal racing it can meet
 * its files: test/support/repo.ts).
 */
export async function stopDaemonsIn(dir: string): Promise<void> {
  for (const common of commonDirsIn(dir)) {
    const pid = runningDaemonPid(common);
    if (pid !== null) await end(pid);
  }
}

/** Pids of the live `ckpt daemon run` processes whose environment holds `entry` (`NAME=value`). */
export function daemonsWith(entry: string): number[] {
  return livePids().filter((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('daemon');
      return at >= 0 && argv[at + 1] === 'run' && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
    } catch {
      return false; // gone meanwhile, or not ours
    }
  });
}

/** Every `ckpt daemon run` process whose environment has `TMPDIR=root` (started during the run), with its pid. */
function daemonsOfRun(root: string): { pid: number; what: string }[] {
  return daemonsWith(`TMPDIR=${root}`).map((pid) => ({ pid, what: `pid ${pid}` }));
}

/**
 * At the end of a run: waits (up to 15 s) for the daemons of the run whose
 * repositories are gone to stop by themselves, then ends those still
 * running.
 *
 * @returns one line for each daemon it had to end (empty: none was left).
 */
export async function endDaemonsOfRun(root: string): Promise<string[]> {
  for (const until = Date.now() + 15_000; Date.now() < until && daemonsOfRun(root).length > 0; ) await sleep(100);
  const left = daemonsOfRun(root);
  await Promise.all(left.map((d) => end(d.pid)));
  return left.map((d) => d.what);
}
