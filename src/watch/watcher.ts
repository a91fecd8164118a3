/**
 * The watcher: chokidar on one or more worktrees; when a burst of writes has
 * settled (no event for `quietMs`), or writes have gone on for `maxWaitMs`
 * without a pause, it takes an `auto` snapshot. Ignored paths and `.git` are
 * not watched. Snapshot errors are reported and watching goes on.
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Repo } from '../git/repo.js';
import { openRepo } from '../git/repo.js';
import { retryOnRefRace, withWorktreeLock } from '../snapshot/lock.js';
import { serveQueuedRequests } from '../snapshot/queue.js';
import { takeSnapshotLocked, type TakeResult } from '../snapshot/take.js';
import { loadIgnoreRules, type IgnoreMatcher } from './ignore-rules.js';
import { POLL_INTERVAL_MS } from './poll-watch.js';

/** Options for {@link startWatching}. */
export interface WatchOptions {
  /** Quiet time after the last event before a snapshot, in ms. Default 300. */
  quietMs?: number;
  /** Snapshot at least this often (ms) while events keep coming. Default 5000. */
  maxWaitMs?: number;
  /** Agent name recorded on the snapshots. */
  agent?: string;
  /** Further trailers recorded on the snapshots (a race's `Race`, `Attempt`, `Round`). */
  extra?: Record<string, string>;
  /** Called after each snapshot attempt that recorded something (or found nothing new). */
  onSnapshot?: (repo: Repo, result: TakeResult) => void;
  /** Called when a snapshot or the watcher fails; watching goes on. */
  onError?: (repo: Repo | null, err: unknown) => void;
  /** Take a snapshot right after start (default true), so the first step has a "before". */
  initialSnapshot?: boolean;
  /** Poll the file system (chokidar's `usePolling`, every 500 ms) instead of inotify: for file systems without it (network mounts). */
  poll?: boolean;
}

/** A running watcher. */
export interface Watching {
  /** The worktrees watched. */
  repos: Repo[];
  /** Resolves when every in-flight snapshot finished; pending bursts are snapshotted first. */
  close(): Promise<void>;
  /** Snapshots any pending burst now and waits for it (tests, shutdown). */
  flush(): Promise<void>;
}

interface Slot {
  repo: Repo;
  watcher: FSWatcher;
  rules: IgnoreMatcher;
  timer: NodeJS.Timeout | null;
  firstEventAt: number | null;
  running: Promise<void> | null;
  dirty: boolean;
}

/**
 * Starts watching the worktrees containing `dirs` (duplicates merged).
 * Resolves once every watcher is ready.
 *
 * @throws CkptError `NOT_A_REPO`, `BARE_REPO` for a directory that is not in a worktree.
 */
export async function startWatching(dirs: string[], opts: WatchOptions = {}): Promise<Watching> {
  const quietMs = opts.quietMs ?? 300;
  const maxWaitMs = opts.maxWaitMs ?? 5000;
  const repos: Repo[] = [];
  for (const d of dirs) {
    const r = await openRepo(d);
    if (!repos.some((x) => x.worktree === r.worktree)) repos.push(r);
  }
  const slots: Slot[] = [];

  const snap = (slot: Slot): Promise<void> => {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.firstEventAt = null;
    if (slot.running) {
      slot.dirty = true;
      return slot.running;
    }
    slot.dirty = false;
    slot.running = (async () => {
      try {
        // Hooks that queued a request while this snapshot ran are served before the lock is
        // released: the watcher takes it again at once when changes keep coming.
        // A snapshot that lost a race on the ref (its lock taken over while it stalled) is taken again.
        const res = await retryOnRefRace(() =>
          withWorktreeLock(slot.repo, async () => {
            const taken = await takeSnapshotLocked(slot.repo, { kind: 'auto', ...(opts.agent ? { agent: opts.agent } : {}), ...(opts.extra ? { extra: opts.extra } : {}) });
            await serveQueuedRequests(slot.repo);
            return taken;
          }),
        );
        opts.onSnapshot?.(slot.repo, res);
      } catch (err) {
        opts.onError?.(slot.repo, err);
      } finally {
        slot.running = null;
      }
      if (slot.dirty) await snap(slot);
    })();
    return slot.running;
  };

  const onEvent = (slot: Slot, file: string): void => {
    if (path.basename(file) === '.gitignore') {
      loadIgnoreRules(slot.repo).then((r) => (slot.rules = r), (err) => opts.onError?.(slot.repo, err));
    }
    const now = Date.now();
    slot.firstEventAt ??= now;
    if (slot.timer) clearTimeout(slot.timer);
    const wait = Math.max(0, Math.min(quietMs, slot.firstEventAt + maxWaitMs - now));
    slot.timer = setTimeout(() => void snap(slot), wait);
  };

  for (const repo of repos) {
    const rules = await loadIgnoreRules(repo);
    const slot: Slot = { repo, watcher: null as unknown as FSWatcher, rules, timer: null, firstEventAt: null, running: null, dirty: false };
    const root = repo.worktree;
    slot.watcher = watch(root, {
      ignoreInitial: true,
      persistent: true,
      followSymlinks: false,
      ...(opts.poll ? { usePolling: true, interval: POLL_INTERVAL_MS, binaryInterval: POLL_INTERVAL_MS } : {}),
      ignored: (p: string, stats?: { isDirectory(): boolean }) => {
        const rel = path.relative(root, p).split(path.sep).join('/');
        if (rel === '') return false;
        if (rel === '.git' || rel.startsWith('.git/') || rel.includes('/.git/') || rel.endsWith('/.git')) return true;
        if (/\.ckpt-\d+-[a-z0-9]+\.tmp$/.test(rel)) return true;
        return slot.rules.ignores(rel, stats ? stats.isDirectory() : false);
      },
    });
    for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) {
      slot.watcher.on(ev, (file: string) => onEvent(slot, file));
    }
    // chokidar drops attribute-only changes (chmod +x leaves mtime alone);
    // the raw fs.watch events still carry them.
    slot.watcher.on('raw', (_event: string, name: string | null, details: unknown) => {
      const base = (details as { watchedPath?: string } | undefined)?.watchedPath ?? root;
      const file = name ? path.join(base, name) : base;
      const rel = path.relative(root, file);
      if (rel.startsWith('..') || /(^|[/\\])\.git([/\\]|$)/.test(rel) || /\.ckpt-\d+-[a-z0-9]+\.tmp$/.test(rel)) return;
      onEvent(slot, file);
    });
    slot.watcher.on('error', (err: unknown) => opts.onError?.(repo, err));
    await new Promise<void>((resolve) => slot.watcher.once('ready', () => resolve()));
    slots.push(slot);
  }
  if (opts.initialSnapshot !== false) await Promise.all(slots.map((s) => snap(s)));

  const flush = async (): Promise<void> => {
    await Promise.all(slots.map((s) => (s.timer || s.dirty ? snap(s) : s.running ?? Promise.resolve())));
  };
  return {
    repos,
    flush,
    async close() {
      await Promise.all(slots.map((s) => s.watcher.close()));
      await flush();
    },
  };
}
