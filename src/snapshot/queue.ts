/**
 * Group commit of snapshot requests: many processes asking for a snapshot of
 * the same worktree at once (an agent's parallel tool calls, each running
 * `ckpt hook claude`) are served by one snapshot instead of queueing on the
 * worktree lock one by one, so none of them gives up and drops its step.
 *
 * ```
 * <stateDir>/queue/<time>-<pid>-<rand>.req    a waiting request (JSON, written atomically)
 * <stateDir>/queue/<same name>.done          "served": the snapshot that recorded it
 * ```
 *
 * A requester writes its `.req`, then loops until its deadline: if its
 * `.done` exists it was served and returns; otherwise it tries the worktree
 * lock once. The process that gets the lock (the leader) takes the pending
 * requests (its own among them), records one snapshot per kind (`before`,
 * `after`) naming every request's tool-use id, writes each request's `.done`
 * and removes its `.req`. Requests of processes that are gone (killed by the
 * agent's hook timeout) are dropped, never recorded late. A watcher holding
 * the lock serves the pending requests the same way before it releases it
 * ({@link serveQueuedRequests}), and the daemon with its own snapshots
 * ({@link queuedRequests}, {@link markServed}): either may take the lock
 * again at once, for as long as changes keep coming, and a requester that
 * only tries now and then would never get it. One snapshot serves requests
 * of one kind, agent and trailers ({@link groupRequests}).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { CkptError, isCkptError } from '../core/errors.js';
import type { SnapshotInput, SnapshotKind } from '../core/types.js';
import type { Repo } from '../git/repo.js';
import { currentPidNamespace, processGone, REF_RACE_TRIES, withWorktreeLock } from './lock.js';
import { takeSnapshotLocked } from './take.js';

/** What a request file holds. */
interface Request {
  kind: SnapshotKind;
  agent?: string;
  tool?: string;
  target?: string;
  toolUseId?: string;
  /** Further trailers (a race attempt's `Race`, `Attempt`, `Round`). */
  extra?: Record<string, string>;
  pid: number;
  host: string;
  /** PID namespace of `pid`. */
  ns: string;
  /** When it was queued, ms since the epoch. */
  time: number;
}

/** What {@link takeSnapshotQueued} returns. */
export interface QueuedResult {
  /** Id of the snapshot that recorded the request. */
  id: string;
  /** Its step number. */
  step: number;
  /** True when this process took the snapshot (and served the others). */
  leader: boolean;
  /** How many requests that snapshot served (1 when alone). */
  served: number;
  /** What the snapshot did not capture (see TakeResult.warnings); only for the leader. */
  warnings: string[];
  /** See TakeResult.rebuilt; only for the leader. */
  rebuilt?: string;
}

/** What a `.done` file holds. */
export interface Done {
  id: string;
  step: number;
  served: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Records a snapshot for `input` (always recorded, like `force`), served by
 * whichever process holds the worktree lock next, for this request and every
 * other one queued by then.
 *
 * @param input the request: kind, agent, tool, target, tool-use id (no message: the leader writes it).
 * @param opts.waitMs give up after about this many ms (default 20000, below
 *   Claude Code's 30 s hook timeout as `hooks install` writes it).
 * @throws CkptError `LOCKED` when not served within `waitMs` (the request is
 *   withdrawn, so it is never recorded late); what the snapshot throws
 *   (`GIT_FAILED`, `FS_FAILED`; `REF_RACE` only when it lost the race on
 *   the ref {@link REF_RACE_TRIES} times), for the leader.
 */
export async function takeSnapshotQueued(repo: Repo, input: SnapshotInput, opts: { waitMs?: number } = {}): Promise<QueuedResult> {
  const waitMs = opts.waitMs ?? 20_000;
  const deadline = Date.now() + waitMs;
  const dir = path.join(repo.stateDir, 'queue');
  mkdirSync(dir, { recursive: true });
  const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const req: Request = {
    kind: input.kind,
    ...(input.agent ? { agent: input.agent } : {}),
    ...(input.tool ? { tool: input.tool } : {}),
    ...(input.target ? { target: input.target } : {}),
    ...(input.toolUseId ? { toolUseId: input.toolUseId } : {}),
    ...(input.extra && Object.keys(input.extra).length > 0 ? { extra: input.extra } : {}),
    pid: process.pid,
    host: hostname(),
    ns: currentPidNamespace(),
    time: Date.now(),
  };
  const reqPath = path.join(dir, `${name}.req`);
  const donePath = path.join(dir, `${name}.done`);
  try {
    writeFileSync(`${reqPath}.tmp`, JSON.stringify(req));
    renameSync(`${reqPath}.tmp`, reqPath);
  } catch (err) {
    rmSync(`${reqPath}.tmp`, { force: true });
    throw new CkptError('FS_FAILED', `could not queue a snapshot request in ${dir}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check free space and permissions of the git directory.',
      data: { errno: (err as NodeJS.ErrnoException).code ?? null },
    });
  }
  let lastErr: unknown = null;
  let races = 0;
  for (let delay = 5; ; delay = Math.min(50, delay * 2)) {
    const done = readDone(donePath);
    if (done) return { ...done, leader: false, warnings: [] };
    try {
      const led = await withWorktreeLock(repo, () => serveQueue(repo, dir, name), { waitMs: 0 });
      if (led) return led;
      // Served by the previous leader between our check and the lock.
      const after = readDone(donePath);
      if (after) return { ...after, leader: false, warnings: [] };
    } catch (err) {
      // REF_RACE: this leader's lock was taken over while it stalled and another process recorded
      // meanwhile; the requests it did not serve are still queued, its own among them: try again.
      if (!isCkptError(err, 'LOCKED') && !(isCkptError(err, 'REF_RACE') && ++races < REF_RACE_TRIES)) {
        rmSync(reqPath, { force: true });
        throw err;
      }
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(delay * (0.5 + Math.random()));
  }
  // Withdraw the request; if that fails, a leader took it meanwhile.
  try {
    renameSync(reqPath, `${reqPath}.gone`);
    rmSync(`${reqPath}.gone`, { force: true });
  } catch {
    for (let i = 0; i < 200; i++) {
      const done = readDone(donePath);
      if (done) return { ...done, leader: false, warnings: [] };
      await sleep(25);
    }
  }
  throw new CkptError('LOCKED', `not served within ${waitMs} ms: another ckpt process held ${repo.worktree} the whole time`, {
    cause: lastErr,
    hint: 'A long rollback or snapshot was running; the step was not recorded.',
    data: { waitMs },
  });
}

function readDone(donePath: string): Done | null {
  let text: string;
  try {
    text = readFileSync(donePath, 'utf8');
  } catch {
    return null;
  }
  rmSync(donePath, { force: true });
  try {
    const d = JSON.parse(text) as Done;
    if (typeof d.id === 'string' && typeof d.step === 'number') return { id: d.id, step: d.step, served: Number(d.served) || 1 };
  } catch {
    // fall through
  }
  return null;
}

/**
 * For a caller holding `repo`'s worktree lock that is about to release it
 * (the watcher, after its snapshot): serves every request queued meanwhile
 * (see {@link takeSnapshotQueued}), one snapshot per kind, so a hook waiting
 * for the lock is served by whoever holds it. Without this a holder that
 * takes the lock again the moment it releases it (a watcher under a stream
 * of changes) starves the hooks, which only try the lock now and then.
 *
 * @returns how many requests were served (0 when none was queued).
 * @throws what the snapshot throws (`GIT_FAILED`, `FS_FAILED`, `REF_RACE`).
 */
export async function serveQueuedRequests(repo: Repo): Promise<number> {
  const dir = path.join(repo.stateDir, 'queue');
  let served = 0;
  await serveQueue(repo, dir, null, (n) => (served += n));
  return served;
}

/**
 * Under the lock: records the queued requests, one snapshot per group
 * ({@link groupRequests}: kind and trailers), oldest first. Returns this
 * process's result (`own`: its request's name), or null when its own request
 * is no longer queued (already served) or when serving for others (`own` null).
 */
async function serveQueue(repo: Repo, dir: string, own: string | null, onServed?: (n: number) => void): Promise<QueuedResult | null> {
  const pending = readPending(dir);
  if (own === null ? pending.length === 0 : !pending.some((p) => p.name === own)) return null;
  let mine: QueuedResult | null = null;
  for (const group of groupRequests(pending, (p) => p.input)) {
    const first = group.find((p) => p.name === own) ?? group[0]!;
    const res = await takeSnapshotLocked(repo, groupInput(first.input, group.map((p) => p.input)));
    const done: Done = { id: res.snapshot.id, step: res.snapshot.step, served: group.length };
    onServed?.(group.length);
    for (const p of group) {
      if (p.name === own) {
        mine = { ...done, leader: true, warnings: res.warnings, ...(res.rebuilt ? { rebuilt: res.rebuilt } : {}) };
        rmSync(path.join(dir, `${p.name}.req`), { force: true });
      } else markServedIn(dir, p.name, done);
    }
  }
  return mine;
}

/** A hook's request waiting in the file queue (its name there, and what it asks for). */
export interface QueuedRequest {
  name: string;
  input: SnapshotInput;
}

/**
 * For a caller holding `repo`'s worktree lock that records snapshots its own
 * way (the daemon, from its dirty set): the requests hooks of the direct path
 * queued while waiting for the lock, oldest first; those of processes that
 * are gone are dropped here, never recorded late. Each one recorded is then
 * answered with {@link markServed}; one never answered stays queued (its
 * hook, or the next holder, records it).
 */
export function queuedRequests(repo: Repo): QueuedRequest[] {
  return readPending(path.join(repo.stateDir, 'queue')).map((p) => ({ name: p.name, input: p.input }));
}

/**
 * Answers a request of {@link queuedRequests}: the snapshot `done` (its id,
 * step and how many requests it served) recorded it. Never throws: an answer
 * that cannot be written leaves the request to be recorded again by its
 * hook (a duplicate, never a loss).
 */
export function markServed(repo: Repo, name: string, done: Done): void {
  markServedIn(path.join(repo.stateDir, 'queue'), name, done);
}

function markServedIn(dir: string, name: string, done: Done): void {
  try {
    writeFileSync(path.join(dir, `${name}.done.tmp`), JSON.stringify(done));
    renameSync(path.join(dir, `${name}.done.tmp`), path.join(dir, `${name}.done`));
  } catch {
    // Its waiter will not see it served and will record it again: a duplicate, never a loss.
    return;
  }
  rmSync(path.join(dir, `${name}.req`), { force: true });
}

/**
 * Requests one snapshot may serve together, in the order their first
 * member came: the same kind, agent and trailers (a race's `Race`,
 * `Attempt`, `Round`), since a snapshot records one of each. Hooks of two
 * rounds waiting at once are two steps, each with its own round.
 */
export function groupRequests<T>(items: readonly T[], input: (item: T) => SnapshotInput): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const i = input(item);
    const key = JSON.stringify([i.kind, i.agent ?? null, Object.entries(i.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    const g = groups.get(key);
    if (g) g.push(item);
    else groups.set(key, [item]);
  }
  return [...groups.values()];
}

/**
 * The snapshot input serving `group` (one of {@link groupRequests}), named
 * after `first`: every tool-use id, and a message naming each tool call
 * when there are several.
 */
export function groupInput(first: SnapshotInput, group: readonly SnapshotInput[]): SnapshotInput {
  const ids = group.map((r) => r.toolUseId).filter((id): id is string => !!id);
  return {
    ...first,
    force: first.force !== false,
    ...(ids.length > 1 ? { toolUseIds: ids, message: groupMessage(first.kind, group) } : {}),
  };
}

/** The queued requests, oldest first; drops those of processes that are gone, and old leftovers. */
function readPending(dir: string): { name: string; input: SnapshotInput }[] {
  const out: { name: string; input: SnapshotInput }[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  const now = Date.now();
  for (const file of names) {
    const full = path.join(dir, file);
    if (!file.endsWith('.req')) {
      // A .done nobody collected, a temp file of a killed writer: gone after a minute.
      try {
        if (now - statSync(full).mtimeMs > 60_000) rmSync(full, { force: true });
      } catch {
        // already gone
      }
      continue;
    }
    let req: Request;
    try {
      req = JSON.parse(readFileSync(full, 'utf8')) as Request;
    } catch {
      rmSync(full, { force: true });
      continue;
    }
    if (processGone(req.pid, req.host, req.ns)) {
      rmSync(full, { force: true });
      continue;
    }
    out.push({ name: file.slice(0, -'.req'.length), input: inputOf(req) });
  }
  return out;
}

/** What a request file asks for, as a snapshot input (always recorded, like `force`). */
function inputOf(req: Request): SnapshotInput {
  return {
    kind: req.kind,
    force: true,
    ...(req.agent ? { agent: req.agent } : {}),
    ...(req.tool ? { tool: req.tool } : {}),
    ...(req.target ? { target: req.target } : {}),
    ...(req.toolUseId ? { toolUseId: req.toolUseId } : {}),
    ...(req.extra ? { extra: req.extra } : {}),
  };
}

/** `after 3 tool calls: Edit a.ts, Bash npm test, Write b.ts`. */
function groupMessage(kind: SnapshotKind, reqs: readonly SnapshotInput[]): string {
  const what = reqs.map((r) => [r.tool, r.target].filter(Boolean).join(' ') || 'tool').join(', ');
  return `${kind} ${reqs.length} tool calls: ${what}`;
}
