/**
 * Ending the processes an attempt left behind: after an agent (or check, or
 * setup command) ends, any process that carries the attempt's environment
 * marker (`CKPT_RACE_ID` and `CKPT_ATTEMPT`, inherited by everything it
 * started, `setsid` or not), or (where no PID namespace confines the
 * attempt) whose working directory lies inside the attempt's worktree and
 * that started after the attempt did, gets SIGTERM,
 * then SIGKILL after a grace period. Read from `/proc` (Linux; elsewhere
 * nothing is found). Never ckpt itself or its own children (its git
 * commands, the other attempts' agents), nor a process the caller names as
 * shared (`spare`: the repository's daemon) or anything below it.
 *
 * The sweep is the fallback where no PID namespace is available (confine.ts)
 * and a second line where one is. It cannot see a process that cleared its
 * environment and left the worktree; a PID namespace can.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { processRunning } from '../core/process-alive.js';

/** Which processes belong to an attempt. */
export interface SweepTarget {
  /** The attempt's worktree (absolute, real path). */
  dir: string;
  /** Environment entries every process of the attempt inherits (`CKPT_RACE_ID`, `CKPT_ATTEMPT`). */
  marker: Record<string, string>;
  /** When the attempt started, ms since the epoch: a process in the worktree started earlier is not its. */
  sinceMs: number;
  /**
   * Also take processes by their working directory (where no PID namespace
   * confines the attempt). It can catch a process of the user's that was
   * started in the worktree during the attempt, so it is not used otherwise.
   */
  byCwd: boolean;
  /**
   * Processes shared with the attempt but not its own, read at each look:
   * these pids and everything below them are never taken (the
   * repository's daemon, which watches the attempt and runs git children
   * in its worktree: race/sweep-target.ts).
   */
  spare?: () => number[];
}

/** USER_HZ: the unit of `/proc/<pid>/stat` start times (100 on every Linux architecture ckpt runs on). */
const TICKS_PER_S = 100;

let bootMs: number | null = null;
function bootTimeMs(): number {
  if (bootMs === null) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootMs;
}

/**
 * One process's fields from `/proc/<pid>/stat`: state letter (as a char
 * code), parent pid and start time (clock ticks since boot).
 */
interface StatFields {
  state: number;
  ppid: number;
  startTicks: number;
}

/**
 * A buffer reused by every read of `/proc` here: a sweep looks at every
 * process of the system, often every 20 ms while an attempt's namespace
 * ends, and reading each one's environment as a string (then splitting it
 * into entries) made ~6.6 MB of garbage per look on a desktop's few hundred
 * processes, in a race process that otherwise holds ~10 MB.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads the whole of `file`, a file of `/proc`, into {@link scratch} (grown
 * as needed); the byte count, or -1 when it cannot be read. A read shorter
 * than asked is taken for the end: `/proc/<pid>/stat` (a seq_file) and
 * `environ` give all they have, up to the room given, in one read, so a
 * second read to see the end would double the system calls of a sweep.
 */
function readInto(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return -1;
  }
  try {
    let n = 0;
    for (;;) {
      if (n === scratch.length) {
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, n);
        scratch = bigger;
      }
      const room = scratch.length - n;
      const got = readSync(fd, scratch, n, room, null);
      n += got;
      if (got < room) return n;
    }
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

/** `/proc/<pid>/stat`'s fields (after the name, which may hold spaces and parentheses), or null when it cannot be read. */
function readStat(pid: number): StatFields | null {
  const n = readInto(`/proc/${pid}/stat`);
  if (n <= 0) return null;
  const close = scratch.lastIndexOf(0x29 /* ) */, n - 1);
  if (close < 0 || close + 2 >= n) return null;
  // After ") ": state, ppid (field 4), ... starttime (field 22): the 1st, 2nd and 20th of what follows.
  const out: StatFields = { state: scratch[close + 2]!, ppid: 0, startTicks: 0 };
  let field = 0;
  let value = 0;
  for (let i = close + 2; i < n; i++) {
    const c = scratch[i]!;
    if (c === 0x20 || c === 0x0a) {
      if (field === 1) out.ppid = value;
      else if (field === 19) {
        out.startTicks = value;
        break;
      }
      field++;
      value = 0;
    } else if (c >= 0x30 && c <= 0x39) value = value * 10 + (c - 0x30);
  }
  return out;
}

/** Whether the environment of `pid` holds every entry of `want` (each `KEY=VALUE` as bytes), read without a string. */
function environHolds(pid: number, want: readonly Buffer[]): boolean {
  const n = readInto(`/proc/${pid}/environ`);
  if (n <= 0) return false;
  // A view of what was read (the rest of the buffer is an earlier process's).
  const env = scratch.subarray(0, n);
  return want.every((entry) => {
    for (let at = env.indexOf(entry); at >= 0; at = env.indexOf(entry, at + 1)) {
      // A whole entry: at the start or after a NUL, and ending at a NUL or at the end.
      if ((at === 0 || env[at - 1] === 0) && (at + entry.length === n || env[at + entry.length] === 0)) return true;
    }
    return false;
  });
}

/** PIDs of the live processes that belong to `t` (see the module doc). Empty where there is no `/proc`. */
export function findAttemptProcesses(t: SweepTarget): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const want = Object.entries(t.marker).map(([k, v]) => Buffer.from(`${k}=${v}`));
  const dir = realDir(t.dir);
  // Every process's stat first: what lies below a spared process is known before anything is taken.
  const stats = new Map<number, StatFields>();
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const pid = Number(name);
    const stat = readStat(pid);
    if (stat !== null) stats.set(pid, stat);
  }
  const spared = sparedTree(t.spare?.() ?? [], stats);
  const out: number[] = [];
  for (const [pid, stat] of stats) {
    if (pid === process.pid || spared.has(pid)) continue;
    // A zombie (Z) or dead (X) process, or one of ckpt's own children.
    if (stat.state === 0x5a || stat.state === 0x58 || stat.ppid === process.pid) continue;
    if (want.length > 0 && environHolds(pid, want)) {
      out.push(pid);
      continue;
    }
    if (!t.byCwd) continue;
    const cwd = safeLink(`/proc/${pid}/cwd`);
    if (cwd === null || (cwd !== dir && !cwd.startsWith(dir + path.sep))) continue;
    const startedMs = bootTimeMs() + (stat.startTicks * 1000) / TICKS_PER_S;
    if (startedMs + 1000 >= t.sinceMs) out.push(pid);
  }
  return out;
}

/** `roots` and every process below them (by parent pid in `stats`). */
function sparedTree(roots: number[], stats: Map<number, StatFields>): Set<number> {
  const spared = new Set(roots.filter((pid) => stats.has(pid)));
  if (spared.size === 0) return spared;
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const todo = [...spared];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    for (const c of children.get(pid) ?? []) {
      if (spared.has(c)) continue;
      spared.add(c);
      todo.push(c);
    }
  }
  return spared;
}

/** What {@link sweepAttemptProcesses} did. */
export interface SweepResult {
  /** PIDs it signalled. */
  ended: number[];
  /** Those of `ended` that ran in ckpt's own PID namespace (outside any the attempt had); the rest were inside one, still running after it ended. */
  outside: number[];
}

/**
 * Ends every process of `t`: SIGTERM, then SIGKILL to those still there after
 * `graceMs`; repeated (at most 5 rounds) while new ones appear (a loop that
 * keeps starting children).
 *
 * @param namespaceWaitMs where the attempt ran in a PID namespace: how long,
 *   in ms, to let the processes found inside one (`/proc/<pid>/ns/pid` not
 *   ckpt's) end first. When the namespace's first process exits the kernel
 *   kills the rest (pid_namespaces(7)), but not always before the sweep
 *   looks: they are its own, not stragglers, unless they outlive the wait.
 */
export async function sweepAttemptProcesses(t: SweepTarget, graceMs = 2000, namespaceWaitMs = 0): Promise<SweepResult> {
  const signalled = new Set<number>();
  const outside = new Set<number>();
  const own = pidNamespace('self');
  const inside = (pid: number): boolean => {
    const ns = pidNamespace(String(pid));
    return own !== null && ns !== null && ns !== own;
  };
  if (namespaceWaitMs > 0) {
    const until = Date.now() + namespaceWaitMs;
    while (Date.now() < until && findAttemptProcesses(t).some((pid) => alive(pid) && inside(pid))) await new Promise((r) => setTimeout(r, 20));
  }
  for (let round = 0; round < 5; round++) {
    const found = findAttemptProcesses(t);
    if (found.length === 0) break;
    for (const pid of found) {
      signalled.add(pid);
      if (!inside(pid)) outside.add(pid);
      signal(pid, 'SIGTERM');
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && found.some(alive)) await new Promise((r) => setTimeout(r, 50));
    for (const pid of found) if (alive(pid)) signal(pid, 'SIGKILL');
    const gone = Date.now() + 1000;
    while (Date.now() < gone && found.some(alive)) await new Promise((r) => setTimeout(r, 20));
  }
  return { ended: [...signalled], outside: [...outside] };
}

/** The PID namespace of `/proc/<pid>` (`pid:[4026531836]`), null when it cannot be read. */
function pidNamespace(pid: string): string | null {
  return safeLink(`/proc/${pid}/ns/pid`);
}

/** `dir` as `/proc/<pid>/cwd` shows it (symlinks resolved), without a trailing slash. */
function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone, or not ours
  }
}

/** Running (a zombie waiting for its parent does not count): core/process-alive.ts. */
const alive = (pid: number): boolean => processRunning(pid);

function safeLink(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
}
