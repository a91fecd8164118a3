/**
 * `ckpt watch` through the repository's daemon, when one runs: the daemon
 * watches the worktree (it may already, for the hooks), takes an `auto`
 * snapshot whenever a burst settles, from its dirty set, and sends each to
 * this process over its socket. When the daemon stops or dies while
 * watching, this process goes on watching by itself (watcher.ts), so no
 * burst goes unrecorded for long: the first local snapshot reads the whole
 * worktree.
 */
import { connect, type Socket } from 'node:net';
import { CkptError, type ErrorCode } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { openRepo, type Repo } from '../git/repo.js';
import type { TakeResult } from '../snapshot/take.js';
import { daemonRequest } from './daemon-client.js';
import { autoStartAllowed, startDaemon } from './daemon-control.js';
import { DAEMON_PROTOCOL, DAEMON_VERSION, daemonWanted, trustedSocketPath } from './daemon-paths.js';
import { startWatching, type WatchOptions, type Watching } from './watcher.js';

/**
 * Watches `dirs` through the daemon: only when they are one worktree whose
 * repository has a daemon of this version answering, and `CKPT_NO_DAEMON`
 * is not `1`. With `start.bin`, a daemon is started first when none runs and
 * one is wanted (daemon-paths.ts daemonWanted: the default) and allowed
 * (daemon-control.ts autoStartAllowed); one that cannot start means no
 * daemon (null), never an error.
 *
 * @param start.bin the ckpt bin script a daemon is started with.
 * @returns the watch (its `flush` waits for nothing while the daemon
 *   serves it: the daemon snapshots each burst when it settles), or null
 *   when there is no daemon to use (the caller watches by itself).
 */
export async function watchThroughDaemon(dirs: string[], opts: WatchOptions = {}, start: { bin?: string } = {}): Promise<Watching | null> {
  if (process.env.CKPT_NO_DAEMON === '1' || dirs.length !== 1) return null;
  const repo = await openRepo(dirs[0]!);
  if (start.bin && autoStartAllowed() && daemonWanted(repo.commonDir)) {
    try {
      await startDaemon(repo, start.bin);
    } catch {
      return null; // it could not start: the caller watches by itself
    }
  }
  let local: Watching | null = null;
  let closing = false;
  const fallBack = (why: string): void => {
    if (closing || local) return;
    opts.onError?.(repo, new CkptError('DAEMON_FAILED', `the daemon stopped serving this watch (${why}); watching in this process`, { hint: 'Nothing to do: the next burst is recorded here.' }));
    startWatching(dirs, opts).then(
      (w) => {
        if (closing) void w.close();
        else local = w;
      },
      (err: unknown) => opts.onError?.(repo, err),
    );
  };
  const sock = await subscribe(repo, opts, (line) => {
    if (line.event === 'snapshot') opts.onSnapshot?.(repo, { snapshot: line.snapshot as Snapshot, created: line.created === true, warnings: (line.warnings as string[] | undefined) ?? [] } as TakeResult);
    else if (line.event === 'error') opts.onError?.(repo, new CkptError(((line.code as ErrorCode | undefined) ?? 'INTERNAL'), String(line.message ?? 'the daemon could not take a snapshot')));
    else if (line.event === 'stopped') fallBack(String(line.why ?? 'stopped'));
  }, () => fallBack('its connection closed'));
  if (!sock) return null;
  return {
    repos: [repo],
    async flush() {
      await (local as Watching | null)?.flush();
    },
    async close() {
      closing = true;
      sock.end();
      await (local as Watching | null)?.close();
    },
  };
}

/**
 * Watches the worktree containing `dir`: through the repository's daemon
 * when the daemon is wanted (the default; off with `CKPT_NO_DAEMON=1`,
 * `CKPT_DAEMON=0` or `ckpt.daemon = false`: daemon-paths.ts daemonWanted), started if none runs (where that is allowed:
 * daemon-control.ts autoStartAllowed), so every worktree of a repository (a
 * race's attempts) shares its one watcher; by itself (watcher.ts) when it is
 * not wanted, cannot start or does not take the watch.
 *
 * @param bin the ckpt bin script, to start the daemon.
 * @returns the watch and who serves it.
 * @throws CkptError `NOT_A_REPO`, `BARE_REPO`.
 */
export async function watchWorktree(dir: string, opts: WatchOptions, bin: string): Promise<{ watching: Watching; through: 'daemon' | 'self' }> {
  const repo = await openRepo(dir);
  if (daemonWanted(repo.commonDir)) {
    const w = await watchThroughDaemon([dir], opts, { bin }).catch(() => null);
    if (w) return { watching: w, through: 'daemon' };
  }
  return { watching: await startWatching([dir], opts), through: 'self' };
}

/** How long {@link snapshotThroughDaemon} waits for the daemon's reply, ms (its step waits up to 20 s for the worktree's lock, then reads the worktree). */
const SNAPSHOT_REPLY_MS = 60_000;

/**
 * Takes a snapshot of the worktree containing `dir` in the repository's
 * daemon, started first as {@link watchWorktree} starts it (when it is wanted
 * and allowed; else one already running, if any). The daemon watches the worktree from then on, and this
 * snapshot is its first read of it, in full with git: a race attempt's
 * `base` (race/attempt.ts) taken so leaves the daemon knowing the base's
 * tree, and its first hook is read in process instead of waiting for a full
 * read (benchmarks/daemon.mjs --race-only at 10k files, 5 attempts: 5 first
 * full reads were behind 5 agents' first hooks, each hook's process ~8.7 MB
 * PSS while it waits, up to 800 ms; peak PSS summed, median of 3 interleaved
 * runs, 124.9 MB before, 102.3 MB after; docs/architecture.md).
 *
 * @param input the snapshot: kind, whether it is taken when nothing changed
 *   (`force`; else the reply is the tip), agent, message, trailers (`extra`).
 * @param bin the ckpt bin script, to start the daemon.
 * @returns the daemon's snapshot, or null when no daemon took it (none is
 *   wanted or could start, or it refused or did not answer in
 *   {@link SNAPSHOT_REPLY_MS}): the caller takes it itself. Never throws but
 *   `openRepo`'s `NOT_A_REPO`, `BARE_REPO`.
 */
export async function snapshotThroughDaemon(dir: string, input: { kind: 'base' | 'auto'; force: boolean; agent?: string; message?: string; extra?: Record<string, string> }, bin: string): Promise<Snapshot | null> {
  if (process.env.CKPT_NO_DAEMON === '1') return null;
  const repo = await openRepo(dir);
  if (!daemonWanted(repo.commonDir)) return null;
  if (autoStartAllowed()) {
    try {
      await startDaemon(repo, bin);
    } catch {
      return null; // it could not start: the caller takes the snapshot itself
    }
  }
  const r = await daemonRequest(repo.commonDir, 'snapshot', { cwd: repo.worktree, ...input }, { connectMs: 1000, replyMs: SNAPSHOT_REPLY_MS });
  return r?.ok === true && r.snapshot && typeof r.snapshot === 'object' ? (r.snapshot as Snapshot) : null;
}

/** Connects and subscribes; resolves with the socket once the daemon said ready, else null. */
function subscribe(repo: Repo, opts: WatchOptions, onLine: (line: Record<string, unknown>) => void, onClose: () => void): Promise<Socket | null> {
  return new Promise((resolve) => {
    let ready = false;
    let buf = '';
    const at = trustedSocketPath(repo.commonDir);
    if (at === null) return resolve(null); // a shared socket directory that is not this user's own: no daemon
    const sock = connect(at);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, 3000);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      sock.write(
        JSON.stringify({ v: DAEMON_PROTOCOL, version: DAEMON_VERSION, cmd: 'subscribe', cwd: repo.worktree, quietMs: opts.quietMs ?? 300, maxWaitMs: opts.maxWaitMs ?? 5000, initialSnapshot: opts.initialSnapshot !== false, ...(opts.agent ? { agent: opts.agent } : {}), ...(opts.extra ? { extra: opts.extra } : {}) }) + '\n',
      );
    });
    sock.on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (!ready) {
          clearTimeout(timer);
          if (line.ok === true && line.event === 'ready' && line.version === DAEMON_VERSION) {
            ready = true;
            resolve(sock);
          } else {
            sock.destroy();
            resolve(null);
          }
          continue;
        }
        onLine(line);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      if (ready) onClose();
      else resolve(null);
    });
  });
}
