/**
 * The ckpt daemon: one process per repository (its common git dir), serving
 * every worktree of it (the main one, linked ones, race attempts). For each
 * worktree it keeps a {@link TreeWatch} (fs.watch per directory, the dirty
 * set) and an {@link IncrementalContext}, and takes snapshots of only the
 * changed paths (snapshot/take-changes.ts), falling back to the whole
 * worktree read with git at start, after a burst, whenever unsure.
 *
 * Requests arrive as one JSON line each on a unix socket (daemon-paths.ts);
 * each gets one JSON line back. Hook requests for a worktree that arrive
 * while a snapshot runs are served together by the next one, one snapshot per
 * kind naming every tool-use id (as snapshot/queue.ts does between
 * processes); a request whose client hung up (it gave up and fell back to the
 * direct path) is dropped, never recorded late.
 *
 * Lifetime: a lock (core/owned-lock.ts, refreshed) held from start to stop, so a
 * second daemon cannot start; a daemon killed with SIGKILL leaves a lock whose
 * pid is gone, which the next start takes over at once, and a socket that is
 * removed. It stops when its repository is removed, after `idleMs` without a request or an event, on SIGTERM
 * or SIGINT, or on `stop`. Every `verifyMs` of quiet it compares git's own
 * view of each worktree with the last snapshot's tree and reports what the
 * events missed (status `missed`), so the next snapshot reads everything.
 */
import { appendFileSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { CkptError, isCkptError } from '../core/errors.js';
import { acquireOwnedLock, currentPidNamespace, isHeld } from '../core/owned-lock.js';
import { counted } from '../core/plural.js';
import type { NotCaptured, SnapshotInput, SnapshotKind } from '../core/types.js';
import { openRepo, type Repo } from '../git/repo.js';
import { FOLD_AT_PACKS, foldPacks, storePacks } from '../git/pack-fold.js';
import { TempPool } from '../git/temp-pool.js';
import { captureTree } from '../snapshot/capture.js';
import { diffTreesIn, IncrementalContext, treeWithChanges, type IncrementalBase } from '../snapshot/incremental.js';
import type { TreeChange } from '../git/tree-diff.js';
import { lockHeldWith, REF_RACE_TRIES, withWorktreeLock } from '../snapshot/lock.js';
import { groupInput, groupRequests, markServed, queuedRequests } from '../snapshot/queue.js';
import { takeSnapshotOfChangesLocked } from '../snapshot/take-changes.js';
import { takeSnapshotLocked, readTip } from '../snapshot/take.js';
import type { WorktreeReader } from '../snapshot/reader.js';
import { ObjectWriter } from '../snapshot/object-writer.js';
import { giveChildrenTheUserEnv } from './daemon-env.js';
import { COMPACT_QUIET_MS, compactHeap, GROWN_BYTES, GROWN_QUIET_MS, grownBytesFromEnv, heapTotalBytes } from './daemon-heap.js';
import { idleFromEnv } from './daemon-idle.js';
import { DAEMON_PROTOCOL, DAEMON_VERSION, daemonDir, sharedDirProblem, socketPath } from './daemon-paths.js';
import { excludeSourcesMoved, loadExcludeRules, loadIgnoreRules } from './ignore-rules.js';
import type { PollWatch } from './poll-watch.js';
import type { RollbackServer } from './rollback-service.js';
import { TreeWatch, type Taken } from './tree-watch.js';
import { requestTrailers } from '../snapshot/race-trailers.js';

/** Variables naming a path git reads (git(1) "Environment Variables"): resolved before the daemon leaves its start directory. */
const GIT_PATH_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY'];

/**
 * Moves the daemon's process out of the directory it was started in (a
 * worktree): its cwd becomes `/`, so it never keeps a worktree's directory
 * (or its file system) busy and is never taken for a process left in a race
 * attempt; what it watches it names by absolute path. The git path variables
 * it inherited are made absolute first, so git still finds what they name.
 * Only in a main thread (a worker cannot chdir; the daemon never runs in one).
 */
function leaveWorktree(): void {
  if (!isMainThread) return;
  for (const name of GIT_PATH_ENV) {
    const v = process.env[name];
    if (v && !path.isAbsolute(v)) process.env[name] = path.resolve(v);
  }
  process.chdir('/');
}

/** `v` when it is an absolute path (a client names its directory so: the daemon's cwd is `/`), else null. */
function absolute(v: unknown): string | null {
  return typeof v === 'string' && path.isAbsolute(v) ? v : null;
}

/**
 * The part of a hook's environment the daemon uses, as its client sent it
 * (`race`: `CKPT_RACE_ID`, `CKPT_ATTEMPT`, `CKPT_ROUND`); only string values.
 */
function hookEnv(msg: Record<string, unknown>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const race = msg.race;
  if (!race || typeof race !== 'object' || Array.isArray(race)) return out;
  for (const [k, v] of Object.entries(race)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Options of {@link runDaemon}. */
export interface DaemonOptions {
  /** Stop after this many ms without a request or a file event. Default: `CKPT_DAEMON_IDLE` (a duration with its unit), else 30 min (watch/daemon-idle.ts). */
  idleMs?: number;
  /** Compare git's view with the last snapshot after this many ms of quiet. Default 60 s. */
  verifyMs?: number;
  /** How long a snapshot waits for the sync cookie, in ms. Default 2000. */
  syncMs?: number;
  /**
   * Poll the file system (chokidar's polling, watch/poll-watch.ts) instead
   * of inotify through fs.watch: for file systems without inotify (network
   * mounts). Every snapshot then reads the whole worktree with git.
   */
  poll?: boolean;
  /**
   * Runs `rollback` requests in this process (the CLI gives its own
   * rollback command: cli/daemon-rollback.ts; watch/ knows no CLI). Absent:
   * they are refused (`UNSERVED`) and the client runs the rollback itself.
   */
  rollback?: RollbackServer;
}

/** What `ckpt daemon status` shows of one worktree. */
export interface WorktreeStatus {
  worktree: string;
  watches: number;
  events: number;
  dirty: number;
  snapshots: number;
  /** Snapshots whose tree was read in process from the changed paths. */
  incremental: number;
  /** Full reads with git, by reason. */
  rescans: Record<string, number>;
  /** Idle checks that found changes the events had missed. */
  missed: number;
  lastMissed: string | null;
  verifications: number;
  /** The event source: `fs.watch` (inotify, per directory) or `poll` (`--poll`). */
  source: 'fs.watch' | 'poll';
  /** Hook requests waiting or being served now. */
  busy: number;
  /** Reads answered for a process holding the worktree lock (a rollback's), in process from the dirty set. */
  reads: number;
  /** Reads it could not answer (the caller read with git), by reason. */
  readsRefused: Record<string, number>;
}

/** The daemon's status reply. */
export interface DaemonStatus {
  pid: number;
  version: string;
  commonDir: string;
  socket: string;
  startedAt: number;
  uptimeMs: number;
  /** Resident set size, bytes (Node's `process.memoryUsage()`, as the four below). */
  rssBytes: number;
  /** V8's heap: live and not yet collected objects, bytes. */
  heapUsedBytes: number;
  /** V8's heap as reserved (its young generation's semi-spaces included), bytes. */
  heapTotalBytes: number;
  /** Memory of C++ objects bound to JavaScript ones (Buffers among them), bytes. */
  externalBytes: number;
  /** Of which ArrayBuffers and Buffers, bytes. */
  arrayBuffersBytes: number;
  requests: number;
  /** `ckpt rollback` command lines run here for their clients (cli/daemon-rollback.ts), whatever their exit code. */
  rollbacks: number;
  /** `rollback` requests being answered now (from the request read to its reply: a test waits for 0 after killing a client). */
  rollbacksRunning: number;
  /** `rollback` requests refused (the client ran the line itself), by reason (`env PATH`, `umask`, `confinement NoNewPrivs`, `cwd`, `gone`, …). */
  rollbackRefusals: Record<string, number>;
  worktrees: WorktreeStatus[];
}

interface HookRequest {
  input: SnapshotInput;
  /** The client waiting (its request is dropped if it hangs up); null for the daemon's own `auto` snapshots. */
  sock: Socket | null;
  resolve: (reply: Record<string, unknown>) => void;
  /**
   * A settled burst's own part of the dirty set, cut when it settled (after
   * a sync point): served alone, so bursts that settle while the machine is
   * too busy to snapshot each at once still make a step each.
   */
  cut?: Taken;
  /** Answered (its snapshot recorded): a batch that fails later leaves it alone. */
  settled?: boolean;
  /** Runs of its snapshot that lost a race on the ref (see retryOnRefRace). */
  races?: number;
  /** When its batch got the worktree lock and passed the sync point (performance.now(), ms): a hook's reply reports its phases from them. */
  lockedAt?: number;
  syncedAt?: number;
}

/** A `ckpt watch` attached to a worktree: gets one JSON line per snapshot. */
interface Subscriber {
  sock: Socket;
  /** Trailers of its snapshots (a race's `Race`, `Attempt`, `Round`). */
  extra?: Record<string, string>;
  quietMs: number;
  maxWaitMs: number;
  agent?: string;
}

/** Rounds of file-queue requests served after a batch before the worktree lock is released (each serves all queued by then). */
const QUEUE_ROUNDS = 5;

/** Quiet time after the last step before the store's packs are folded, ms (checked by the daemon's one-second watchdog, so 0.5-1.5 s in effect). */
export const FOLD_QUIET_MS = 500;

/** Packs in the store at which a fold runs right after a step, quiet or not (four times {@link FOLD_AT_PACKS}). */
export const FOLD_NOW_AT_PACKS = 4 * FOLD_AT_PACKS;

/**
 * Whether a queued request's client still waits for the reply: not when its
 * socket is destroyed, nor when the client hung up (the server is half-open,
 * so a client's destroy() only ends the readable side here; no client
 * half-closes while it waits: watch/daemon-client.ts `socketRequest`). A
 * request given up on (a lost or timed-out reply) is then never served late,
 * after the client took the step itself (race/attempt.ts's base).
 */
const live = (r: HookRequest): boolean => !r.sock || (!r.sock.destroyed && !r.sock.readableEnded);

/**
 * The requests of `rs` whose clients still wait ({@link live}); each other
 * one is answered now, `UNSERVED` and nothing recorded (to no one: its
 * client is gone), so the handler awaiting it ends. Left unanswered, each
 * one dropped stayed counted in flight for good, and a daemon never quiet
 * again neither folded its packs, compacted its heap nor released its files.
 */
function stillWaiting(rs: HookRequest[]): HookRequest[] {
  const out: HookRequest[] = [];
  for (const r of rs) {
    if (live(r)) out.push(r);
    else r.resolve({ ok: false, code: 'UNSERVED', message: 'the client hung up before its step was taken: nothing recorded' });
  }
  return out;
}

/** Returned by a command that keeps its connection open (subscribe). */
const KEEP_OPEN = Symbol('keep open');

interface Slot {
  repo: Repo;
  watch: TreeWatch | PollWatch;
  ctx: IncrementalContext | null;
  pending: HookRequest[];
  running: Promise<void> | null;
  /** Requests taken from `pending` and being served. */
  inFlight: number;
  status: WorktreeStatus;
  lastActivity: number;
  subscribers: Set<Subscriber>;
  /** The settle timer of the current burst (only while someone watches). */
  settle: NodeJS.Timeout | null;
  burstStart: number | null;
  /**
   * Trees known to be the worktree as read at or after the last take of the
   * dirty set (that snapshot's, and those read since for a lock's holder):
   * the dirty set is relative to any of them. A tip with another tree (a
   * forged or rewound chain, an older ckpt's) is read whole with git.
   */
  known: Set<string>;
  /** Cuts of settled bursts not yet in a snapshot (a read for a lock's holder counts them as dirty). */
  cuts: Set<Taken>;
  /** When the idle check last compared git's view with the last snapshot, ms since the epoch (0: never). */
  verifiedAt: number;
}

/** The record written beside the socket. */
export interface DaemonRecord {
  pid: number;
  host: string;
  /** PID namespace of `pid`. */
  ns: string;
  version: string;
  socket: string;
  startedAt: number;
}

/**
 * Runs the daemon for the repository containing `dir` until it stops.
 * Watches `dir`'s worktree from the start; others are added when a request
 * names them.
 *
 * @returns when the daemon stopped, with why.
 * @throws CkptError `DAEMON_RUNNING` when a daemon already runs for this
 *   repository; `NOT_A_REPO`, `FS_FAILED`.
 */
export async function runDaemon(dir: string, opts: DaemonOptions = {}, onReady?: (rec: DaemonRecord) => void): Promise<string> {
  // What the daemon alone was started with (daemonEnv: MALLOC_ARENA_MAX) is not handed to git.
  giveChildrenTheUserEnv();
  const first = await openRepo(path.resolve(dir));
  leaveWorktree();
  const ddir = daemonDir(first.commonDir);
  mkdirSync(ddir, { recursive: true });
  const recordFile = path.join(ddir, 'daemon.json');
  const logFile = path.join(ddir, 'log');
  const log = daemonLog(logFile, path.join(ddir, 'lock'));
  let idle: number;
  try {
    idle = opts.idleMs ?? idleFromEnv();
  } catch (err) {
    log(`not started: ${(err as Error).message}`);
    throw err;
  }
  // Its stdout and stderr lead nowhere (daemon-control.ts: no descriptor of
  // the repository's file system is held); a crash is written to its log.
  const crashed = (err: unknown): void => {
    log(`crashed: ${String((err as Error)?.stack ?? err)}`);
    process.exit(70);
  };
  process.on('uncaughtException', crashed);
  // The lock names its holder from the moment it exists: one left by a daemon
  // killed with SIGKILL, even while starting, is taken over at once.
  let stopping: ((why: string) => void) | null = null;
  let lock;
  try {
    lock = await acquireOwnedLock(path.join(ddir, 'lock'), { waitMs: 0, staleMs: 10_000, onCompromised: () => stopping?.('the daemon lock was taken over') });
  } catch (err) {
    log(`could not lock ${ddir}: ${(err as Error).message}`);
    process.off('uncaughtException', crashed);
    throw new CkptError('FS_FAILED', `could not lock ${ddir}: ${(err as Error).message}`, { cause: err });
  }
  if (!isHeld(lock)) {
    const pid = lock.holder?.pid ?? readRecord(first.commonDir)?.pid ?? null;
    process.off('uncaughtException', crashed);
    log(`not started: a daemon already runs${pid !== null ? ` (pid ${pid})` : ''}`);
    throw new CkptError('DAEMON_RUNNING', `a ckpt daemon already runs for ${first.commonDir}${pid !== null ? ` (pid ${pid})` : ''}`, {
      hint: 'See it with `ckpt daemon status`; stop it with `ckpt daemon stop`.',
      data: { commonDir: first.commonDir, pid },
    });
  }
  const held = lock;
  const release = async (): Promise<void> => held.release();
  // A record half-written by a daemon killed meanwhile: we hold the lock, it is stale.
  for (const f of readdirSync(ddir)) if (/^daemon\.json\.\d+\.tmp$/.test(f)) rmSync(path.join(ddir, f), { force: true });
  const sockPath = socketPath(first.commonDir);
  mkdirSync(path.dirname(sockPath), { recursive: true, mode: 0o700 });
  // The shared temporary directory (a long path) must be this user's own 0700 one: clients do not trust another (daemon-paths.ts trustedSocketPath).
  const unsafe = path.dirname(sockPath) === ddir ? null : sharedDirProblem(path.dirname(sockPath));
  if (unsafe !== null) {
    log(`not started: the socket's directory ${path.dirname(sockPath)} is not this user's own (${unsafe})`);
    process.off('uncaughtException', crashed);
    await release().catch(() => undefined);
    throw new CkptError('FS_FAILED', `the daemon's socket directory ${path.dirname(sockPath)} is not this user's own 0700 directory (${unsafe})`, {
      hint: `Remove it or make it yours with mode 0700 (\`chmod 700 ${path.dirname(sockPath)}\`), or set TMPDIR to a directory of your own.`,
    });
  }
  rmSync(sockPath, { force: true }); // a socket left by a killed daemon: we hold the lock, it is stale
  const startedAt = Date.now();
  const idleMs = opts.idleMs ?? idle;
  const verifyMs = opts.verifyMs ?? 60_000;
  const syncMs = opts.syncMs ?? 2000;
  const slots = new Map<string, Slot>();
  const pools = new Set<TempPool>();
  let requests = 0;
  let rollbacksRun = 0;
  const rollbackRefusals: Record<string, number> = {};
  /** Counts a `rollback` request refused, by its reason (status `rollbackRefusals`). */
  const refused = (reason: string): void => {
    rollbackRefusals[reason] = (rollbackRefusals[reason] ?? 0) + 1;
  };
  /** Rollbacks running for their clients (the `rollback` request). */
  const rollbacks = new Set<Promise<unknown>>();
  let lastActivity = Date.now();
  /** The pools and git children let go after {@link RELEASE_MS} of quiet (`releaseHeld`), taken again by the next snapshot (`reacquire`; git's children as the context needs them). */
  let released = false;
  /** When work that allocates (a snapshot, a read, the trees read ahead) last ended, ms since the epoch; 0 once the heap was compacted after it (daemon-heap.ts). */
  let workEndedAt = 0;
  /** V8's heap (committed, bytes) after the last compaction, or when the daemon was ready; 0 until then (no early compaction is armed before every request counter exists). */
  let heapBase = 0;
  /** Trees being read ahead (`preload`): work under way, as a step is (no compaction under it). */
  let preloading = 0;
  /** The early compaction armed after work that grew the heap by {@link GROWN_BYTES} (daemon-heap.ts), or null. */
  let grownTimer: NodeJS.Timeout | null = null;
  /** The growth that arms it, bytes ({@link GROWN_BYTES}; tests set less: daemon-heap.ts grownBytesFromEnv). */
  const grownBytes = grownBytesFromEnv();
  /** `CKPT_DAEMON_TEST_KILL_AFTER_STEP=1` (tests only): SIGKILL itself once a step's ref is written, before any reply. */
  const killAfterStep = process.env.CKPT_DAEMON_TEST_KILL_AFTER_STEP === '1';
  /** Set once the daemon stops: no early compaction is armed any more. */
  let stoppingNow = false;
  /** Drops the pending early compaction: a `before` step is coming, whose agent's `after` hook follows once its tool has run. */
  const disarmEarly = (): void => {
    if (grownTimer) clearTimeout(grownTimer);
    grownTimer = null;
  };
  /** (Re)arms the early compaction: {@link GROWN_QUIET_MS} from now, when the heap grew by {@link grownBytes} since the last one. */
  const armEarly = (): void => {
    if (stoppingNow || heapBase === 0 || heapTotalBytes() - heapBase < grownBytes) return;
    disarmEarly();
    grownTimer = setTimeout(() => {
      grownTimer = null;
      // Not quiet yet (a status, a request, a rollback or a read-ahead under way): tried again, never dropped.
      if (compactIfQuiet(GROWN_QUIET_MS, 'after work') === 'busy') armEarly();
    }, GROWN_QUIET_MS);
    grownTimer.unref();
  };
  /**
   * Work that allocates ended. `early`: the heap may be compacted after a
   * short quiet ({@link armEarly}); false after a `before` step, whose
   * agent sends its `after` hook as soon as the tool has run (~150 ms for a
   * Read), where a compaction of 50-110 ms would land on it. Without it,
   * the heap is compacted once quiet for {@link COMPACT_QUIET_MS}.
   */
  const workDone = (early: boolean): void => {
    workEndedAt = Date.now();
    if (early) armEarly();
  };
  const touch = (): void => {
    lastActivity = Date.now();
  };
  /**
   * Takes the temporary files again after {@link releaseHeld}: only when a
   * snapshot is about to be taken, never on a mere file event (an `rm -rf`
   * of the repository is a stream of events, and a pool filled then would
   * create files in the store being removed).
   */
  const reacquire = (): void => {
    if (!released) return;
    released = false;
    for (const slot of slots.values()) if (!repositoryGone(first.commonDir)) pools.add(TempPool.open(slot.repo));
  };
  /**
   * After a short quiet time, the daemon holds nothing open on the
   * repository's file system but its watches: its temporary object files
   * are closed and removed and its long-lived git children (which run in
   * the worktree) end; both come back with the next snapshot (the context
   * keeps its caches and starts git again when it needs it). A
   * user's unmount, eject or `rm -rf` is never kept busy by an idle daemon.
   */
  const releaseHeld = (): void => {
    if (released) return;
    released = true;
    for (const p of pools) p.close();
    pools.clear();
    for (const slot of slots.values()) if (!slot.running && slot.pending.length === 0) slot.ctx?.close();
    log('quiet: temporary files and git children released');
  };

  // One attach per worktree even when requests for it arrive while it is being attached.
  const attaching = new Map<string, Promise<Slot>>();
  const attach = (repo: Repo): Promise<Slot> => {
    const have = slots.get(repo.worktree);
    if (have) return Promise.resolve(have);
    let p = attaching.get(repo.worktree);
    if (!p) {
      p = attachNow(repo).finally(() => attaching.delete(repo.worktree));
      attaching.set(repo.worktree, p);
    }
    return p;
  };
  /**
   * Watches a worktree. Ready (in `slots`, so status shows it watched) once
   * every directory git would read is watched: the walk (which reads each
   * `.gitignore` it meets) runs while the context's git processes do, and
   * the ignored directories the user tracks files in (known from the
   * context) are watched after it. Its first snapshot is a full read with
   * git, which starts only after that (every request waits for the attach),
   * so a change made before or while it was watched is in it.
   */
  const attachNow = async (repo: Repo): Promise<Slot> => {
    const tA = Date.now();
    // The exclude rules' one git process spawned first: the walk waits for it, the context's four (ls-files reads the whole index) need not be ahead of it.
    const rulesOpen = opts.poll ? null : loadExcludeRules(repo);
    rulesOpen?.catch(() => undefined); // awaited below
    const ctxOpen = IncrementalContext.open(repo);
    ctxOpen.catch(() => undefined); // awaited below; its failure is the attach's
    let walkMs = 0;
    let rulesMs = 0;
    let factsMs = 0;
    let slot: Slot;
    const status: WorktreeStatus = { worktree: repo.worktree, watches: 0, events: 0, dirty: 0, snapshots: 0, incremental: 0, rescans: {}, missed: 0, lastMissed: null, verifications: 0, busy: 0, reads: 0, readsRefused: {}, source: opts.poll ? 'poll' : 'fs.watch' };
    const onActivity = (): void => {
      touch();
      burst(slot);
    };
    const fields = { repo, subscribers: new Set<Subscriber>(), settle: null, burstStart: null, known: new Set<string>(), cuts: new Set<Taken>(), verifiedAt: 0, pending: [], running: null, inFlight: 0, status, lastActivity: Date.now() };
    if (opts.poll) {
      // chokidar is loaded only for --poll (its load and memory are not the default daemon's).
      const [{ PollWatch }, rules, ctx] = await Promise.all([import('./poll-watch.js'), loadIgnoreRules(repo), ctxOpen]);
      slot = { ...fields, ctx, watch: new PollWatch(repo, rules, (rel) => ctx.tracksIgnoredBelow(rel), onActivity) };
      slot.watch.start();
    } else {
      const rules = await rulesOpen!;
      rulesMs = Date.now() - tA;
      const tree: TreeWatch = new TreeWatch(repo, rules, (rel) => (slot.ctx ? slot.ctx.tracksIgnoredBelow(rel) : null), onActivity);
      slot = { ...fields, ctx: null, watch: tree };
      const tW = Date.now();
      tree.start();
      walkMs = Date.now() - tW;
      try {
        slot.ctx = await ctxOpen;
        factsMs = Date.now() - tW - walkMs;
      } catch (err) {
        tree.close();
        throw err;
      }
      tree.settleKept();
    }
    // Temporary object files created ahead of time: no file creation on a step's path (git/temp-pool.ts).
    touch();
    pools.add(TempPool.open(repo));
    slots.set(repo.worktree, slot);
    preload(slot);
    // Where the ready time went (benchmarks/daemon-mem.mjs prints it): waiting for the exclude rules' git, the walk, then for the context's git processes.
    const parts = opts.poll ? '' : `: the exclude rules ${rulesMs} ms, the walk ${walkMs} ms, then git's facts ${factsMs} ms`;
    log(`watching ${repo.worktree} (${opts.poll ? 'polling' : `${slot.watch.stats().watches} directories`}; ready in ${Date.now() - tA} ms${parts})`);
    return slot;
  };

  /** Reads the last snapshot's trees into the slot's context, after the daemon is ready: a step then waits for no tree read. */
  const preload = (slot: Slot): void => {
    const ctx = slot.ctx;
    if (!ctx) return;
    preloading++;
    void (async () => {
      const { tip } = await readTip(slot.repo);
      if (tip && slot.ctx === ctx) await ctx.preload(tip.tree);
    })()
      .catch((err: unknown) => log(`could not read the trees of ${slot.repo.worktree} ahead: ${(err as Error).message}`))
      .finally(() => {
        preloading--;
        workDone(true);
      });
  };

  /** A file event in a watched worktree: (re)arm the settle timer, as `ckpt watch` does (quiet time, at most maxWait). */
  const burst = (slot: Slot): void => {
    if (slot.subscribers.size === 0) return;
    const now = Date.now();
    slot.burstStart ??= now;
    const quiet = Math.min(...[...slot.subscribers].map((x) => x.quietMs));
    const maxWait = Math.min(...[...slot.subscribers].map((x) => x.maxWaitMs));
    if (slot.settle) clearTimeout(slot.settle);
    slot.settle = setTimeout(() => void autoSnapshot(slot), Math.max(0, Math.min(quiet, slot.burstStart + maxWait - now)));
  };

  /**
   * A settled burst: after a sync point its paths are cut from the dirty set
   * into its own `auto` snapshot (served alone: never merged with the next
   * burst however long it waits), whose result goes to every watcher of the
   * worktree.
   */
  const autoSnapshot = async (slot: Slot): Promise<void> => {
    slot.settle = null;
    slot.burstStart = null;
    const synced = await slot.watch.sync(syncMs);
    const cut = slot.watch.take();
    if (!synced) cut.full ??= 'the sync cookie did not arrive in time';
    slot.cuts.add(cut);
    const agent = [...slot.subscribers].find((x) => x.agent)?.agent;
    const extra = [...slot.subscribers].find((x) => x.extra)?.extra;
    slot.pending.push({
      input: { kind: 'auto', force: false, ...(agent ? { agent } : {}), ...(extra ? { extra } : {}) },
      cut,
      sock: null,
      resolve: (reply) => {
        const line = JSON.stringify({ ...(reply.ok ? { event: 'snapshot' } : { event: 'error' }), ...reply, version: DAEMON_VERSION }) + '\n';
        for (const x of slot.subscribers) if (!x.sock.destroyed) x.sock.write(line);
      },
    });
    void serve(slot);
  };

  /**
   * Each step writes a small pack (snapshot/object-writer.ts): once the
   * store holds {@link FOLD_AT_PACKS} packs they are folded in the
   * background, one fold at a time (git/pack-fold.ts), when no request has
   * been served for {@link FOLD_QUIET_MS}: a fold started right after a
   * step overlapped the next hook (its `git pack-objects` spawned on the
   * daemon's event loop, its writes flushed beside the next step's), and
   * hooks come in bursts. A store that reaches {@link FOLD_NOW_AT_PACKS}
   * (a daemon never quiet that long) is folded right after the step.
   */
  let folding: Promise<void> | null = null;
  /** The repository whose store may need a fold once quiet (all worktrees share one store), and when its last step ended, ms since the epoch. */
  let foldWanted: { repo: Repo; at: number } | null = null;
  const afterStep = (repo: Repo): void => {
    if (storePacks(repo).length >= FOLD_NOW_AT_PACKS) fold(repo);
    else foldWanted = { repo, at: Date.now() };
  };
  const fold = (repo: Repo): void => {
    if (folding || storePacks(repo).length < FOLD_AT_PACKS) return;
    folding = foldPacks(repo)
      .then((r) => {
        if (r) log(`folded ${r.folded} packs into pack-${r.into.slice(0, 12)} (${r.packs} packs in the store)`);
      })
      .catch((err: unknown) => log(`could not fold the store's packs: ${(err as Error).message}`))
      .finally(() => {
        folding = null;
      });
  };

  /** Serves the slot's pending requests, one snapshot per kind, until none is left. */
  const serve = (slot: Slot): Promise<void> => {
    if (slot.running) return slot.running;
    reacquire();
    slot.running = (async () => {
      while (slot.pending.length > 0) {
        // A settled burst alone; else every hook request up to the next burst.
        const firstCut = slot.pending.findIndex((r) => r.cut);
        const taken = slot.pending.splice(0, firstCut === 0 ? 1 : firstCut === -1 ? slot.pending.length : firstCut);
        const batch = stillWaiting(taken);
        if (batch.length === 0) continue;
        slot.inFlight = batch.length;
        try {
          await snapshotBatch(slot, batch);
        } catch (err) {
          const e = err as CkptError;
          // Lost a race on the ref (the lock taken over while this process stalled, another recorded
          // meanwhile): nothing was written; the requests not yet answered are served again, first.
          const again = batch.filter((r) => !r.settled);
          if (isCkptError(err, 'REF_RACE') && again.every((r) => (r.races = (r.races ?? 0) + 1) < REF_RACE_TRIES)) {
            log(`snapshot of ${slot.repo.worktree} lost a race on its ref (${e.message}): taken again`);
            slot.pending.unshift(...again);
            slot.inFlight = 0;
            continue;
          }
          log(`snapshot of ${slot.repo.worktree} failed: ${e.code ?? 'ERROR'} ${e.message}`);
          // A burst's cut that never reached its snapshot (the lock not taken): back into the dirty set.
          for (const r of batch) {
            if (r.cut && slot.cuts.delete(r.cut)) slot.watch.giveBack(r.cut, 'the last snapshot failed');
          }
          for (const r of batch) r.resolve({ ok: false, code: e.code ?? 'INTERNAL', message: e.message });
        }
        slot.inFlight = 0;
        afterStep(slot.repo);
      }
      slot.running = null;
    })();
    return slot.running;
  };

  /**
   * The requests hooks of the direct path left in the file queue
   * (snapshot/queue.ts) while they wait for the worktree lock this daemon
   * holds, as requests of its own: each is answered in the queue once its
   * snapshot is recorded; the queue drops those of processes that are gone.
   */
  const fileQueue = (slot: Slot): HookRequest[] =>
    queuedRequests(slot.repo).map((q) => ({
      input: q.input,
      sock: null,
      resolve: (reply) => {
        if (reply.ok) markServed(slot.repo, q.name, { id: String(reply.id), step: Number(reply.step), served: Number(reply.served) || 1 });
      },
    }));

  /**
   * Under the worktree lock: the batch's snapshots, with the requests queued
   * in the file queue by then (a settled burst stays alone: they follow it),
   * then, before the lock is released, the requests queued meanwhile, as the
   * watcher serves them (watch/watcher.ts): this daemon may take the lock again
   * at once, and a hook of the direct path that only tries it now and then
   * would never get it. A queued request is read before the sync point, so
   * its snapshot holds every write made before its hook was called.
   */
  const snapshotBatch = async (slot: Slot, batch: HookRequest[]): Promise<void> => {
    // A `before` step: its agent's `after` hook comes once the tool has run, and no compaction may wait for it.
    const before = batch.at(-1)?.input.kind === 'before';
    if (before) disarmEarly();
    try {
      await snapshotBatchLocked(slot, batch);
    } finally {
      workDone(!before);
    }
  };
  const snapshotBatchLocked = async (slot: Slot, batch: HookRequest[]): Promise<void> => {
    await withWorktreeLock(
      slot.repo,
      async () => {
        const lockedAt = performance.now();
        for (const r of batch) r.lockedAt ??= lockedAt;
        await snapshotLocked(slot, batch[0]!.cut ? batch : [...batch, ...fileQueue(slot)]);
        for (let round = 0; round < QUEUE_ROUNDS; round++) {
          const queued = fileQueue(slot);
          if (queued.length === 0) break;
          await snapshotLocked(slot, queued);
        }
      },
      { waitMs: 20_000 },
    );
  };

  const snapshotLocked = async (slot: Slot, batch: HookRequest[]): Promise<void> => {
    const cut = batch[0]!.cut;
    const synced = cut ? true : await slot.watch.sync(syncMs);
    const syncedAt = performance.now();
    for (const r of batch) r.syncedAt ??= syncedAt;
    await reloadRules(slot);
    const taken = cut ?? slot.watch.take();
    if (cut) slot.cuts.delete(cut);
    let full = taken.full ?? (synced ? null : 'the sync cookie did not arrive in time');
    const stale = slot.ctx ? slot.ctx.stale() : 'no context';
    if (stale) {
      full ??= stale;
    }
    try {
      let paths: string[] = taken.paths;
      // One snapshot per kind and trailers (queue.ts groupRequests): hooks of two rounds are two steps.
      for (const all of groupRequests(batch, (r) => r.input)) {
        const group = stillWaiting(all);
        if (group.length === 0) continue;
        const kind = group[0]!.input.kind;
        const input = groupInput(group[0]!.input, group.map((r) => r.input));
        let res;
        let how: string;
        if (full || !slot.ctx) {
          res = await takeSnapshotLocked(slot.repo, input);
          how = `full read: ${full}`;
          count(slot.status.rescans, full ?? 'no context');
          full = null;
        } else {
          res = await takeSnapshotOfChangesLocked(slot.repo, input, slot.ctx, paths, (tree) => slot.known.has(tree));
          if (res.fullRead) {
            how = `full read: ${res.fullRead}`;
            count(slot.status.rescans, res.fullRead);
          } else {
            how = `in process, ${res.read} read`;
            slot.status.incremental++;
          }
        }
        paths = [];
        slot.known = new Set([res.snapshot.tree]);
        slot.status.snapshots++;
        log(`${slot.repo.worktree}: step ${res.snapshot.step} (${kind}, ${counted(group.length, 'request')}), ${how}`);
        // Tests only: the daemon dies between its step's ref and the replies (the hook falls back and must not record it twice).
        if (killAfterStep) process.kill(process.pid, 'SIGKILL');
        for (const r of group) r.settled = true;
        for (const r of group) r.resolve({ ok: true, id: res.snapshot.id, step: res.snapshot.step, served: group.length, how, created: res.created, snapshot: res.snapshot, warnings: res.warnings, ...('rebuilt' in res && res.rebuilt ? { rebuilt: res.rebuilt } : {}) });
      }
    } catch (err) {
      slot.watch.giveBack(taken, 'the last snapshot failed');
      throw err;
    }
    if (stale) {
      slot.ctx?.close();
      slot.ctx = await IncrementalContext.open(slot.repo);
      preload(slot);
    }
  };

  /**
   * The watch placed again with the ignore rules as they are now when they
   * changed: a `.gitignore` (its event) or the exclude sources
   * (`info/exclude`, `core.excludesFile`, the configs naming it: their stat
   * data moved since the watch's rules were read, and what they say is not
   * what the watch has). A directory no longer ignored is then watched and
   * one now ignored dropped, and the next snapshot reads everything
   * ({@link TreeWatch.rewatch}); without it, a directory `info/exclude` no
   * longer ignores stayed unwatched and the steps after the first full read
   * recorded its files as they were until the idle check.
   */
  const reloadRules = async (slot: Slot): Promise<void> => {
    const { watch, repo } = slot;
    const was = watch.ignoreRules.sources;
    if (!watch.rulesChanged && !excludeSourcesMoved(repo, was)) return;
    const rules = watch instanceof TreeWatch ? await loadExcludeRules(repo) : await loadIgnoreRules(repo);
    if (!watch.rulesChanged && was && rules.sources && rules.sources.text === was.text && rules.sources.excludesFile === was.excludesFile) {
      watch.ignoreRules.sources = rules.sources; // touched, saying the same: the watch stands
      return;
    }
    log(`${repo.worktree}: the ignore rules changed (${watch.rulesChanged ? 'a .gitignore' : 'the exclude sources'}): watched again`);
    watch.rewatch(rules);
  };

  /**
   * The worktree's tree for a process that holds its lock (a rollback),
   * read in process on top of `base` (the tip it read): after a sync point,
   * every dirty path; or, with `only`, exactly those paths. The dirty set is
   * left in place (this records nothing: the next snapshot reads those paths
   * again). No worktree lock here: the caller holds it, which its token
   * proves, so no snapshot of this daemon runs meanwhile.
   */
  const readFor = async (slot: Slot, base: IncrementalBase, only: string[] | null): Promise<Record<string, unknown>> => {
    const r = await readIn(slot, base, only);
    if ('refused' in r) return { ok: false, code: 'UNSURE', message: r.refused };
    // The changes against the base, so the holder's snapshot summarises them without a diff of its own.
    return { ok: true, tree: r.tree, notCaptured: r.notCaptured, read: r.read, changes: wireChanges(r.changes) };
  };
  /** {@link readFor}'s read, for a holder in this process too (a rollback the daemon runs: {@link localReader}). */
  const readIn = async (slot: Slot, base: IncrementalBase, only: string[] | null, writer?: ObjectWriter): Promise<{ tree: string; notCaptured: NotCaptured[]; read: number; changes: TreeChange[] } | { refused: string }> => {
    const refuse = (why: string): { refused: string } => {
      count(slot.status.readsRefused, why);
      return { refused: why };
    };
    let paths = only;
    if (!paths) {
      if (!(await slot.watch.sync(syncMs))) return refuse('the sync cookie did not arrive in time');
      const peek = slot.watch.peek();
      const cuts = [...slot.cuts];
      const full = peek.full ?? cuts.find((c) => c.full)?.full;
      if (full) return refuse(full);
      paths = [...peek.paths, ...cuts.flatMap((c) => c.paths)];
    }
    if (slot.watch.rulesChanged || excludeSourcesMoved(slot.repo, slot.watch.ignoreRules.sources)) return refuse('the ignore rules changed');
    const stale = slot.ctx ? slot.ctx.stale() : 'no context';
    if (stale || !slot.ctx) return refuse(stale ?? 'no context');
    if (!slot.known.has(base.tree)) return refuse("the tip's tree is not one this daemon read");
    const inc = await treeWithChanges(slot.ctx, base, paths, writer ? { writer } : {});
    // For a lock's holder, whose step (or rollback) goes on once it has the tree: compacted once quiet, not early.
    workDone(false);
    if ('unsure' in inc) return refuse(inc.unsure);
    slot.known.add(inc.tree);
    slot.status.reads++;
    log(`${slot.repo.worktree}: read for the lock's holder, in process: ${inc.read} read of ${paths.length} ${only ? 'asked' : 'dirty'}`);
    return { tree: inc.tree, notCaptured: inc.notCaptured, read: inc.read, changes: inc.changes };
  };

  /** The plan's tree diff from the slot's trees (the `diff` request), or why it cannot answer. */
  const diffIn = async (slot: Slot, from: string, to: string): Promise<TreeChange[] | { refused: string }> => {
    const stale = slot.ctx ? slot.ctx.stale() : 'no context';
    if (stale || !slot.ctx) return { refused: stale ?? 'no context' };
    try {
      return await diffTreesIn(slot.ctx, from, to);
    } catch (err) {
      return { refused: (err as Error).message };
    }
  };

  /**
   * The reader a rollback run in this process (a `rollback` request) uses:
   * the `read` and `diff` requests' answers, without the socket or the
   * lock's token (the rollback holds the worktree lock in this process).
   */
  const localReader = (slot: Slot): WorktreeReader => ({
    name: 'daemon',
    async read(tip, only) {
      let text: string[] | null = null;
      if (only) {
        text = [];
        for (const raw of only) {
          const t = raw.toString('utf8');
          if (!Buffer.from(t, 'utf8').equals(raw)) return null; // a name that is not UTF-8: git reads
          text.push(t);
        }
      }
      // The paths asked (the live state and the result, each recorded at once): the new objects go with the
      // snapshot's commit, in one fsync round with its ref. The plan's read is written now (git may read its trees).
      const writer = text ? new ObjectWriter(slot.repo) : undefined;
      try {
        const r = await readIn(slot, { tree: tip.tree, notCaptured: tip.notCaptured, notCapturedCount: tip.notCapturedCount }, text, writer);
        return 'refused' in r ? null : { tree: r.tree, notCaptured: r.notCaptured, changes: r.changes, ...(writer ? { writer } : {}) };
      } catch (err) {
        log(`${slot.repo.worktree}: read for a rollback failed (git reads): ${(err as Error).message}`);
        return null;
      }
    },
    async diff(from, to) {
      const r = await diffIn(slot, from, to);
      return Array.isArray(r) ? r : null;
    },
  });

  /** Quiet worktrees: does git see what the last snapshot holds? */
  const verify = async (): Promise<void> => {
    for (const slot of slots.values()) {
      if (slot.running || slot.pending.length > 0) continue;
      const st = slot.watch.stats();
      // Once per verifyMs of quiet, not at every tick (each check reads the whole worktree with git).
      if (st.dirty > 0 || Date.now() - lastActivity < verifyMs || Date.now() - slot.verifiedAt < verifyMs) continue;
      slot.verifiedAt = Date.now();
      try {
        await withWorktreeLock(
          slot.repo,
          async () => {
            const { tip } = await readTip(slot.repo);
            if (!tip || slot.watch.stats().dirty > 0) return;
            const tree = await captureTree(slot.repo);
            slot.status.verifications++;
            if (tree !== tip.tree && slot.watch.stats().dirty === 0) {
              slot.status.missed++;
              slot.status.lastMissed = new Date().toISOString();
              slot.watch.markFull('the idle check found changes the events missed');
              log(`${slot.repo.worktree}: the idle check found changes no event reported (tree ${tree.slice(0, 10)}, last snapshot ${tip.tree.slice(0, 10)})`);
            }
          },
          { waitMs: 0 },
        );
      } catch (err) {
        if (!isCkptError(err, 'LOCKED')) log(`idle check of ${slot.repo.worktree} failed: ${(err as Error).message}`);
      }
    }
  };

  const statusOf = (): DaemonStatus => {
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      version: DAEMON_VERSION,
      commonDir: first.commonDir,
      socket: sockPath,
      startedAt,
      uptimeMs: Date.now() - startedAt,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      arrayBuffersBytes: mem.arrayBuffers,
      requests,
      rollbacks: rollbacksRun,
      rollbacksRunning: rollbacks.size,
      rollbackRefusals: { ...rollbackRefusals },
      worktrees: [...slots.values()].map((s) => ({ ...s.status, ...s.watch.stats(), busy: s.pending.length + s.inFlight })),
    };
  };

  /** Requests being answered (`handle`, from entry to its end): a `read` or `diff` for a direct-path step, a `snapshot` waiting for its step, a `watch` attaching; none of them may have its heap compacted or the store folded under it. */
  let requestsInFlight = 0;
  /** Answers one request, counted in {@link requestsInFlight} until it ends (a `subscribe` or `rollback` until it is set up: their sockets stay open, counted by their slot's subscribers and `rollbacks`). */
  const handle = async (msg: Record<string, unknown>, sock: Socket): Promise<Record<string, unknown> | typeof KEEP_OPEN> => {
    requestsInFlight++;
    try {
      return await answer(msg, sock);
    } finally {
      requestsInFlight--;
    }
  };
  const answer = async (msg: Record<string, unknown>, sock: Socket): Promise<Record<string, unknown> | typeof KEEP_OPEN> => {
    // hello and stop mean the same in every version (the client checks the reply's version itself).
    if (msg.cmd === 'hello') return { ok: true, pid: process.pid };
    if (msg.cmd === 'stop') {
      setImmediate(() => stopping?.('asked to stop'));
      return { ok: true, pid: process.pid };
    }
    if (msg.v !== DAEMON_PROTOCOL || msg.version !== DAEMON_VERSION) {
      return { ok: false, code: 'VERSION', message: `this daemon is ckpt ${DAEMON_VERSION}, the client ${String(msg.version)}` };
    }
    switch (msg.cmd) {
      case 'status':
        return { ok: true, status: statusOf() };
      case 'watch': {
        const repo = await openRepo(absolute(msg.cwd) ?? first.worktree);
        if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
        await attach(repo);
        return { ok: true, worktree: repo.worktree };
      }
      case 'subscribe': {
        const repo = await openRepo(absolute(msg.cwd) ?? first.worktree);
        if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
        const slot = await attach(repo);
        const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d);
        const trailers = requestTrailers(msg.extra);
        if ('error' in trailers) return { ok: false, code: 'BAD_REQUEST', message: trailers.error };
        const extra = trailers.extra;
        const sub: Subscriber = { sock, quietMs: num(msg.quietMs, 300), maxWaitMs: num(msg.maxWaitMs, 5000), ...(typeof msg.agent === 'string' ? { agent: msg.agent } : {}), ...(extra ? { extra } : {}) };
        slot.subscribers.add(sub);
        const drop = (): void => {
          slot.subscribers.delete(sub);
          if (slot.subscribers.size === 0 && slot.settle) {
            clearTimeout(slot.settle);
            slot.settle = null;
            slot.burstStart = null;
          }
        };
        sock.on('close', drop);
        sock.on('end', () => sock.end());
        sock.write(JSON.stringify({ ok: true, event: 'ready', worktree: repo.worktree, version: DAEMON_VERSION }) + '\n');
        if (msg.initialSnapshot !== false) void autoSnapshot(slot);
        return KEEP_OPEN;
      }
      case 'unwatch': {
        // A worktree going away (race clean): stop watching it. By path, without git: it may be gone already.
        const wt = typeof msg.worktree === 'string' ? path.resolve(msg.worktree) : '';
        const slot = slots.get(wt);
        if (!slot) return { ok: true, watched: false };
        slots.delete(wt);
        if (slot.settle) clearTimeout(slot.settle);
        for (const x of slot.subscribers) x.sock.end(JSON.stringify({ ok: true, event: 'stopped', why: 'no longer watched', version: DAEMON_VERSION }) + '\n');
        try {
          await slot.running;
        } catch {
          // reported to its clients
        }
        slot.watch.close();
        slot.ctx?.close();
        log(`stopped watching ${wt}`);
        return { ok: true, watched: true };
      }
      case 'read': {
        const repo = await openRepo(absolute(msg.cwd) ?? first.worktree);
        if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
        if (typeof msg.token !== 'string' || !lockHeldWith(repo, msg.token)) return { ok: false, code: 'NOT_LOCKED', message: 'the worktree lock is not held with that token' };
        const base = parseBase(msg.base);
        let only: string[] | null = null;
        if (Array.isArray(msg.only)) {
          only = [];
          for (const p of msg.only) {
            const raw = Buffer.from(String(p), 'base64');
            const text = raw.toString('utf8');
            if (!Buffer.from(text, 'utf8').equals(raw)) return { ok: false, code: 'UNSURE', message: 'a name that is not UTF-8' };
            only.push(text);
          }
        }
        if (!base) return { ok: false, code: 'BAD_REQUEST', message: 'no base tree' };
        return readFor(await attach(repo), base, only);
      }
      case 'diff': {
        // A restore's plan: the paths that differ between two trees, from this daemon's trees (no git process).
        const repo = await openRepo(absolute(msg.cwd) ?? first.worktree);
        if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
        const oid = (v: unknown): v is string => typeof v === 'string' && v.length === repo.zeroOid.length && /^[0-9a-f]+$/.test(v);
        if (!oid(msg.from) || !oid(msg.to)) return { ok: false, code: 'BAD_REQUEST', message: 'from and to must be tree ids' };
        const r = await diffIn(await attach(repo), msg.from, msg.to);
        return Array.isArray(r) ? { ok: true, changes: wireChanges(r) } : { ok: false, code: 'UNSURE', message: r.refused };
      }
      case 'rollback': {
        // `ckpt rollback` run here for its client (cli/rollback-client.ts), by the CLI's own code (cli/daemon-rollback.ts).
        if (!opts.rollback) {
          refused('no rollbacks');
          return { ok: false, code: 'UNSERVED', message: 'this daemon runs no rollbacks' };
        }
        // Counted while it runs: the daemon neither releases its files under it nor stops before it ends.
        const running = opts.rollback(msg, {
          sock,
          commonDir: first.commonDir,
          reader: async (repo) => localReader(await attach(repo)),
          log,
        });
        rollbacks.add(running);
        try {
          const reply = await running;
          if (reply.ok === true && typeof reply.exit === 'number') rollbacksRun++;
          else if (reply.ok === false) {
            // Why a rollback fell back to the CLI (a PATH that differs because an agent's hook started the daemon, a sandbox): logged and counted.
            const reason = typeof reply.reason === 'string' ? reply.reason : String(reply.code);
            refused(reason);
            log(`rollback refused (${String(reply.code)}, ${reason}): ${String(reply.message)}`);
          }
          return reply;
        } finally {
          rollbacks.delete(running);
          touch();
        }
      }
      case 'snapshot': {
        // A snapshot of one kind through the daemon, as a hook's (tests and tools; a hook sends its stdin instead).
        // A race attempt's `base` (race/attempt.ts, with its trailers in `extra`): the worktree's first read is then the base's, not its first hook's.
        const repo = await openRepo(absolute(msg.cwd) ?? first.worktree);
        if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
        const kinds: readonly SnapshotKind[] = ['before', 'after', 'auto', 'manual', 'base'];
        const kind = kinds.find((k) => k === msg.kind);
        if (!kind) return { ok: false, code: 'BAD_REQUEST', message: `kind must be one of ${kinds.join(', ')}` };
        // Only a race's trailers, validated (snapshot/race-trailers.ts): anything that can connect to the socket can ask.
        const trailers = requestTrailers(msg.extra);
        if ('error' in trailers) return { ok: false, code: 'BAD_REQUEST', message: trailers.error };
        const extra = trailers.extra;
        const slot = await attach(repo);
        const snapInput: SnapshotInput = { kind, force: msg.force !== false, ...(typeof msg.agent === 'string' ? { agent: msg.agent } : {}), ...(typeof msg.message === 'string' ? { message: msg.message } : {}), ...(extra ? { extra } : {}) };
        return new Promise<Record<string, unknown>>((resolve) => {
          slot.pending.push({ input: snapInput, sock, resolve });
          void serve(slot);
        });
      }
      case 'hook':
        return hookRequest(msg, sock);
      default:
        return { ok: false, code: 'UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(msg.cmd)}` };
    }
  };

  /**
   * A hook of any agent with hooks (agents/hook-registry.ts), served as
   * `ckpt hook AGENT` serves it on the direct path (cli/commands/hook.ts):
   * the payload parsed by that agent's module (loaded on its first hook, not
   * at start: the ready time), the agent's state recorded first
   * (agents/state.ts), then the step, named, with its tool-use id and the
   * race's trailers as agents/hooks.ts `recordHookStep` names it; parallel
   * hooks share one snapshot per kind. The request: `agent` (a request of
   * protocol 1 named none: `claude`), `stdin` (the payload as read), `cwd`
   * (the hook's own directory, used when the payload names none), `ppid`,
   * `race`, `wait` (the hook's `CKPT_HOOK_WAIT`). The reply adds `reply`
   * (what the hook prints for the agent: its module's `reply`) and `log` (the
   * hook.log lines the direct path would write, without their time stamp)
   * and `phases`: where the daemon's answer went, in ms ({@link HookPhases}).
   *
   * Refused before anything is recorded, so the hook takes the direct path
   * for it, which reports as it always did: `UNKNOWN_AGENT`; `UNSERVED` (a
   * payload that is not a JSON object, or an event giving neither a step nor
   * a state); `BAD_REQUEST` (no absolute directory, or a `race` whose
   * `CKPT_RACE_ID` or `CKPT_ATTEMPT` is not a race id or an attempt's name:
   * snapshot/race-trailers.ts `requestTrailers`, as for `snapshot` and
   * `subscribe`); `OTHER_REPO`.
   */
  const hookRequest = async (msg: Record<string, unknown>, sock: Socket): Promise<Record<string, unknown>> => {
    const arrived = performance.now();
    const agent = msg.agent === undefined ? 'claude' : msg.agent;
    const [{ loadAgentHooks }, { hookWaitMs, raceTrailers, relativeTarget }] = await Promise.all([import('../agents/hook-registry.js'), import('../agents/hooks.js')]);
    const hooks = typeof agent === 'string' ? await loadAgentHooks(agent) : null;
    if (!hooks) return { ok: false, code: 'UNKNOWN_AGENT', message: `no hooks known for agent ${JSON.stringify(agent)}` };
    const parsed = hooks.parse(String(msg.stdin ?? ''));
    if (!parsed.step && !parsed.state) return { ok: false, code: 'UNSERVED', message: parsed.event === null ? 'the payload names no event' : `event ${JSON.stringify(parsed.event)} asks for neither a step nor a state` };
    const dir = parsed.cwd ?? absolute(msg.cwd);
    if (!dir) return { ok: false, code: 'BAD_REQUEST', message: 'the hook names no absolute directory' };
    const env = hookEnv(msg);
    // The race's trailers from the hook's environment, exactly as the direct path reads them (agents/hooks.ts), then
    // validated as a snapshot's and a subscriber's are (snapshot/race-trailers.ts): anything that can connect to the socket can send a hook.
    const trailers = requestTrailers(raceTrailers(env));
    if ('error' in trailers) return { ok: false, code: 'BAD_REQUEST', message: trailers.error };
    const repo = await openRepo(dir);
    if (repo.commonDir !== first.commonDir) return { ok: false, code: 'OTHER_REPO', message: `${repo.worktree} is not in this daemon's repository` };
    const log: string[] = [];
    // The state first, as the direct path records it before any snapshot; in the repository just opened (one discovery a hook).
    try {
      const { agentProcess, recordHookState } = await import('../agents/state.js');
      const ppid = Number(msg.ppid);
      const proc = Number.isInteger(ppid) && ppid > 0 ? agentProcess(ppid) : null;
      await recordHookState(hooks.agent, parsed, dir, { pid: proc?.pid ?? null, env, repo });
    } catch (err) {
      log.push(`ckpt hook ${hooks.agent} ${String(parsed.event)}: state not recorded: ${(err as CkptError).code ?? 'ERROR'} ${(err as Error).message}`);
    }
    const wait = hookWaitMs(typeof msg.wait === 'string' ? { CKPT_HOOK_WAIT: msg.wait } : {});
    for (const p of [...parsed.problems, ...(wait.problem ? [wait.problem] : [])]) log.push(`ckpt hook ${hooks.agent}: ${p}`);
    // What the client needs: the lines for hook.log, the agent's stdout.
    const answer = { log, reply: hooks.reply(parsed) };
    const step = parsed.step;
    if (!step) return { ok: true, skipped: `event ${JSON.stringify(parsed.event)}`, ...answer };
    const slot = await attach(repo);
    const extra = trailers.extra;
    const snapInput: SnapshotInput = {
      kind: step.kind,
      force: true,
      agent: hooks.agent,
      tool: step.tool,
      ...(step.target ? { target: relativeTarget(step.target, repo.worktree) } : {}),
      ...(step.toolUseId ? { toolUseId: step.toolUseId } : {}),
      ...(extra ? { extra } : {}),
    };
    const queuedAt = performance.now();
    const request: HookRequest = { input: snapInput, sock, resolve: () => undefined };
    const reply = await new Promise<Record<string, unknown>>((resolve) => {
      request.resolve = resolve;
      slot.pending.push(request);
      void serve(slot);
    });
    if (typeof reply.rebuilt === 'string') log.push(`ckpt hook ${hooks.agent}: warning: ${reply.rebuilt}`);
    return { ...reply, ...answer, phases: hookPhases(arrived, queuedAt, request, performance.now()) };
  };

  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    const onData = (c: string): void => {
      if (buf === null) return;
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 64 * 1024 * 1024) sock.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      requests++;
      touch();
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        sock.end(JSON.stringify({ ok: false, version: DAEMON_VERSION, code: 'BAD_REQUEST', message: 'not JSON' }) + '\n');
        return;
      }
      // A rollback's handshake continues on the socket (cli/daemon-rollback.ts reads its next line): no second request here.
      if (msg.cmd === 'rollback') sock.off('data', onData);
      handle(msg, sock)
        .catch((err: unknown) => {
          const e = err as CkptError;
          return { ok: false, code: e.code ?? 'INTERNAL', message: e.message };
        })
        .then((reply) => {
          if (reply === KEEP_OPEN) return;
          if (!sock.destroyed) sock.end(JSON.stringify({ ...reply, version: DAEMON_VERSION }) + '\n');
        });
    };
    sock.on('data', onData);
  });

  const stopped = new Promise<string>((resolve) => {
    stopping = (why) => {
      stopping = null;
      resolve(why);
    };
  });
  // A socket in the shared temp directory (a long path): another daemon that stopped may have just
  // removed that directory, empty (below); it is made again and the listen tried once more.
  const shared = path.dirname(sockPath) !== ddir;
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sockPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if (!shared || attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(path.dirname(sockPath), { recursive: true, mode: 0o700 });
    }
  }
  const record: DaemonRecord = { pid: process.pid, host: hostname(), ns: currentPidNamespace(), version: DAEMON_VERSION, socket: sockPath, startedAt };
  // Whole or not at all (a daemon killed mid-write leaves no half record for status and stop to misread).
  writeFileSync(`${recordFile}.${process.pid}.tmp`, JSON.stringify(record) + '\n');
  renameSync(`${recordFile}.${process.pid}.tmp`, recordFile);
  log(`started (ckpt ${DAEMON_VERSION}, socket ${sockPath})`);
  try {
    await attach(first);
  } catch (err) {
    log(`could not watch ${first.worktree}: ${(err as Error).message}`);
  }
  /** A request in flight (a direct-path step's `read` can last seconds at 100k files), a rollback or a step: no fold, no compaction, nothing released. */
  const servingNow = (): boolean => requestsInFlight > 0 || rollbacks.size > 0 || preloading > 0 || [...slots.values()].some((x) => x.running || x.pending.length > 0);
  /**
   * After work and `quietMs` without a request, nothing served and no
   * subscriber: the heap compacted (daemon-heap.ts), logged as `when`.
   * Returns `done`, `busy` (work to compact after, but a request or work
   * within `quietMs`, or under way now) or `no` (nothing to do, a
   * subscriber, or no `gc`).
   */
  const compactIfQuiet = (quietMs: number, when: string): 'done' | 'busy' | 'no' => {
    if (workEndedAt === 0 || stoppingNow) return 'no';
    if ([...slots.values()].some((x) => x.subscribers.size > 0)) return 'no';
    if (Date.now() - Math.max(workEndedAt, lastActivity) < quietMs || servingNow()) return 'busy';
    workEndedAt = 0;
    const c = compactHeap();
    if (!c) return 'no';
    heapBase = c.afterBytes;
    log(`${when}: heap compacted, ${(c.beforeBytes / 1e6).toFixed(1)} → ${(c.afterBytes / 1e6).toFixed(1)} MB in ${c.ms.toFixed(0)} ms`);
    return 'done';
  };
  heapBase = heapTotalBytes();
  const onSignal = (): void => stopping?.('signal');
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Every second: a repository or worktree removed is let go at once (its
  // git children run in it), and after a short quiet time everything held
  // open on the file system is released.
  const watchdog = setInterval(() => {
    // A repository removed (a temporary clone, a test's; an `rm -rf` under way: HEAD goes with .git): nothing left to watch or serve.
    if (repositoryGone(first.commonDir)) {
      stopping?.('its repository is gone');
      return;
    }
    // A worktree removed without `unwatch` (by hand, `git worktree remove`): no longer watched.
    for (const [wt, slot] of slots) {
      if (existsSync(wt) || slot.running || slot.pending.length > 0) continue;
      slots.delete(wt);
      if (slot.settle) clearTimeout(slot.settle);
      for (const x of slot.subscribers) x.sock.end(JSON.stringify({ ok: true, event: 'stopped', why: 'the worktree is gone', version: DAEMON_VERSION }) + '\n');
      slot.watch.close();
      slot.ctx?.close();
      log(`stopped watching ${wt}: it is gone`);
    }
    const serving = servingNow();
    const busy = serving || [...slots.values()].some((x) => x.subscribers.size > 0);
    // Quiet since the last step (a subscriber alone, such as `ckpt watch`, does not keep it from folding): the store's packs folded.
    if (!serving && foldWanted && Date.now() - foldWanted.at >= FOLD_QUIET_MS) {
      const { repo } = foldWanted;
      foldWanted = null;
      fold(repo);
    }
    if (!busy && Date.now() - lastActivity >= Math.min(RELEASE_MS, idleMs)) releaseHeld();
    // After work, once quiet: the heap's promoted garbage compacted and its pages given back (daemon-heap.ts).
    compactIfQuiet(COMPACT_QUIET_MS, 'quiet');
  }, 1000);
  const tick = setInterval(() => {
    if ([...slots.values()].some((x) => x.subscribers.size > 0)) touch(); // someone watches: not idle
    if (rollbacks.size > 0) touch(); // a rollback runs: not idle
    if (Date.now() - lastActivity >= idleMs) stopping?.(`idle for ${Math.round(idleMs / 1000)} s`);
    else void verify();
  }, Math.max(50, Math.min(verifyMs, idleMs, 5000)));
  onReady?.(record);
  const why = await stopped;
  // The steps still running end below: none arms an early compaction now.
  stoppingNow = true;
  clearInterval(tick);
  clearInterval(watchdog);
  disarmEarly();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  server.close();
  // A rollback under way ends first (its client waits for its answer; the worktree lock is its own).
  await Promise.allSettled([...rollbacks]);
  for (const slot of slots.values()) {
    if (slot.settle) clearTimeout(slot.settle);
    for (const x of slot.subscribers) x.sock.end(JSON.stringify({ ok: true, event: 'stopped', why, version: DAEMON_VERSION }) + '\n');
    try {
      await slot.running;
    } catch {
      // reported to its clients
    }
    slot.watch.close();
    slot.ctx?.close();
  }
  await folding;
  for (const p of pools) p.close();
  rmSync(sockPath, { force: true });
  if (shared) {
    try {
      rmdirSync(path.dirname(sockPath)); // only when no other daemon's socket is in it
    } catch {
      // another daemon's socket is there, or it is gone
    }
  }
  try {
    const cur = readRecord(first.commonDir);
    if (cur?.pid === process.pid) rmSync(recordFile, { force: true });
  } catch {
    // already gone
  }
  await release().catch(() => undefined);
  log(`stopped: ${why}`);
  return why;
}

/** How long the daemon stays quiet before it releases its temporary files and git children, in ms (`releaseHeld` in {@link runDaemon}). */
export const RELEASE_MS = 10_000;

/** True when the repository at `commonDir` is gone or going (its HEAD, which git never removes, is not there: an `rm -rf` reached .git). */
function repositoryGone(commonDir: string): boolean {
  return !existsSync(path.join(commonDir, 'HEAD'));
}

/**
 * Where a hook's answer went inside the daemon, in ms (performance.now()
 * differences, rounded to 0.01 ms), from the request parsed to its
 * reply: `state` (the payload parsed, the repository opened, the agent's
 * state recorded, the worktree attached on its first hook), `lock`
 * (waiting for the worktree lock, and for any batch before its own), `sync`
 * (the sync cookie's round trip through the watcher), `step` (the snapshot
 * recorded), `total`. A phase its batch did
 * not reach is null. For benchmarks/daemon.mjs: the answer's time beside the
 * step alone.
 */
export interface HookPhases {
  state: number;
  lock: number | null;
  sync: number | null;
  step: number | null;
  total: number;
}

function hookPhases(arrived: number, queuedAt: number, r: HookRequest, done: number): HookPhases {
  const ms = (a: number | undefined, b: number | undefined): number | null => (a === undefined || b === undefined ? null : Math.round((b - a) * 100) / 100);
  return { state: ms(arrived, queuedAt)!, lock: ms(queuedAt, r.lockedAt), sync: ms(r.lockedAt, r.syncedAt), step: ms(r.syncedAt, done), total: ms(arrived, done)! };
}

/**
 * The daemon's log: one line appended per call, the file opened and closed
 * each time (no descriptor kept). It is created only while the daemon's
 * lock file exists (the daemon holds it): a daemon whose repository is being
 * removed never creates a file in it again (an `rm -rf` would then fail on a
 * directory not empty). Never throws.
 */
function daemonLog(file: string, lockFile: string): (line: string) => void {
  return (line) => {
    const text = `${new Date().toISOString()} [${process.pid}] ${line}\n`;
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(lockFile)) return; // nowhere to log
      try {
        appendFileSync(file, text);
      } catch {
        // nowhere to log
      }
    }
  };
}

/** Tree changes as a reply carries them: the raw path in base64 (`rel`), no text form. */
function wireChanges(changes: readonly TreeChange[]): Record<string, string>[] {
  return changes.map((c) => ({ rel: c.rel.toString('base64'), srcMode: c.srcMode, dstMode: c.dstMode, srcOid: c.srcOid, dstOid: c.dstOid, status: c.status }));
}

/** The base tree of a read request: `{tree, notCaptured, notCapturedCount}` as a snapshot has them; null when malformed. */
function parseBase(v: unknown): IncrementalBase | null {
  if (!v || typeof v !== 'object') return null;
  const b = v as Record<string, unknown>;
  if (typeof b.tree !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(b.tree) || !Array.isArray(b.notCaptured)) return null;
  const notCaptured = b.notCaptured.filter((e): e is IncrementalBase['notCaptured'][number] => !!e && typeof e === 'object' && typeof (e as { path?: unknown }).path === 'string');
  return { tree: b.tree, notCaptured, ...(typeof b.notCapturedCount === 'number' ? { notCapturedCount: b.notCapturedCount } : {}) };
}

function count(map: Record<string, number>, why: string): void {
  map[why] = (map[why] ?? 0) + 1;
}

/** The daemon's record (pid, version, socket), or null when none is readable. */
export function readRecord(commonDir: string): DaemonRecord | null {
  const file = path.join(daemonDir(commonDir), 'daemon.json');
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as DaemonRecord;
    return typeof r.pid === 'number' ? r : null;
  } catch {
    return null;
  }
}
