/**
 * One lock per worktree, so a watcher, agent hooks and a rollback on the same
 * worktree take turns (test: snapshot.test.ts "serialises concurrent
 * snapshotters"). The lock is a directory created atomically by
 * proper-lockfile, whose mtime the holder refreshes every `staleMs / 2`.
 *
 * When a lock whose holder is gone is taken over (docs/architecture.md,
 * "Concurrency", and docs/cli.md `LOCKED` say the same):
 * - **at once** when the `lock-owner` record the holder writes beside it
 *   (pid, host, PID namespace, a token) names a process of this host and PID
 *   namespace that no longer exists, and the lock directory was made before
 *   that record (its birth time; where the file system has none, this case
 *   falls to the next): a waiter ages the lock's mtime and proper-lockfile's
 *   own stale rule hands it over. A holder killed with SIGKILL cannot remove
 *   its lock, and waiting out `staleMs` would make every hook meanwhile
 *   wait (test: cli.test.ts "a lock left by a killed ckpt process is taken
 *   over at once").
 * - **after `staleMs`** (10 s) without refresh in every other case: no
 *   record, another host or PID namespace, a holder alive but stalled.
 * A ckpt ended by SIGTERM, SIGINT or SIGHUP removes its lock itself
 * (proper-lockfile's exit handler).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { CkptError } from '../core/errors.js';
import type { Repo } from '../git/repo.js';

/** Options for {@link withWorktreeLock}. */
export interface LockOptions {
  /** Give up after about this many ms of waiting. Default 10000. */
  waitMs?: number;
  /** A held lock not refreshed for this long is considered abandoned. Default 10000 ms. */
  staleMs?: number;
}

/** What the holder writes next to its lock. */
interface Owner {
  pid: number;
  host: string;
  /** The PID namespace (Linux `/proc/self/ns/pid`), so a process in another container is never judged by our pids. */
  ns: string;
  token: string;
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

/**
 * Runs `fn` while holding `repo`'s worktree lock.
 *
 * @throws CkptError `LOCKED` when the lock stays held for `waitMs`; whatever `fn` throws.
 */
export async function withWorktreeLock<T>(repo: Repo, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  mkdirSync(repo.stateDir, { recursive: true });
  const waitMs = opts.waitMs ?? 10_000;
  const staleMs = opts.staleMs ?? 10_000;
  const lockPath = path.join(repo.stateDir, 'lock');
  const ownerPath = path.join(repo.stateDir, 'lock-owner');
  const deadline = Date.now() + waitMs;
  let release: (() => Promise<void>) | null = null;
  let lastErr: unknown = null;
  for (let delay = 10; ; delay = Math.min(100, Math.round(delay * 1.5))) {
    reclaimIfOwnerDead(lockPath, ownerPath, staleMs);
    try {
      release = await lockfile.lock(repo.stateDir, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        update: Math.max(1000, Math.floor(staleMs / 2)),
        retries: 0,
        onCompromised: () => {
          // Our lock was taken over (we were stalled past staleMs). Keep going:
          // ref updates carry an expected old value, so a lost race fails cleanly.
        },
      });
      break;
    } catch (err) {
      lastErr = err;
      if ((err as { code?: string }).code !== 'ELOCKED' || Date.now() + delay > deadline) break;
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  }
  if (!release) {
    throw new CkptError('LOCKED', `another ckpt process is working on ${repo.worktree}`, {
      cause: lastErr,
      hint: `Wait for it to finish. A lock whose holder is gone is taken over at once when its owner record names a process of this machine, else after ${Math.round(staleMs / 1000)} s without refresh (${lockPath}).`,
      data: { lock: lockPath },
    });
  }
  const owner: Owner = { pid: process.pid, host: hostname(), ns: currentPidNamespace(), token: randomBytes(8).toString('hex') };
  try {
    writeFileSync(ownerPath, JSON.stringify(owner));
  } catch {
    // Without the record a crash costs the stale timeout, nothing more.
  }
  try {
    // A private index lock left by a git killed mid-write can only be ours
    // (the private index is used under this lock alone), so it is stale.
    const indexLock = path.join(repo.stateDir, 'index.lock');
    if (existsSync(indexLock)) rmSync(indexLock, { force: true });
    return await fn();
  } finally {
    if (readOwner(ownerPath)?.token === owner.token) rmSync(ownerPath, { force: true });
    await release().catch(() => undefined);
  }
}

function readOwner(ownerPath: string): Owner | null {
  try {
    const o = JSON.parse(readFileSync(ownerPath, 'utf8')) as Owner;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.ns === 'string' && typeof o.token === 'string' ? o : null;
  } catch {
    return null;
  }
}

/**
 * True when a process recorded as (`pid`, `host`, PID namespace `ns`) is
 * certainly gone: same host and namespace as this process, and `kill(pid, 0)`
 * says ESRCH. False when in doubt.
 */
export function processGone(pid: number, host: string, ns: string): boolean {
  return host === hostname() && ns === currentPidNamespace() && pid !== process.pid && !alive(pid);
}

/**
 * True unless `pid` certainly names no running process: ESRCH, or (Linux) a
 * zombie, which `kill(pid, 0)` still finds but which holds nothing any more
 * (a process killed with SIGKILL whose parent does not reap it, as under a
 * container's init that never calls wait(2)).
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    // proc(5): "pid (comm) S ...", comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * If the lock is held and its recorded owner is a process of this host that
 * no longer exists, age the lock so that proper-lockfile sees it as stale.
 * Does nothing when in doubt (no record, another host or PID namespace, the
 * lock changed while looking, the process alive or not ours to signal).
 */
function reclaimIfOwnerDead(lockPath: string, ownerPath: string, staleMs: number): void {
  try {
    const before = statSync(lockPath, { throwIfNoEntry: false });
    if (!before) return;
    const owner = readOwner(ownerPath);
    if (!owner || owner.host !== hostname() || owner.ns !== currentPidNamespace() || owner.pid === process.pid || alive(owner.pid)) return;
    // The record is that lock's only if the lock was made before the record was
    // written (a new holder may not have written its own yet). Without a
    // birth time to tell, do nothing.
    if (!(before.birthtimeMs > 0) || before.birthtimeMs > statSync(ownerPath).mtimeMs) return;
    const again = statSync(lockPath, { throwIfNoEntry: false });
    if (!again || again.ino !== before.ino || again.mtimeMs !== before.mtimeMs) return;
    const past = new Date(Date.now() - 10 * staleMs);
    utimesSync(lockPath, past, past);
  } catch {
    // Nothing reclaimed: the normal stale rule still applies.
  }
}
