/**
 * The daemon's event source for one worktree: Node's `fs.watch` on each
 * directory (non-recursive; measured best here: ready 0.3 s, +14 MB at 100k
 * files, 0.2 ms from write to event, /work/shared/notes/agents-and-daemon.md),
 * feeding the set of paths changed since the last snapshot.
 *
 * Events are hints, never the truth:
 * - a name reported in a directory marks that path dirty; the snapshot reads
 *   it again (and a directory entirely);
 * - a directory that appears is watched at once (walked), one that vanishes or
 *   whose inode changed (renamed away, replaced) has its watchers closed, since
 *   inotify follows the inode and would report under stale paths;
 * - a burst large enough to overflow the kernel's queue (Node drops the
 *   overflow signal), an event without a name, a watch that failed: the next
 *   snapshot reads the whole worktree with git, and says why.
 *
 * The sync point ({@link TreeWatch.sync}): a cookie file written (or a ready
 * file renamed: a rename is an event too, and creates no file) in a watched
 * directory of ckpt's state (inside the git dir, so never in a snapshot) and
 * waited for in the event stream: inotify delivers one process's events in
 * order (libuv reads one inotify descriptor per loop), so once the cookie's
 * event arrives every write that finished before it has been seen.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, watch, writeFileSync, type Dirent, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import type { Repo } from '../git/repo.js';
import { shadowObjectsDir } from '../git/shadow.js';
import { placePooled } from '../git/temp-pool.js';
import { readIgnoreFile, type IgnoreLayers } from './ignore-rules.js';
import { isFile, isLeaf, leafDevice } from './dir-leaf.js';

/** Events between two snapshots beyond which the kernel's queue may have overflowed (inotify's default max_queued_events is 16384). */
export const BURST_EVENTS = 8000;
/** Dirty paths beyond which the whole worktree is read with git. */
export const MAX_DIRTY = 5000;

/**
 * A directory's watcher, tagged with its directory and inode: one listener
 * function is shared by every watcher (it reads the tag from `this`), where a
 * closure and a record per directory cost ~250 bytes each (~2.5 MB of the
 * daemon's heap at 100k files, 9.9k directories).
 */
interface Watched extends FSWatcher {
  [DIR]: string;
  [INO]: number;
  /** A leaf whose `.gitignore` the walk did not look for: looked for when a directory appears in it (the only judgement it is needed for). */
  [UNREAD]: boolean;
}
const DIR = Symbol('directory');
const INO = Symbol('inode');
const UNREAD = Symbol('gitignore not read');
/** fs.watch's options for every directory: one object, not one per watch. */
const NOT_PERSISTENT = { persistent: false } as const;

/**
 * A directory whose path is not UTF-8 (a name of bytes that are not, or one
 * below it), watched by its bytes: no path of the dirty set can name what
 * changes in it (Node's events and this walk's paths are text), so any event
 * from it makes the next snapshot read the whole worktree with git.
 */
interface Opaque {
  /** Its absolute path, as bytes. */
  path: Buffer;
  ino: number;
  watcher: FSWatcher;
}
const SLASH = Buffer.from('/');
/** True when `name` is not UTF-8 (its bytes do not survive a decoding). */
const notUtf8 = (name: Buffer): boolean => !Buffer.from(name.toString('utf8'), 'utf8').equals(name);

/** Counters shown by `ckpt daemon status`. */
export interface TreeWatchStats {
  watches: number;
  events: number;
  dirty: number;
}

/** What a snapshot takes from the watch: the dirty paths, or why the whole worktree must be read. */
export interface Taken {
  paths: string[];
  full: string | null;
}

/** fs.watch on every directory of one worktree, and its dirty set. */
export class TreeWatch {
  private readonly dirs = new Map<string, Watched>();
  private dirty = new Set<string>();
  private full: string | null = 'the daemon started watching';
  private sinceTake = 0;
  private cookieWatcher: FSWatcher | null = null;
  private cookieSeq = 0;
  private readonly cookieWaiters = new Map<string, () => void>();
  /** Every event received. */
  events = 0;
  /** Set when a `.gitignore` changed: the owner reloads the rules and calls {@link rewatch}. */
  rulesChanged = false;
  /** Ignored directories not watched while `keep` could not tell yet (null): looked at again by {@link settleKept}. */
  private undecided: string[] = [];
  private readonly onChange: (this: Watched, type: string, name: string | Buffer | null) => void;
  private readonly onError: (this: Watched) => void;
  /** Directories whose paths are not UTF-8, watched by their bytes ({@link Opaque}), by the latin1 text of those bytes. */
  private readonly opaque = new Map<string, Opaque>();
  private readonly onOpaque: () => void;
  /** The device whose directories' link counts tell which have no subdirectory ({@link leafDevice}); undefined until the first walk. */
  private leafDev: number | null | undefined;

  /**
   * @param rules which directories not to watch (ignored ones; a hint: the
   *   snapshot decides with git what is stored): the exclude sources, to
   *   which the walk adds each `.gitignore` it meets (as git reads the one of
   *   every directory it enters).
   * @param keep directories to watch even when ignored (the user tracks
   *   files in them); null while it cannot tell yet (then see {@link settleKept}).
   */
  constructor(
    readonly repo: Repo,
    private rules: IgnoreLayers,
    private readonly keep: (rel: string) => boolean | null,
    private readonly onActivity: () => void = () => undefined,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.onChange = function (type, name) {
      self.onEvent(this[DIR], type, name?.toString() ?? null);
    };
    this.onError = function () {
      self.markFull(`a watch failed: ${this[DIR] || '.'}`);
      self.unwatchTree(this[DIR]);
    };
    this.onOpaque = () => {
      this.events++;
      this.sinceTake++;
      this.onActivity();
      this.markFull('a change in a directory whose name is not UTF-8');
    };
  }

  /** The rules it watches by (the exclude sources and the `.gitignore` files the walk met). */
  get ignoreRules(): IgnoreLayers {
    return this.rules;
  }

  private get cookieDir(): string {
    return path.join(this.repo.stateDir, 'cookies');
  }

  /** Watches every directory (synchronously) and the cookie directory. */
  start(): void {
    mkdirSync(this.cookieDir, { recursive: true });
    for (const f of readdirSync(this.cookieDir)) rmSync(path.join(this.cookieDir, f), { force: true });
    this.cookieWatcher = watch(this.cookieDir, { persistent: false }, (_type, name) => {
      const n = name?.toString();
      if (!n) return;
      const w = this.cookieWaiters.get(n);
      if (w) {
        this.cookieWaiters.delete(n);
        w();
      }
    });
    this.cookieWatcher.on('error', () => this.markFull('the sync cookie watch failed'));
    this.watchTree('');
  }

  /**
   * Watches the ignored directories skipped while `keep` could not tell
   * (before the facts it reads were loaded) that it keeps now.
   */
  settleKept(): void {
    const again = this.undecided;
    this.undecided = [];
    for (const rel of again) if (this.keep(rel) === true) this.watchTree(rel);
  }

  /** Closes every watch and watches again with `rules` (the exclude sources, after the ignore rules changed); the next snapshot reads everything. */
  rewatch(rules: IgnoreLayers): void {
    this.rules = rules;
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
    this.closeOpaque('');
    this.undecided = [];
    this.rulesChanged = false;
    this.watchTree('');
    this.markFull('the ignore rules changed');
  }

  /** Marks the whole worktree as needing a read with git, with the reason. */
  markFull(why: string): void {
    this.full ??= why;
  }

  /** Counters for status. */
  stats(): TreeWatchStats {
    return { watches: this.dirs.size + this.opaque.size, events: this.events, dirty: this.dirty.size };
  }

  /** Hands over the dirty set (emptied) and whether a full read is needed. */
  take(): Taken {
    // A directory of bytes gone (removed, renamed to a UTF-8 name: then watched by that name): its watch closed.
    for (const [k, o] of this.opaque) {
      if (lstatSync(o.path, { throwIfNoEntry: false })?.ino !== o.ino) this.closeOpaque(k);
    }
    const out = this.peek();
    this.dirty = new Set();
    this.full = null;
    this.sinceTake = 0;
    return out;
  }

  /**
   * The dirty set and whether a full read is needed, as {@link take} would
   * hand them over, left in place: for a read that records nothing itself
   * (a rollback's, which may change nothing), so the next snapshot still
   * reads every path changed since the last one.
   */
  peek(): Taken {
    const out: Taken = { paths: [...this.dirty], full: this.full };
    if (this.sinceTake > BURST_EVENTS) out.full ??= `a burst of ${this.sinceTake} events (the kernel's event queue may have overflowed)`;
    if (out.paths.length > MAX_DIRTY) out.full ??= `${out.paths.length} paths changed`;
    return out;
  }

  /** Gives back what a failed snapshot took, so the next one reads it. */
  giveBack(t: Taken, why: string): void {
    for (const p of t.paths) this.dirty.add(p);
    this.markFull(t.full ?? why);
  }

  /**
   * Waits until every event of a write that finished before this call has
   * been received (the cookie's own event arrived).
   *
   * @param timeoutMs give up after this many ms.
   * @returns false when the cookie did not arrive in time (then the caller reads everything).
   */
  sync(timeoutMs: number): Promise<boolean> {
    const name = `c-${process.pid}-${++this.cookieSeq}`;
    const file = path.join(this.cookieDir, name);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.cookieWaiters.delete(name);
        rmSync(file, { force: true });
        resolve(false);
      }, timeoutMs);
      this.cookieWaiters.set(name, () => {
        clearTimeout(timer);
        rmSync(file, { force: true });
        resolve(true);
      });
      try {
        // A ready file of the store's pool renamed into place when there is one (no file created on a hook's way: git/temp-pool.ts).
        if (!placePooled(shadowObjectsDir(this.repo), file, '', 0o644)) writeFileSync(file, '');
      } catch {
        clearTimeout(timer);
        this.cookieWaiters.delete(name);
        resolve(false);
      }
    });
  }

  /** Closes every watch. */
  close(): void {
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
    this.closeOpaque('');
    this.cookieWatcher?.close();
    this.cookieWatcher = null;
    for (const w of this.cookieWaiters.values()) w();
    this.cookieWaiters.clear();
  }

  /**
   * Watches `rel` (a directory) and every directory below it that is not
   * ignored, synchronously (a directory that appeared: watched before the
   * next event is handled).
   */
  private watchTree(rel: string): void {
    this.leafDev ??= leafDevice(this.repo.worktree);
    const stack = [rel];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const abs = this.abs(dir);
      let st: Stats;
      try {
        st = lstatSync(abs);
      } catch {
        continue;
      }
      const w = this.place(dir, abs, st.ino);
      if (!w) continue;
      if (st.dev === this.leafDev && st.nlink === 2 && isLeaf(abs, st.ino)) {
        // No subdirectory to walk (none when its watch was placed, and one made since has its event), so none to judge by its
        // .gitignore yet: that is read when one appears (onEvent), not looked for in each of ~6k leaves at 100k files.
        w[UNREAD] = true;
        continue;
      }
      let entries: Dirent[];
      try {
        entries = readdirSync(abs, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const child of this.children(dir, abs, entries)) stack.push(child);
    }
  }

  /** The absolute path of `dir` (worktree-relative, POSIX, as the walk builds it: already normal, so joined without path.join's normalising). */
  private abs(dir: string): string {
    if (!dir) return this.repo.worktree;
    return this.repo.worktree.endsWith('/') ? this.repo.worktree + dir : `${this.repo.worktree}/${dir}`;
  }

  /** Places the watch of `dir` (inode `ino`, read before), unless it has one: the watch, or null (then a failure marks the next snapshot full). */
  private place(dir: string, abs: string, ino: number): Watched | null {
    if (this.dirs.has(dir)) return null;
    let watcher: Watched;
    try {
      watcher = watch(abs, NOT_PERSISTENT) as Watched;
    } catch (err) {
      this.markFull(`a directory could not be watched (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${dir || '.'}`);
      return null;
    }
    watcher[DIR] = dir;
    watcher[INO] = ino;
    watcher[UNREAD] = false;
    watcher.on('change', this.onChange);
    watcher.on('error', this.onError);
    this.dirs.set(dir, watcher);
    return watcher;
  }

  /**
   * The subdirectories of `dir` (read: `entries`) to watch: not `.git`, not
   * ignored unless `keep` says so (an undecided one is remembered for
   * {@link settleKept}). Its `.gitignore` (a regular file: git does not
   * follow a symlink there) is added to the rules first, as git reads it
   * before it judges the directory's children.
   */
  private children(dir: string, abs: string, entries: Dirent[]): string[] {
    const subdirs: string[] = [];
    let gitignore = false;
    let replaced = false;
    for (const e of entries) {
      if (e.isDirectory()) {
        if (e.name !== '.git') subdirs.push(e.name);
        // A name not UTF-8 reads as one with U+FFFD in it (and no path reaches it): found by its bytes.
        if (e.name.includes('\uFFFD')) replaced = true;
      } else if (e.name === '.gitignore' && e.isFile()) gitignore = true;
    }
    if (replaced) this.findOpaque(abs);
    if (gitignore) this.rules.add(dir, readIgnoreFile(path.join(abs, '.gitignore')));
    const out: string[] = [];
    for (const name of subdirs) {
      const child = dir ? `${dir}/${name}` : name;
      if (this.rules.ignores(child, true)) {
        const kept = this.keep(child);
        if (kept === null) this.undecided.push(child);
        if (kept !== true) continue;
      }
      out.push(child);
    }
    return out;
  }

  /** Adds the `.gitignore` of `dir` to the rules if the walk took it for a leaf and did not look for it, before a directory in it is judged. */
  private readUnread(dir: string): void {
    const w = this.dirs.get(dir);
    if (!w?.[UNREAD]) return;
    w[UNREAD] = false;
    const file = path.join(this.abs(dir), '.gitignore');
    if (isFile(file)) this.rules.add(dir, readIgnoreFile(file));
  }

  /** Closes the watches of `rel` and every directory below it. */
  private unwatchTree(rel: string): void {
    for (const [d, w] of this.dirs) {
      if (d === rel || rel === '' || d.startsWith(rel + '/')) {
        w.close();
        this.dirs.delete(d);
      }
    }
    if (this.opaque.size > 0) this.closeOpaque(rel === '' ? '' : Buffer.from(`${this.abs(rel)}/`).toString('latin1'));
  }

  /**
   * Watches by their bytes the subdirectories of `abs` whose names are not
   * UTF-8, and every directory below them (none judged by the ignore rules:
   * their patterns cannot be matched against bytes here). One found new
   * (not watched, or replaced: another inode) makes the next snapshot read
   * everything, as its content was never read.
   */
  private findOpaque(abs: string): void {
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      return;
    }
    const base = Buffer.from(abs.endsWith('/') ? abs : `${abs}/`);
    for (const e of entries) {
      if (!e.isDirectory() || !notUtf8(e.name)) continue;
      const top = Buffer.concat([base, e.name]);
      const st = lstatSync(top, { throwIfNoEntry: false });
      if (!st?.isDirectory()) continue;
      const key = top.toString('latin1');
      const had = this.opaque.get(key);
      if (had?.ino === st.ino) continue;
      if (had) this.closeOpaque(key);
      this.markFull(`a directory whose name is not UTF-8: ${top.toString('utf8')}`);
      const stack = [top];
      while (stack.length > 0) {
        const dir = stack.pop()!;
        const at = lstatSync(dir, { throwIfNoEntry: false });
        if (!at?.isDirectory() || this.opaque.has(dir.toString('latin1'))) continue;
        let watcher: FSWatcher;
        try {
          watcher = watch(dir, NOT_PERSISTENT);
        } catch (err) {
          this.markFull(`a directory could not be watched (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${dir.toString('utf8')}`);
          continue;
        }
        watcher.on('change', this.onOpaque);
        watcher.on('error', this.onOpaque);
        this.opaque.set(dir.toString('latin1'), { path: dir, ino: at.ino, watcher });
        let below;
        try {
          below = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
        } catch {
          continue;
        }
        for (const c of below) if (c.isDirectory() && c.name.toString('latin1') !== '.git') stack.push(Buffer.concat([dir, SLASH, c.name]));
      }
    }
  }

  /** Closes the byte-path watches at `key` (the latin1 text of an absolute path; `''`: all) and below it. */
  private closeOpaque(key: string): void {
    for (const [k, o] of this.opaque) {
      if (key === '' || k === key || k.startsWith(key.endsWith('/') ? key : `${key}/`)) {
        o.watcher.close();
        this.opaque.delete(k);
      }
    }
  }

  private onEvent(dir: string, type: string, name: string | null): void {
    this.events++;
    this.sinceTake++;
    this.onActivity();
    if (name === null) {
      if (dir === '') this.markFull('an event without a name at the worktree root');
      else this.dirty.add(dir);
      return;
    }
    const rel = dir ? `${dir}/${name}` : name;
    if (dir === '' && name === '.git') return;
    if (name.includes('\uFFFD')) this.findOpaque(this.abs(dir));
    if (name === '.gitignore') this.rulesChanged = true;
    this.dirty.add(rel);
    // A directory that appeared, vanished or was replaced: watch what is there now.
    const w = this.dirs.get(rel);
    let st: Stats | null = null;
    try {
      st = lstatSync(path.join(this.repo.worktree, rel));
    } catch {
      st = null;
    }
    if (st?.isDirectory()) {
      if (w && w[INO] === st.ino) return;
      if (w) this.unwatchTree(rel);
      this.readUnread(dir);
      if (name !== '.git' && (!this.rules.ignores(rel, true) || this.keep(rel) !== false)) this.watchTree(rel);
    } else if (w || (type === 'rename' && this.hasBelow(rel))) this.unwatchTree(rel);
  }

  private hasBelow(rel: string): boolean {
    if (!existsSync(this.repo.worktree)) return true;
    for (const d of this.dirs.keys()) if (d.startsWith(rel + '/')) return true;
    return false;
  }
}
