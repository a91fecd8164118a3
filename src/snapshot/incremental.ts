/**
 * A snapshot's tree from the previous one and the paths known to have
 * changed, in process: the changed paths are read again, their blobs hashed
 * and written (loose), and only the trees on their paths rewritten. Everything
 * else is taken from the previous tree unread, so the cost follows the
 * changes, not the size of the worktree (issue 11; the measurements are in
 * docs/architecture.md and benchmarks/results.md).
 *
 * The tree is the one `git add -A` + `git write-tree` would give in ckpt's
 * private index (property test: incremental.test.ts compares the two after
 * random edits): files and symlinks with the owner x bit only (git's 100644 /
 * 100755 / 120000), empty directories left out, FIFOs, sockets and devices
 * skipped, paths already in the previous tree kept up to date even if a rule
 * now ignores them, new paths added only when git does not ignore them
 * (asked of git itself, ignore-oracle.ts) or the user's index tracks them,
 * skip-worktree paths of a sparse checkout left as they were, untracked
 * files over the size cap left out and unreadable paths kept as the previous
 * tree held them, both listed as the direct path lists them (left-out.ts).
 *
 * Whenever it cannot be sure, it says so instead ({@link Unsure}) and the
 * caller reads the whole worktree with git: a changed `.gitignore`, exclude
 * file, config or user's index; a nested repository (a gitlink); a name git
 * treats specially; a file larger than {@link MAX_BLOB_BYTES}; a directory
 * with more than {@link MAX_WALK_ENTRIES} entries to read; config that makes
 * git read files differently (`core.fileMode`, `core.symlinks`,
 * `core.ignoreCase`, `core.precomposeUnicode` not at their Linux defaults).
 *
 * The private index is not touched: it stays git's stat cache for the next
 * full read, which re-reads every path whose stat data changed, so it is
 * never wrong, only slower for what changed since.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { NotCaptured } from '../core/types.js';
import { git, splitNul } from '../git/exec.js';
import { readLooseObject } from '../git/loose.js';
import { ObjectBatch } from './object-batch.js';
import type { Repo } from '../git/repo.js';
import { realEnv, shadowEnv } from '../git/shadow.js';
import { EMPTY_TREE, type TreeChange } from '../git/tree-diff.js';
import { IgnoreOracle } from './ignore-oracle.js';
import { userIndexSig } from './index-commit.js';
import { maxFileSize } from './left-out.js';
import { ObjectWriter } from './object-writer.js';
import { TreeArena } from './tree-arena.js';
import { indexMayHoldSkipWorktree } from './sparse.js';

/** Largest file read in process, in bytes; a larger one makes the read {@link Unsure} (git streams it). */
export const MAX_BLOB_BYTES = 32 * 1024 * 1024;
/** Most directory entries one call reads under new or replaced directories before it gives up ({@link Unsure}). */
export const MAX_WALK_ENTRIES = 5000;

/** The previous snapshot: its tree and what it left out. */
export interface IncrementalBase {
  tree: string;
  notCaptured: readonly NotCaptured[];
  /** How many it left out in all (more than `notCaptured` lists: the read is unsure). */
  notCapturedCount?: number;
}

/** The in-process read could not be sure: read the whole worktree with git. */
export interface Unsure {
  unsure: string;
}

/** What {@link treeWithChanges} returns when it could answer. */
export interface IncrementalTree {
  tree: string;
  /**
   * Paths left out, as the direct path lists them (capture.ts): untracked
   * files over the size cap and unreadable files (sorted by path; those of
   * the previous snapshot that were not read again carried over), then
   * FIFOs, sockets and devices that replaced a stored path.
   */
  notCaptured: NotCaptured[];
  /** Blobs hashed (files and links read). */
  read: number;
  /** Every path that differs from the base tree, in git's order (`git diff-tree -r` of the two trees, computed in process). */
  changes: TreeChange[];
}

const TREE = '40000';
const LINK = '120000';
const GITLINK = '160000';

interface Leaf {
  mode: string;
  oid: string;
}

/** A directory being rebuilt: its entries by name (latin1 of the raw bytes). */
interface Dir {
  /** The tree it started from (null: new), kept when nothing under it changed. */
  base: string | null;
  entries: Map<string, Leaf | Dir> | null;
  changed: boolean;
  /** The tree written for it (null: empty, left out), once {@link writeDir} ran. */
  written?: string | null;
}

const isDir = (e: Leaf | Dir): e is Dir => 'entries' in e;

/**
 * Per-worktree facts the in-process read needs, loaded once and checked on
 * each use: the user's index signature (its tracked-but-ignored paths and
 * skip-worktree paths), the exclude sources' signatures, the config that
 * changes how git reads files, the ignore oracle and a cache of parsed trees.
 * Owned by one long-lived process (the daemon); {@link close} ends its git.
 */
export class IncrementalContext {
  private oracle: IgnoreOracle | null = null;
  /** One long-lived `cat-file --batch` for trees that are not loose (packed by gc, or the user's). */
  private objects: ObjectBatch | null = null;
  /** Trees by id, as raw content (compact: ~40 bytes an entry, in a few large chunks), parsed on use. */
  private readonly trees = new TreeArena();
  /** The most recently used trees, parsed. */
  private readonly parsed = new Map<string, Map<string, Leaf | { tree: string }>>();
  private constructor(
    readonly repo: Repo,
    private readonly indexSig: string | null,
    private readonly excludesFile: string | null,
    private readonly excludeSig: string,
    private readonly unsupported: string | null,
    private readonly trackedIgnored: Set<string>,
    private readonly skipWorktree: Set<string>,
  ) {}

  /**
   * Loads the facts for `repo` (three git processes).
   *
   * @throws CkptError `GIT_FAILED`.
   */
  static async open(repo: Repo): Promise<IncrementalContext> {
    const indexSig = userIndexSig(repo);
    const env = realEnv(repo);
    // The git processes run at once (the daemon's ready time, benchmarks/results.md).
    const [xf, cfg, ti, st] = await Promise.all([
      git(['config', '--path', '--get', 'core.excludesFile'], { cwd: repo.worktree, env, okCodes: [0, 1] }),
      git(['config', '-z', '--get-regexp', '^core\\.(filemode|symlinks|ignorecase|precomposeunicode)$'], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 1] }),
      indexSig !== null ? git(['ls-files', '-z', '--cached', '--ignored', '--exclude-standard'], { cwd: repo.worktree, env }) : null,
      indexSig !== null && indexMayHoldSkipWorktree(repo.userIndex, [repo.gitDir, repo.commonDir]) ? git(['ls-files', '-z', '-t', '--cached'], { cwd: repo.worktree, env }) : null,
    ]);
    // Relative to the worktree's top, as git reads it; an empty setting names no file (git then reads none, not even the default).
    const configured = xf.exitCode === 0 ? xf.stdout.toString('utf8').trim() : '';
    const excludesFile = configured ? path.resolve(repo.worktree, configured) : null;
    const excludeSig = excludeSignature(repo, excludesFile);
    let unsupported: string | null = null;
    for (const rec of splitNul(cfg.stdout)) {
      const [key, value = 'true'] = rec.toString('utf8').split('\n');
      const on = !/^(false|no|off|0)$/i.test(value.trim());
      if ((key === 'core.filemode' || key === 'core.symlinks') && !on) unsupported = `${key} is false`;
      if ((key === 'core.ignorecase' || key === 'core.precomposeunicode') && on) unsupported = `${key} is true`;
    }
    const trackedIgnored = new Set<string>();
    const skipWorktree = new Set<string>();
    if (ti) for (const p of splitNul(ti.stdout)) trackedIgnored.add(p.toString('latin1'));
    if (st) for (const rec of splitNul(st.stdout)) if (rec[0] === 0x53 && rec[1] === 0x20) skipWorktree.add(rec.subarray(2).toString('latin1'));
    return new IncrementalContext(repo, indexSig, excludesFile, excludeSig, unsupported, trackedIgnored, skipWorktree);
  }

  /** Why this context cannot be used any more (the caller opens a new one after a full read), or null. */
  stale(): string | null {
    if (userIndexSig(this.repo) !== this.indexSig) return "the user's index changed";
    if (excludeSignature(this.repo, this.excludesFile) !== this.excludeSig) return 'an exclude or config file changed';
    return null;
  }

  /** Ends its git processes (the ignore oracle, the object reader). */
  close(): void {
    this.oracle?.close();
    this.oracle = null;
    this.objects?.close();
    this.objects = null;
  }

  /** @internal */
  get why(): string | null {
    return this.unsupported;
  }

  /** @internal */
  ignoreOracle(): IgnoreOracle {
    this.oracle ??= new IgnoreOracle(this.repo);
    return this.oracle;
  }

  /** @internal */
  isTrackedIgnored(rel: string): boolean {
    return this.trackedIgnored.has(Buffer.from(rel, 'utf8').toString('latin1'));
  }

  private userTracked: Set<string> | null = null;

  /** @internal true when the user's index tracks `rel` (its listing read once, only when a file over the size cap needs it). */
  async userTracks(rel: string): Promise<boolean> {
    if (this.indexSig === null) return false;
    if (!this.userTracked) {
      const res = await git(['ls-files', '-z', '--cached'], { cwd: this.repo.worktree, env: realEnv(this.repo) });
      this.userTracked = new Set(splitNul(res.stdout).map((b) => b.toString('latin1')));
    }
    return this.userTracked.has(latin1(rel));
  }

  /** @internal true when the user's index tracks an ignored path below the directory `rel`. */
  tracksIgnoredBelow(rel: string): boolean {
    const key = latin1(rel) + '/';
    for (const p of this.trackedIgnored) if (p.startsWith(key)) return true;
    return false;
  }

  /** @internal true when `rel` is, or is above, a skip-worktree path. */
  touchesSkipWorktree(rel: string): 'exact' | 'below' | null {
    if (this.skipWorktree.size === 0) return null;
    const key = Buffer.from(rel, 'utf8').toString('latin1');
    if (this.skipWorktree.has(key)) return 'exact';
    for (const p of this.skipWorktree) if (p.startsWith(key + '/')) return 'below';
    return null;
  }

  /** @internal A tree's entries (cached: trees never change). */
  async readTree(oid: string): Promise<Map<string, Leaf | { tree: string }>> {
    const hit = this.parsed.get(oid);
    if (hit) return hit;
    if (!this.trees.has(oid)) await this.readTrees([oid]);
    const raw = this.trees.get(oid);
    if (!raw) throw new Error(`tree ${oid} not found`);
    const map = parseTree(raw, this.oidLen);
    if (this.parsed.size >= PARSED_TREES) this.parsed.delete(this.parsed.keys().next().value!);
    this.parsed.set(oid, map);
    return map;
  }

  private get oidLen(): number {
    return this.repo.objectFormat === 'sha256' ? 32 : 20;
  }

  /**
   * @internal Reads the trees not cached yet: loose ones in process, the rest
   * in one pipelined request to `cat-file --batch` (one round trip for all,
   * which matters on a loaded machine: each round trip to another process
   * can cost a scheduler slice).
   *
   * @param opts.upTo bytes of cache: a tree that would take it past them is read but not kept (preload), where without it the cache starts over ({@link MAX_TREE_BYTES}).
   * @returns how many of the trees read were not kept (0 without `upTo`).
   */
  async readTrees(oids: readonly string[], opts: { upTo?: number } = {}): Promise<number> {
    let left = 0;
    const keep = (oid: string, content: Buffer): void => {
      if (opts.upTo === undefined || this.trees.bytes + content.length <= opts.upTo) this.put(oid, content);
      else left++;
    };
    const rest: string[] = [];
    for (const oid of new Set(oids)) {
      if (this.trees.has(oid)) continue;
      const loose = readLooseObject(this.repo, oid);
      if (loose && loose.type === 'tree') keep(oid, loose.content);
      else rest.push(oid);
    }
    if (rest.length === 0) return left;
    this.objects ??= new ObjectBatch({ cwd: this.repo.worktree, env: shadowEnv(this.repo) });
    // Each tree copied straight from git's output into the arena: no copy of its own to drop.
    const wrong: string[] = [];
    try {
      await this.objects.readEach(rest, (oid, o) => {
        if (!o || o.type !== 'tree') wrong.push(oid);
        else keep(oid, o.content);
      });
    } catch (err) {
      this.objects.close();
      this.objects = null;
      throw err;
    }
    if (wrong.length > 0) throw new Error(`tree ${wrong[0]} not found`);
    return left;
  }

  /**
   * Reads every tree of `tree` into the cache, one level per request, so a
   * step never waits for a tree to be read (run after the daemon is ready).
   * Fills the cache to half its size ({@link PRELOAD_BYTES}) at most, and
   * never clears it: a tree that would pass that bound is not kept and the
   * read-ahead ends with its part of {@link PRELOAD_PART} trees (a level of a very
   * large worktree holds far more than the cache; were the whole level read,
   * the cache would start over, the trees a running step just read with it).
   *
   * @returns how many trees were read (kept or not).
   */
  async preload(tree: string): Promise<number> {
    let level = [tree];
    let n = 0;
    while (level.length > 0) {
      const next = new Set<string>();
      // In parts, each scanned for its subtrees as soon as it is read: what a
      // part allocates dies young, and no level's trees are parsed whole.
      for (let i = 0; i < level.length; i += PRELOAD_PART) {
        const part = level.slice(i, i + PRELOAD_PART);
        const left = await this.readTrees(part, { upTo: PRELOAD_BYTES });
        n += part.length;
        if (left > 0) return n; // as full as a read-ahead may make it
        for (const oid of part) {
          const raw = this.trees.get(oid);
          if (raw) forEachSubtree(raw, this.oidLen, (sub) => !this.trees.has(sub) && next.add(sub));
        }
      }
      level = [...next];
    }
    return n;
  }

  /** @internal A tree just written: its content, so it is never read back. */
  remember(oid: string, content: Buffer): void {
    if (!this.trees.has(oid)) this.put(oid, content);
  }

  /** @internal whether a tree is cached already. */
  hasTree(oid: string): boolean {
    return this.trees.has(oid);
  }

  /** Trees cached, and their bytes. */
  cacheStats(): { trees: number; bytes: number } {
    return { trees: this.trees.size, bytes: this.trees.bytes };
  }

  /** Caches a tree's content (copied into the arena: a slice would keep its whole backing memory alive). */
  private put(oid: string, content: Buffer): void {
    if (this.trees.bytes + content.length > MAX_TREE_BYTES) this.trees.clear();
    this.trees.put(oid, content);
  }
}

/** Bytes of raw trees cached before the cache starts over (100k files in 6.7k directories take ~4 MB). */
const MAX_TREE_BYTES = 32 * 1024 * 1024;
/**
 * Parsed trees kept (the most recently used): a 10-file step reads ~40. Each
 * costs ~5 KB of heap (its entries' objects and strings): 512 of them were
 * ~2.5 MB of the daemon's heap at 100k files.
 */
const PARSED_TREES = 128;

/** Bytes of raw trees {@link IncrementalContext.preload} fills the cache to at most: half of it, the rest left for the steps. */
const PRELOAD_BYTES = MAX_TREE_BYTES / 2;

/** Trees asked of git in one request while preloading. */
const PRELOAD_PART = 256;

/** Calls `each` with the id (hex) of every subtree of a raw tree, nothing else decoded. */
function forEachSubtree(content: Buffer, oidLen: number, each: (oid: string) => unknown): void {
  let pos = 0;
  while (pos < content.length) {
    const sp = content.indexOf(0x20, pos);
    const nul = content.indexOf(0, sp);
    if (sp < 0 || nul < 0) return;
    // A subtree's mode is `40000` (gitformat-tree), and no other mode starts with 4.
    if (sp - pos === 5 && content[pos] === 0x34) each(content.toString('hex', nul + 1, nul + 1 + oidLen));
    pos = nul + 1 + oidLen;
  }
}

/** Raw tree entries: `<mode> <name>\0<oid bytes>` (gitformat-tree). */
function parseTree(content: Buffer, oidLen: number): Map<string, Leaf | { tree: string }> {
  const out = new Map<string, Leaf | { tree: string }>();
  let pos = 0;
  while (pos < content.length) {
    const sp = content.indexOf(0x20, pos);
    const nul = content.indexOf(0, sp);
    // Decoded in place (toString with bounds: no view object per field), the usual modes as shared strings:
    // a step parses the big trees near the root again (each step writes new ones), and this was ~0.9 MB a step at 100k files.
    const mode = modeAt(content, pos, sp);
    const name = content.toString('latin1', sp + 1, nul);
    const oid = content.toString('hex', nul + 1, nul + 1 + oidLen);
    pos = nul + 1 + oidLen;
    out.set(name, mode === TREE ? { tree: oid } : { mode, oid });
  }
  return out;
}

/** The modes git writes, by their text. */
const MODES = ['100644', '100755', TREE, LINK, GITLINK];

/** The mode of the entry at `start..end` of a tree: one of {@link MODES} (no new string), else its text. */
function modeAt(content: Buffer, start: number, end: number): string {
  for (const m of MODES) {
    if (m.length !== end - start) continue;
    let i = 0;
    while (i < m.length && content[start + i] === m.charCodeAt(i)) i++;
    if (i === m.length) return m;
  }
  return content.toString('latin1', start, end);
}

class UnsureError extends Error {}
const unsure = (why: string): never => {
  throw new UnsureError(why);
};

/**
 * The tree of the worktree now, given the tree of the previous snapshot and
 * every path changed since it was read (a superset is fine: a path that did
 * not change is read and found equal). Writes the new blobs and trees into
 * ckpt's object store. Caller holds the worktree lock.
 *
 * @param baseTree the previous snapshot's tree.
 * @param changed worktree-relative `/`-separated paths (files or directories,
 *   existing or gone); a directory is read entirely.
 * @param opts `writer`: the new objects are queued there and written when
 *   the caller flushes it (with the commit that names them: one fsync round
 *   for a step, take.ts); without it they are written before this returns.
 * @returns the new tree, or {@link Unsure} with the reason when only a full
 *   read can be trusted.
 * @throws CkptError `FS_FAILED` when an object cannot be written.
 */
export async function treeWithChanges(ctx: IncrementalContext, base: IncrementalBase, changed: Iterable<string>, opts: { writer?: ObjectWriter } = {}): Promise<IncrementalTree | Unsure> {
  if (ctx.why) return { unsure: ctx.why };
  const stale = ctx.stale();
  if (stale) return { unsure: stale };
  if ((base.notCapturedCount ?? base.notCaptured.length) > base.notCaptured.length) return { unsure: 'the previous snapshot left out more paths than it lists' };
  const root: Dir = { base: base.tree, entries: null, changed: false };
  let cap: number | null;
  try {
    cap = maxFileSize(ctx.repo);
  } catch (err) {
    return { unsure: `the size cap cannot be read: ${(err as Error).message}` };
  }
  const run: Run = { skipped: [], leftOut: [], read: 0, walked: 0, cap, out: opts.writer ?? new ObjectWriter(ctx.repo) };
  try {
    const rels: string[] = [];
    for (const raw of changed) {
      const rel = normalise(raw);
      if (rel !== null) rels.push(rel);
    }
    await prefetch(ctx, root, rels);
    const targets = new Set<string>();
    for (const rel of rels) targets.add(await target(ctx, root, rel));
    // A directory that is itself a target covers everything below it.
    const sorted = [...targets].sort();
    const kept: string[] = [];
    for (const t of sorted) if (!kept.some((k) => t.startsWith(k + '/'))) kept.push(t);
    for (const t of kept) await refresh(ctx, root, t, run);
    const tree = writeDir(ctx, run.out, root) ?? run.out.add('tree', Buffer.alloc(0));
    if (!opts.writer) await run.out.flush();
    const changes: TreeChange[] = [];
    await diffDir(ctx, '', base.tree, root, changes);
    // What the previous snapshot left out and was not read again is still left out.
    const reread = (p: string): boolean => kept.some((k) => p === k || p.startsWith(k + '/'));
    const carried = base.notCaptured.filter((e) => e.reason !== 'special' && !reread(e.path));
    const leftOut = [...carried, ...run.leftOut].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    const special = run.skipped.map((p) => ({ path: p, reason: 'special' as const, size: null }));
    return { tree, notCaptured: [...leftOut, ...special], read: run.read, changes };
  } catch (err) {
    if (err instanceof UnsureError) {
      if (/check-ignore/.test(err.message)) ctx.close();
      return { unsure: err.message };
    }
    if (err instanceof Error && /git check-ignore ended/.test(err.message)) {
      ctx.close();
      return { unsure: err.message };
    }
    throw err;
  }
}

/**
 * Every path that differs between trees `from` and `to` (either may be the
 * empty tree), computed from `ctx`'s trees (cached, else read through its
 * long-lived git): the entries and order of `git diff-tree -r --raw
 * --no-renames` of the two, as {@link treeWithChanges}'s changes are (the
 * property test compares those with git). For a process that has a context
 * (the daemon) and is asked for a plan.
 *
 * @throws Error when a tree cannot be read.
 */
export async function diffTreesIn(ctx: IncrementalContext, from: string, to: string): Promise<TreeChange[]> {
  const empty = EMPTY_TREE[ctx.repo.objectFormat];
  // The trees the diff opens, read ahead one level at a time, each level in
  // one request (the walk below then waits for no git round trip per tree).
  let level: [string | null, string | null][] = [[from === empty ? null : from, to === empty ? null : to]];
  while (level.length > 0) {
    await ctx.readTrees(level.flat().filter((t): t is string => t !== null && !ctx.hasTree(t)));
    const next: [string | null, string | null][] = [];
    for (const [a, b] of level) {
      const as = a ? await ctx.readTree(a) : new Map<string, Leaf | { tree: string }>();
      const bs = b ? await ctx.readTree(b) : new Map<string, Leaf | { tree: string }>();
      const sub = (e: Leaf | { tree: string } | undefined): string | null => (e && 'tree' in e ? e.tree : null);
      for (const name of new Set([...as.keys(), ...bs.keys()])) {
        const [x, y] = [sub(as.get(name)), sub(bs.get(name))];
        if ((x || y) && x !== y) next.push([x, y]);
      }
    }
    level = next;
  }
  const out: TreeChange[] = [];
  await diffDir(ctx, '', from === empty ? null : from, { base: to === empty ? null : to, entries: null, changed: true }, out);
  return out;
}

/** Loads the trees on every path's way down, one level at a time, each level in one request. */
async function prefetch(ctx: IncrementalContext, root: Dir, rels: readonly string[]): Promise<void> {
  let frontier = rels.map((rel) => ({ dir: root, rest: rel.split('/') }));
  while (frontier.length > 0) {
    await ctx.readTrees(frontier.filter((f) => !f.dir.entries && f.dir.base && !ctx.hasTree(f.dir.base)).map((f) => f.dir.base!));
    const next: typeof frontier = [];
    for (const f of frontier) {
      const entries = await load(ctx, f.dir);
      if (f.rest.length <= 1) continue;
      const e = entries.get(latin1(f.rest[0]!));
      if (e && isDir(e)) next.push({ dir: e, rest: f.rest.slice(1) });
    }
    frontier = next;
  }
}

/** `a/b/c` from what a watcher reports; null for the root's own git dir; unsure for names git treats specially. */
function normalise(raw: string): string | null {
  const parts = raw.split(/\/+/).filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return unsure('the whole worktree changed');
  if (parts.some((p) => p === '..')) return unsure(`a path outside the worktree: ${raw}`);
  if (parts[0]!.toLowerCase() === '.git') return null;
  // A name that was not UTF-8 reaches us decoded with U+FFFD (fs.watch gives text): its real bytes are unknown here.
  if (raw.includes('\uFFFD')) unsure(`a name that is not UTF-8: ${raw}`);
  for (const p of parts) {
    const l = p.toLowerCase();
    if (l === '.git') unsure(`a nested repository's git dir changed: ${raw}`);
    if (l === '.gitignore') unsure(`an ignore file changed: ${raw}`);
    if (l === '.gitmodules' || /^git~\d/.test(l) || /[ .]$/.test(p) || p.includes('\\')) unsure(`a name git treats specially: ${raw}`);
  }
  return parts.join('/');
}

/**
 * The path to read again for a change at `rel`: `rel` itself when every
 * directory above it is a directory both in the previous tree and on disk,
 * else the highest one that is not (a new directory, a file that became one).
 */
async function target(ctx: IncrementalContext, root: Dir, rel: string): Promise<string> {
  const parts = rel.split('/');
  let dir: Dir = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    const entries = await load(ctx, dir);
    const e = entries.get(latin1(parts[i]!));
    if (e && !isDir(e) && e.mode === GITLINK) unsure(`a change inside a nested repository: ${prefix}`);
    const st = lst(ctx.repo, prefix);
    if (!e || !isDir(e) || !st?.isDirectory()) return prefix;
    dir = e;
  }
  return rel;
}

/** Reads `rel` again and puts what is there now into the tree. */
async function refresh(ctx: IncrementalContext, root: Dir, rel: string, run: Run): Promise<void> {
  const parts = rel.split('/');
  const chain: Dir[] = [root];
  let dir = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const e = (await load(ctx, dir)).get(latin1(parts[i]!));
    if (!e || !isDir(e)) throw new Error(`internal: ${rel} has no directory above it in the tree`);
    dir = e;
    chain.push(dir);
  }
  const name = latin1(parts[parts.length - 1]!);
  const entries = await load(ctx, dir);
  const before = entries.get(name);
  if (before && !isDir(before) && before.mode === GITLINK) unsure(`a nested repository: ${rel}`);
  const sparse = ctx.touchesSkipWorktree(rel);
  if (sparse === 'exact') return; // the user's sparse checkout: left as it was
  if (sparse === 'below') unsure(`a directory holding skip-worktree paths: ${rel}`);
  const now = await readPath(ctx, rel, before ?? null, run);
  if (now === null) {
    if (!before) return;
    entries.delete(name);
  } else if (!isDir(now) && before && !isDir(before) && before.mode === now.mode && before.oid === now.oid) {
    return;
  } else entries.set(name, now);
  for (const d of chain) d.changed = true;
}

interface Run {
  skipped: string[];
  leftOut: NotCaptured[];
  read: number;
  walked: number;
  /** The size cap for untracked files, bytes (null: none). */
  cap: number | null;
  /** The new blobs and trees, written together at the end. */
  out: ObjectWriter;
}

/**
 * What git would store at `rel` now, given what the previous tree held there
 * (`before`: tracked, so kept even if ignored; a directory's entries say
 * which paths below it are tracked).
 */
async function readPath(ctx: IncrementalContext, rel: string, before: Leaf | Dir | null, run: Run): Promise<Leaf | Dir | null> {
  let st: Stats;
  try {
    st = lstatSync(abs(ctx.repo, rel));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    return unsure(`${rel} cannot be looked at (${code ?? 'error'})`);
  }
  // git decides by the index entry at this very path: only a leaf of the
  // previous tree is one. A directory there means entries below it, which
  // git reads as deleted, and the path itself as new (untracked).
  const tracked = before !== null && !isDir(before);
  if (st.isFile() || st.isSymbolicLink()) {
    if (!tracked && (await ctx.ignoreOracle().ignored(rel, false)) && !ctx.isTrackedIgnored(rel)) return null;
    if (st.isSymbolicLink()) {
      run.read++;
      return { mode: LINK, oid: run.out.add('blob', readlinkSync(abs(ctx.repo, rel), { encoding: 'buffer' })) };
    }
    if (run.cap !== null && st.size > run.cap) {
      // The size cap (left-out.ts): an untracked file over it is left out; one
      // the last snapshot holds is for git's stat cache to judge.
      if (tracked) unsure(`a file over the size cap that the last snapshot holds: ${rel}`);
      if (!(await ctx.userTracks(rel))) {
        run.leftOut.push({ path: rel, reason: 'too-large', size: st.size });
        return null;
      }
    }
    if (st.size > MAX_BLOB_BYTES) unsure(`a file larger than ${MAX_BLOB_BYTES} bytes: ${rel}`);
    let content: Buffer;
    try {
      content = readFileSync(abs(ctx.repo, rel));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      if (code === 'EACCES') {
        // Not read is unknown, never deleted: the previous entry stays (as the full read keeps its index entry).
        run.leftOut.push({ path: rel, reason: 'unreadable', size: null });
        return before;
      }
      return unsure(`${rel} could not be read (${code ?? 'error'})`);
    }
    run.read++;
    return { mode: st.mode & 0o100 ? '100755' : '100644', oid: run.out.add('blob', content) };
  }
  if (!st.isDirectory()) {
    // A FIFO, socket or device: reported only where git had a file or link
    // (its add refuses those); one that replaced a directory is untracked,
    // and git skips untracked ones silently (capture.ts, dropSpecialFiles).
    if (tracked) run.skipped.push(rel);
    return null;
  }
  const baseDir = before && isDir(before) ? before : null;
  if (!baseDir) {
    if (await ctx.ignoreOracle().ignored(rel, true)) {
      if (ctx.tracksIgnoredBelow(rel)) unsure(`the user tracks files in the ignored directory ${rel}`);
      return null;
    }
  }
  let names: Buffer[];
  try {
    names = readdirSync(abs(ctx.repo, rel), { encoding: 'buffer' });
  } catch {
    return unsure(`${rel} could not be listed`);
  }
  run.walked += names.length;
  if (run.walked > MAX_WALK_ENTRIES) unsure(`more than ${MAX_WALK_ENTRIES} entries to read`);
  if (names.some((n) => n.toString('latin1').toLowerCase() === '.git')) unsure(`a nested repository (gitlink): ${rel}`);
  const baseEntries = baseDir ? await load(ctx, baseDir) : new Map<string, Leaf | Dir>();
  const out: Dir = { base: null, entries: new Map(), changed: true };
  for (const n of names) {
    const name = n.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(n)) unsure(`a name that is not UTF-8 under ${rel}`);
    const childRel = `${rel}/${name}`;
    normalise(childRel);
    const sparse = ctx.touchesSkipWorktree(childRel);
    if (sparse) unsure(`a directory holding skip-worktree paths: ${rel}`);
    const child = await readPath(ctx, childRel, baseEntries.get(n.toString('latin1')) ?? null, run);
    if (child && (!isDir(child) || child.entries!.size > 0)) out.entries!.set(n.toString('latin1'), child);
  }
  return out.entries!.size > 0 ? out : null;
}

async function load(ctx: IncrementalContext, dir: Dir): Promise<Map<string, Leaf | Dir>> {
  if (dir.entries) return dir.entries;
  const out = new Map<string, Leaf | Dir>();
  if (dir.base) {
    (await ctx.readTree(dir.base)).forEach((e, name) => out.set(name, 'tree' in e ? { base: e.tree, entries: null, changed: false } : e));
  }
  dir.entries = out;
  return out;
}

/** Writes the changed trees bottom up; returns the directory's tree id, or null when it is empty. */
function writeDir(ctx: IncrementalContext, out: ObjectWriter, dir: Dir): string | null {
  if (!dir.changed) return dir.base;
  dir.written = writeDirNow(ctx, out, dir);
  return dir.written;
}

function writeDirNow(ctx: IncrementalContext, out: ObjectWriter, dir: Dir): string | null {
  // Names are latin1 strings of the raw bytes, so comparing them compares bytes: git's order, a directory's name as if it ended in '/'.
  const rows: { key: string; mode: string; name: string; oid: string }[] = [];
  let size = 0;
  const oidBytes = ctx.repo.objectFormat === 'sha256' ? 32 : 20;
  dir.entries!.forEach((e, name) => {
    let mode: string;
    let oid: string | null;
    if (isDir(e)) {
      mode = TREE;
      oid = writeDir(ctx, out, e);
      if (oid === null) return;
    } else {
      mode = e.mode;
      oid = e.oid;
    }
    rows.push({ key: mode === TREE ? name + '/' : name, mode, name, oid });
    size += mode.length + name.length + 2 + oidBytes;
  });
  if (rows.length === 0) return null;
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // One buffer of its own (not a slice of Node's shared pool: the cache keeps it), written in place.
  const content = Buffer.allocUnsafeSlow(size);
  let pos = 0;
  for (const r of rows) {
    pos += content.write(r.mode, pos, 'latin1');
    content[pos++] = 0x20;
    pos += content.write(r.name, pos, 'latin1');
    content[pos++] = 0;
    pos += content.write(r.oid, pos, 'hex');
  }
  const oid = out.add('tree', content);
  // The next step starts from this tree: it need not be read back.
  ctx.remember(oid, content);
  return oid;
}

/** A side of a directory entry for the diff: a leaf, a tree in the store, or a directory of the new tree. */
type Side = { leaf: Leaf } | { tree: string } | { dir: Dir };

/**
 * Appends the paths that differ between the tree `oldTree` (null: absent)
 * and the directory `dir` of the new tree (null: absent) at `rel`, as
 * `git diff-tree -r --raw` lists them: in tree order, a blob↔tree swap as a
 * deletion and additions, file↔symlink as `T`.
 */
async function diffDir(ctx: IncrementalContext, rel: string, oldTree: string | null, dir: Dir | null, out: TreeChange[]): Promise<void> {
  if (dir && !dir.changed && dir.base === oldTree) return;
  const zero = ctx.repo.zeroOid;
  const items = new Map<string, { name: string; old?: Side; now?: Side }>();
  const put = (name: string, side: Side, which: 'old' | 'now'): void => {
    const key = name + ('leaf' in side ? '' : '/');
    const it = items.get(key) ?? { name };
    it[which] = side;
    items.set(key, it);
  };
  // Only the names whose entries differ: a directory of a step holds mostly
  // entries it took over from the old tree unchanged (hundreds of them in a
  // top directory at 100k files), and collecting, sorting and descending
  // into every one was ~half of what a step allocated (2.2 of 4.4 MB).
  const olds = oldTree ? await ctx.readTree(oldTree) : null;
  const nows = dir ? await load(ctx, dir) : null;
  // forEach, not for…of: no [name, entry] array per entry.
  olds?.forEach((e, name) => {
    const n = nows?.get(name);
    if (n === undefined || !sameEntry(e, n)) put(name, 'tree' in e ? { tree: e.tree } : { leaf: e }, 'old');
  });
  nows?.forEach((e, name) => {
    const o = olds?.get(name);
    if (o !== undefined && sameEntry(o, e)) return;
    if (!isDir(e)) put(name, { leaf: e }, 'now');
    else if ((e.changed ? e.written : e.base) != null) put(name, { dir: e }, 'now');
  });
  const kind = (mode: string): string => (mode === LINK ? 'l' : mode === GITLINK ? 'g' : 'f');
  for (const key of [...items.keys()].sort()) {
    const { name, old, now } = items.get(key)!;
    const childRel = rel ? `${rel}/${name}` : name;
    if ((old && !('leaf' in old)) || (now && !('leaf' in now))) {
      await diffDir(ctx, childRel, old && 'tree' in old ? old.tree : null, now && 'dir' in now ? now.dir : null, out);
      continue;
    }
    const a = old && 'leaf' in old ? old.leaf : null;
    const b = now && 'leaf' in now ? now.leaf : null;
    if (a && b && a.mode === b.mode && a.oid === b.oid) continue;
    const relBuf = Buffer.from(childRel, 'latin1');
    out.push({
      rel: relBuf,
      path: relBuf.toString('utf8'),
      srcMode: a?.mode ?? '000000',
      dstMode: b?.mode ?? '000000',
      srcOid: a?.oid ?? zero,
      dstOid: b?.oid ?? zero,
      status: !a ? 'A' : !b ? 'D' : kind(a.mode) !== kind(b.mode) ? 'T' : 'M',
    });
  }
}

/** Whether an entry of the old tree and one of the new directory are the same (nothing under them differs): the same leaf, or a directory left as it was. */
function sameEntry(old: Leaf | { tree: string }, now: Leaf | Dir): boolean {
  if ('tree' in old) return isDir(now) && !now.changed && now.base === old.tree;
  return !isDir(now) && now.mode === old.mode && now.oid === old.oid;
}

function latin1(utf8Name: string): string {
  return Buffer.from(utf8Name, 'utf8').toString('latin1');
}

function abs(repo: Repo, rel: string): string {
  return path.join(repo.worktree, rel);
}

function lst(repo: Repo, rel: string): Stats | undefined {
  try {
    return lstatSync(abs(repo, rel));
  } catch {
    return undefined;
  }
}

/** Whether an environment variable holds one of git's true values (git-config(1) "boolean"): `true`, `yes`, `on`, or a non-zero number. */
function gitBool(v: string | undefined): boolean {
  if (v === undefined) return false;
  const t = v.trim().toLowerCase();
  return t === 'true' || t === 'yes' || t === 'on' || (/^-?\d+$/.test(t) && Number(t) !== 0);
}

/**
 * Signatures of the files besides `.gitignore`s that can change what git
 * ignores or how it reads files (gitignore(5), git-config(1) "FILES"): the
 * repository's `info/exclude` and config, the global config and ignore
 * files, and the system config (`GIT_CONFIG_SYSTEM`, else Debian's git's
 * `/etc/gitconfig`; skipped under `GIT_CONFIG_NOSYSTEM`, as git skips it),
 * which can set `core.excludesFile` too. Files pulled in by `include.path`
 * are not followed. Never throws (a file that cannot be stat'ed is `-`).
 *
 * @param excludesFile the excludes file git reads, absolute, or null.
 * @returns their stat data (mtime ns, size, inode) in one string: equal
 *   strings, nothing changed that stat can tell.
 */
export function excludeSignature(repo: Repo, excludesFile: string | null): string {
  const home = homedir();
  const xdg = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  const files = [
    path.join(repo.commonDir, 'info', 'exclude'),
    path.join(repo.commonDir, 'config'),
    path.join(repo.gitDir, 'config.worktree'),
    process.env.GIT_CONFIG_GLOBAL || path.join(home, '.gitconfig'),
    path.join(xdg, 'git', 'config'),
    path.join(xdg, 'git', 'ignore'),
    ...(gitBool(process.env.GIT_CONFIG_NOSYSTEM) ? [] : [process.env.GIT_CONFIG_SYSTEM || '/etc/gitconfig']),
    ...(excludesFile ? [excludesFile] : []),
  ];
  return files
    .map((f) => {
      try {
        const s = statSync(f, { bigint: true });
        return `${s.mtimeNs}:${s.size}:${s.ino}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}
