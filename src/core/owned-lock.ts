/**
 * A lock file that names its holder from the moment it exists: every lock of
 * ckpt (the worktree lock, the store's locks, the daemon's lock) is one.
 *
 * ```
 * <lock>                    the lock: a file holding its owner record (JSON: pid, host, PID namespace, start time, token)
 * <lock>.<pid>-<token>-<since>.new    a would-be holder's record, hard-linked to <lock> to take it;
 *                             while it waits, its announcement (`since`: when it began, ms since the epoch)
 * <lock>.<pid>-<token>.stale  an abandoned lock being removed by the process that judged it so
 * ```
 *
 * Taking the lock is one `link(2)` of a complete record onto the lock's name
 * (atomic, fails with EEXIST when the lock exists), so there is no moment at
 * which the lock exists without the record of the process holding it: a
 * holder killed with SIGKILL at any point leaves either no lock or a lock
 * naming it. (proper-lockfile's lock, a directory made first with a record
 * written beside it later, and that record removed before the directory on
 * release, had two such moments; a holder killed in one left an ownerless
 * lock that waited out the stale time.)
 *
 * A lock is abandoned, and the next process takes it over:
 * - **at once** when its record names a process of this host and PID
 *   namespace that is gone: `kill(pid, 0)` says ESRCH, or it is a zombie, or
 *   (Linux) the pid now names a process with another start time (the pid was
 *   reused);
 * - **after `staleMs`** without refresh (the holder touches the lock's mtime
 *   every `staleMs / 3`) in every other case: another host or PID namespace,
 *   a holder alive but stalled, no readable record (a lock directory of an
 *   older ckpt, a file system without hard links, see below).
 * It is taken over by renaming it to a name of the taker's own, checking that
 * what was moved is the lock judged abandoned (same inode and token), and
 * only then removing it; a lock taken meanwhile by someone else is put back.
 *
 * On a file system without hard links (`link` fails with EPERM or
 * ENOTSUP) the lock is created with O_EXCL and its record written into it:
 * a holder killed between the two leaves an empty lock, abandoned after
 * `staleMs`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, utimesSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { processRunning, processStartTime } from './process-alive.js';

/**
 * Turns: a process that finds the lock free while another one announced
 * itself earlier (its record beside the lock, still waiting) leaves the
 * lock to it, for up to this long (ms) in all. Without turns a holder that
 * takes the lock again the moment it releases it (the daemon or the watcher
 * under a stream of changes) starves a waiter that polls every 10-100 ms
 * (a rollback, gc, the daemon behind the watcher): the lock is free for
 * microseconds at a time.
 */
const TURN_MS = 2000;
/** An announcement older than this (ms) is no one's turn (a waiter stopped with SIGSTOP, say): nobody waits that long. */
const TURN_MAX_AGE_MS = 120_000;

/** What a lock file holds: who holds it. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The PID namespace (Linux `/proc/self/ns/pid`, '' elsewhere), so a process of another container is never judged by our pids. */
  ns: string;
  /** The process's start time (Linux `/proc/<pid>/stat` field 22, clock ticks since boot), or null where unknown: tells a reused pid. */
  start: string | null;
  /** Random per acquisition. */
  token: string;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still this one (never someone else's); idempotent. */
  release(): void;
}

/** Options of {@link acquireOwnedLock}. */
export interface OwnedLockOptions {
  /** Give up after about this many ms of waiting (0: one attempt). Default 10000. */
  waitMs?: number;
  /** A lock not refreshed for this long is abandoned whoever holds it. Default 10000 ms. */
  staleMs?: number;
  /** Called once if the lock held is found taken over (this process stalled past `staleMs`) or gone. */
  onCompromised?: (why: string) => void;
  /**
   * Puts the would-be holder's record at its (unique) path without creating
   * a file now: a long-lived process's ready file renamed into place (the
   * daemon's pool, git/temp-pool.ts `placePooled`); false when it could not,
   * and the record is written here. Default: written here.
   */
  placeRecord?: (file: string, record: string) => boolean;
}

/** What {@link acquireOwnedLock} returns when the lock stayed held: its holder's record, null when unreadable. */
export interface LockBusy {
  holder: LockOwner | null;
}

let pidNamespace: string | null = null;
/** This process's PID namespace (Linux `/proc/self/ns/pid`), or '' where there is none. */
export function currentPidNamespace(): string {
  if (pidNamespace === null) {
    try {
      pidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      pidNamespace = '';
    }
  }
  return pidNamespace;
}

let selfStart: string | null | undefined;
/** This process's start time (`/proc/self/stat` field 22), or null where there is none. */
export function currentStartTime(): string | null {
  if (selfStart === undefined) selfStart = processStartTime('self');
  return selfStart;
}

/**
 * True when a process recorded as (`pid`, `host`, PID namespace `ns`, start
 * time `start`) is certainly gone: same host and namespace as this process,
 * not this process, and not running by core/process-alive.ts `processRunning`
 * (`kill(pid, 0)` says ESRCH, or the pid is a zombie, or it names a process
 * started at another time than `start`: a reused pid). False when in doubt.
 */
export function processGone(pid: number, host: string, ns: string, start: string | null = null): boolean {
  if (host !== hostname() || ns !== currentPidNamespace() || pid === process.pid) return false;
  // A pid that is no process's (a damaged record) is judged by its refresh, not here.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  return !processRunning(pid, start);
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.ns !== 'string' || typeof o.token !== 'string') return null;
    return { pid: o.pid, host: o.host, ns: o.ns, start: typeof o.start === 'string' ? o.start : null, token: o.token };
  } catch {
    return null;
  }
}

/** The record of the lock at `lockPath` now (who holds it), or null when there is no lock or no readable record. */
export function readLockOwner(lockPath: string): LockOwner | null {
  try {
    return parseOwner(readFileSync(lockPath, 'utf8'));
  } catch {
    return null;
  }
}

interface Seen {
  st: Stats;
  owner: LockOwner | null;
}

/** The lock as it is now, or null when there is none. */
function inspect(lockPath: string): Seen | null {
  let st: Stats;
  try {
    st = lstatSync(lockPath);
  } catch {
    return null;
  }
  let owner: LockOwner | null = null;
  if (st.isFile()) {
    try {
      owner = parseOwner(readFileSync(lockPath, 'utf8'));
    } catch {
      // removed meanwhile, or unreadable: judged by its mtime
    }
  }
  return { st, owner };
}

function abandoned(seen: Seen, staleMs: number): boolean {
  const o = seen.owner;
  if (o && processGone(o.pid, o.host, o.ns, o.start)) return true;
  return seen.st.mtimeMs < Date.now() - staleMs;
}

const sameLock = (a: Seen, b: Seen): boolean => a.st.ino === b.st.ino && a.st.dev === b.st.dev && (a.owner?.token ?? null) === (b.owner?.token ?? null) && (a.owner !== null || a.st.mtimeMs === b.st.mtimeMs);

/** Removes the lock judged abandoned (`seen`), and only that one. */
function takeOver(lockPath: string, seen: Seen, token: string): void {
  const moved = `${lockPath}.${process.pid}-${token}.stale`;
  try {
    renameSync(lockPath, moved);
  } catch {
    return; // released or taken over by another meanwhile
  }
  const now = inspect(moved);
  if (now && !sameLock(now, seen)) {
    // A lock taken after ours was judged: put it back (unless yet another was taken meanwhile).
    try {
      if (now.st.isFile()) linkSync(moved, lockPath);
      else renameSync(moved, lockPath);
    } catch {
      // The lock moved is no longer at its name: its holder finds out on its next refresh.
    }
  }
  rmSync(moved, { recursive: true, force: true });
}

/**
 * Whether another live process announced itself waiting for the lock at
 * `lockPath` before this one (`own`, begun at `since`): then it is its turn.
 * Announcements of processes that are gone, and old ones, do not count.
 */
function earlierWaiter(lockPath: string, own: string, since: number): boolean {
  const base = path.basename(lockPath) + '.';
  let names: string[];
  try {
    names = readdirSync(path.dirname(lockPath));
  } catch {
    return false;
  }
  const now = Date.now();
  for (const n of names) {
    if (n === own || !n.startsWith(base) || !n.endsWith('.new')) continue;
    const m = /^(\d+)-[0-9a-f]+-(\d+)\.new$/.exec(n.slice(base.length));
    if (!m) continue; // an older ckpt's record: no time, no turn
    const t = Number(m[2]);
    if (t > since || (t === since && n > own) || now - t > TURN_MAX_AGE_MS) continue;
    if (processGone(Number(m[1]), hostname(), currentPidNamespace())) continue;
    return true;
  }
  return false;
}

/** Leftovers of killed processes beside the lock (`.new`, `.stale`): removed once their writer or holder is gone. */
function removeLeftovers(lockPath: string, own: string): void {
  const dir = path.dirname(lockPath);
  const base = path.basename(lockPath) + '.';
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(base) || n === own || !(n.endsWith('.new') || n.endsWith('.stale'))) continue;
    const seen = inspect(path.join(dir, n));
    if (!seen) continue;
    // Judged by the record inside; a record cut short (its writer killed while writing it) by the pid in the name.
    const o = seen.owner ?? { pid: Number(n.slice(base.length).split('-')[0]), host: hostname(), ns: currentPidNamespace(), start: null };
    if ((Number.isSafeInteger(o.pid) && o.pid > 0 && processGone(o.pid, o.host, o.ns, o.start)) || seen.st.mtimeMs < Date.now() - 3_600_000) {
      rmSync(path.join(dir, n), { recursive: true, force: true });
    }
  }
}

const held = new Set<HeldLock>();
let exitHook = false;

/**
 * Removes every lock this process holds (synchronous): for a process about
 * to end by a signal it handles (git/exec.ts), so the next one need not
 * judge the lock at all.
 */
export function releaseHeldLocks(): void {
  for (const l of [...held]) l.release();
}

/**
 * Takes the lock at `lockPath` (its directory must exist), waiting up to
 * `waitMs` while another process holds it; an abandoned lock (see the module
 * comment) is taken over at once. Waiters take turns: while a live process
 * that began waiting earlier is still waiting, this one leaves the lock to it
 * (at most {@link TURN_MS} in all), so a holder taking the lock again at once
 * cannot starve a waiter. The holder refreshes the lock's mtime every
 * `staleMs / 3` ms (an unref'd timer) until {@link HeldLock.release}; the
 * lock is also removed if the process exits normally while holding it.
 *
 * @returns the held lock, or {@link LockBusy} (the holder's record) when still held by another after `waitMs`.
 * @throws the `fs` error (ENOENT, EACCES, ENOSPC, EROFS …) when the lock's record cannot be written.
 */
export async function acquireOwnedLock(lockPath: string, opts: OwnedLockOptions = {}): Promise<HeldLock | LockBusy> {
  const waitMs = opts.waitMs ?? 10_000;
  const staleMs = opts.staleMs ?? 10_000;
  const owner: LockOwner = { pid: process.pid, host: hostname(), ns: currentPidNamespace(), start: currentStartTime(), token: randomBytes(8).toString('hex') };
  const record = JSON.stringify(owner);
  const since = Date.now();
  const mine = `${lockPath}.${owner.pid}-${owner.token}-${since}.new`;
  // Whole before it is linked as the lock, either way (a renamed file is complete: its bytes were written first).
  if (!opts.placeRecord?.(mine, record)) writeFileSync(mine, record, { flag: 'wx' });
  let seen: Seen | null = null;
  let got = false;
  try {
    removeLeftovers(lockPath, path.basename(mine));
    const deadline = since + waitMs;
    const turns = since + TURN_MS;
    for (let delay = 10; ; delay = Math.min(100, Math.round(delay * 1.5))) {
      // A few immediate tries: after a lock vanished or was taken over, take it at once.
      for (let i = 0; i < 5 && !got; i++) {
        // The turn of a process that has waited longer (bounded: TURN_MS).
        if (Date.now() < turns && earlierWaiter(lockPath, path.basename(mine), since)) break;
        if (create(lockPath, mine, record, staleMs)) got = true;
        else {
          seen = inspect(lockPath);
          if (!seen) continue;
          if (!abandoned(seen, staleMs)) break;
          takeOver(lockPath, seen, owner.token);
        }
      }
      if (got || Date.now() + delay > deadline) break;
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  } finally {
    rmSync(mine, { force: true });
  }
  if (!got) return { holder: seen?.owner ?? null };
  return hold(lockPath, owner, staleMs, opts.onCompromised);
}

/**
 * One try at creating the lock: true when this process now holds it. The
 * record is linked as the lock, so the lock's mtime is the record's: made
 * fresh first when it is older than a tenth of `staleMs` (a process that
 * waited longer than `staleMs` for the lock would otherwise take a lock
 * that looks abandoned from its first moment, and is taken over before its
 * first refresh: seen as REF_RACE in the snapshot of whoever took it).
 */
function create(lockPath: string, mine: string, record: string, staleMs: number): boolean {
  try {
    try {
      const now = Date.now();
      if (lstatSync(mine).mtimeMs < now - staleMs / 10) utimesSync(mine, now / 1000, now / 1000);
    } catch {
      // gone (removed as a leftover): link says ENOENT and it is written again below
    }
    linkSync(mine, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') {
      // Our record was removed as a leftover (by a process of another PID namespace, whose pids are not ours): write it again.
      writeFileSync(mine, record, { flag: 'wx' });
      return false;
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  // No hard links here: create exclusively, then write the record.
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, record);
  } finally {
    closeSync(fd);
  }
  return true;
}

function hold(lockPath: string, owner: LockOwner, staleMs: number, onCompromised?: (why: string) => void): HeldLock {
  const ours = lstatSync(lockPath);
  const isOurs = (): boolean => {
    const now = inspect(lockPath);
    return !!now && now.st.ino === ours.ino && now.st.dev === ours.dev && now.owner?.token === owner.token;
  };
  let done = false;
  const timer = setInterval(() => {
    if (!isOurs()) {
      clearInterval(timer);
      done = true;
      held.delete(lock);
      onCompromised?.(`the lock ${lockPath} was taken over`);
      return;
    }
    try {
      const t = new Date();
      utimesSync(lockPath, t, t);
    } catch {
      // checked again at the next refresh
    }
  }, Math.max(100, Math.floor(staleMs / 3)));
  timer.unref();
  const lock: HeldLock = {
    path: lockPath,
    owner,
    release(): void {
      if (done) return;
      done = true;
      clearInterval(timer);
      held.delete(lock);
      if (isOurs()) rmSync(lockPath, { force: true });
    },
  };
  held.add(lock);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', releaseHeldLocks);
  }
  return lock;
}

/** True when `x` is a held lock (not {@link LockBusy}). */
export function isHeld(x: HeldLock | LockBusy): x is HeldLock {
  return 'release' in x;
}
