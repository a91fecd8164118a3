/**
 * The daemon's event source for file systems without inotify (network
 * mounts, some containers' overlays): chokidar's polling (`usePolling`,
 * every {@link POLL_INTERVAL_MS}), what `ckpt daemon start --poll` uses.
 * chokidar alone does this well; the fs.watch source (tree-watch.ts) is the
 * default, measured fastest and smallest (benchmarks/results.md, "Event
 * sources").
 *
 * Polling sees a change only at the next poll of that path, and paths are
 * polled independently, so a sync cookie seen says nothing about the writes
 * before it: every snapshot taken from this source reads the whole worktree
 * with git ({@link PollWatch.take} always asks for the full read). The
 * events only say when a burst settled (for `ckpt watch` through the daemon)
 * and are counted for `ckpt daemon status`.
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Repo } from '../git/repo.js';
import type { IgnoreLayers } from './ignore-rules.js';
import type { Taken, TreeWatchStats } from './tree-watch.js';

/** How often each path is polled, in ms. */
export const POLL_INTERVAL_MS = 500;

/** Why a snapshot from the polling source reads everything. */
export const POLL_FULL_READ = 'polling (--poll): events are not ordered, so the whole worktree is read';

/** chokidar polling one worktree; same surface as TreeWatch for the daemon. */
export class PollWatch {
  private watcher: FSWatcher | null = null;
  private ready: Promise<void> = Promise.resolve();
  /** Every event received. */
  events = 0;
  /** Set when a `.gitignore` changed: the owner reloads the rules and calls {@link rewatch}. */
  rulesChanged = false;
  readonly source = 'poll';

  constructor(
    readonly repo: Repo,
    private rules: IgnoreLayers,
    private readonly keep: (rel: string) => boolean,
    private readonly onActivity: () => void = () => undefined,
  ) {}

  /** The rules it polls by. */
  get ignoreRules(): IgnoreLayers {
    return this.rules;
  }

  /** Starts polling every path not ignored (chokidar's initial scan runs in the background). */
  start(): void {
    const root = this.repo.worktree;
    this.watcher = watch(root, {
      ignoreInitial: true,
      persistent: false,
      followSymlinks: false,
      usePolling: true,
      interval: POLL_INTERVAL_MS,
      binaryInterval: POLL_INTERVAL_MS,
      ignored: (p: string, stats?: { isDirectory(): boolean }) => {
        const rel = path.relative(root, p).split(path.sep).join('/');
        if (rel === '') return false;
        if (rel === '.git' || rel.startsWith('.git/') || rel.includes('/.git/') || rel.endsWith('/.git')) return true;
        const dir = stats ? stats.isDirectory() : false;
        return this.rules.ignores(rel, dir) && !(dir && this.keep(rel));
      },
    });
    this.watcher.on('all', (_ev: string, file: string) => {
      this.events++;
      if (path.basename(file) === '.gitignore') this.rulesChanged = true;
      this.onActivity();
    });
    this.watcher.on('error', () => undefined);
    const w = this.watcher;
    this.ready = new Promise((resolve) => w.once('ready', () => resolve()));
  }

  /** Resolves once the initial scan is done (tests). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** New ignore rules: polling goes on with them. */
  rewatch(rules: IgnoreLayers): void {
    this.rules = rules;
    this.rulesChanged = false;
  }

  /** Nothing to mark: every snapshot reads everything. */
  markFull(_why: string): void {}

  /** Counters for status (watches: chokidar polls files, not directories; 0 inotify watches). */
  stats(): TreeWatchStats {
    return { watches: 0, events: this.events, dirty: 0 };
  }

  /** Always the full read ({@link POLL_FULL_READ}). */
  take(): Taken {
    return { paths: [], full: POLL_FULL_READ };
  }

  /** What {@link take} would hand over, without taking it: always the full read. */
  peek(): Taken {
    return this.take();
  }

  /** Nothing to give back: the next snapshot reads everything anyway. */
  giveBack(_t: Taken, _why: string): void {}

  /** No sync point: the full read that follows sees every finished write. */
  sync(_timeoutMs: number): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** Stops polling. */
  close(): void {
    void this.watcher?.close();
    this.watcher = null;
  }
}
