/**
 * The snapshot format, version 1 (docs/snapshot-format.md has the full story).
 *
 * A snapshot is an ordinary commit:
 *
 * ```
 * refs/ckpt/wt/<worktree-id> ──► snapshot N ──► snapshot N-1 ──► … ──► snapshot 1
 *                                   │ tree = the worktree (tracked + untracked, ignored left out, raw bytes)
 *                                   └─ last parent: "index commit" (tree = the user's index, parent = HEAD)
 * ```
 *
 * Parents: `[previous snapshot, index commit]`, or `[index commit]` for the
 * first snapshot of a chain. The index commit keeps the user's index tree and
 * HEAD reachable, so `git gc` can never prune what a snapshot refers to.
 *
 * Metadata lives in trailers (git-interpret-trailers(1)) after the subject:
 *
 * ```
 * after Edit src/app.ts
 *
 * Version: 1
 * Step: 7
 * Kind: after
 * Agent: claude
 * Tool: Edit
 * Target: src/app.ts
 * Tool-Use-Id: toolu_01…  (one per tool call the snapshot serves; several when parallel hooks shared it)
 * Head: 3f2a…            (or "none")
 * Head-Ref: refs/heads/main   (or "detached")
 * Index-Tree: 9c1b…      (or "unmerged")
 * Time: 1763920000123    (ms since the epoch)
 * Worktree: /home/me/app
 * ```
 */
import type { NotCaptured, Snapshot, SnapshotKind } from '../core/types.js';
import { NOT_CAPTURED_LISTED, SNAPSHOT_KINDS } from '../core/types.js';

/** Current format version, written as the `Version:` trailer. */
export const FORMAT_VERSION = 1;

/** Fields written into a snapshot commit's trailers. */
export interface SnapshotRecord {
  step: number;
  kind: SnapshotKind;
  message: string;
  agent?: string | null;
  tool?: string | null;
  target?: string | null;
  toolUseId?: string | null;
  /** All tool-use ids, one `Tool-Use-Id` trailer each (default: `[toolUseId]`). */
  toolUseIds?: readonly string[];
  /** Paths left out (see NotCaptured); listed up to NOT_CAPTURED_LISTED, the count always. */
  notCaptured?: readonly NotCaptured[];
  head: string | null;
  headRef: string | null;
  indexTree: string | null;
  time: number;
  worktree: string;
  extra?: Record<string, string>;
}

/**
 * Every trailer name ckpt writes, in one place. The first group is decoded
 * into {@link Snapshot}'s fields; the others travel in `Snapshot.extra`.
 */
export const TRAILER = {
  version: 'Version',
  step: 'Step',
  kind: 'Kind',
  agent: 'Agent',
  tool: 'Tool',
  target: 'Target',
  toolUseId: 'Tool-Use-Id',
  head: 'Head',
  headRef: 'Head-Ref',
  indexTree: 'Index-Tree',
  time: 'Time',
  worktree: 'Worktree',
  /** One per path left out: `<reason> <size in bytes or -> <path as a JSON string>`. */
  notCaptured: 'Not-Captured',
  /** How many paths were left out, when more than are listed. */
  notCapturedCount: 'Not-Captured-Count',
  /** On `pre-rollback` and `rollback` snapshots: the snapshot (or tree) restored. */
  rollbackTarget: 'Rollback-Target',
  /** On `pre-rollback` snapshots: the JSON list of paths the rollback was limited to, or `null`. */
  rollbackPaths: 'Rollback-Paths',
  /** On race snapshots: the race id and the attempt's name. */
  race: 'Race',
  attempt: 'Attempt',
  /** On race snapshots: the round of the attempt (1-based; race `--rounds`) the step belongs to. */
  round: 'Round',
  /** On the index commit ending a chain: the worktree it belongs to. */
  indexOf: 'Index-Of',
} as const;

/** A trailer name ckpt writes. */
export type TrailerName = (typeof TRAILER)[keyof typeof TRAILER];

const KNOWN = new Set<string>([TRAILER.version, TRAILER.step, TRAILER.kind, TRAILER.agent, TRAILER.tool, TRAILER.target, TRAILER.toolUseId, TRAILER.head, TRAILER.headRef, TRAILER.indexTree, TRAILER.time, TRAILER.worktree, TRAILER.notCaptured, TRAILER.notCapturedCount]);

/** Makes a value safe for one trailer line: no control characters, at most `max` chars. */
export function oneLine(value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Builds the commit message of a snapshot. */
export function encodeMessage(rec: SnapshotRecord): string {
  const t: [string, string][] = [
    [TRAILER.version, String(FORMAT_VERSION)],
    [TRAILER.step, String(rec.step)],
    [TRAILER.kind, rec.kind],
  ];
  if (rec.agent) t.push([TRAILER.agent, oneLine(rec.agent, 60)]);
  if (rec.tool) t.push([TRAILER.tool, oneLine(rec.tool, 60)]);
  if (rec.target) t.push([TRAILER.target, oneLine(rec.target)]);
  const ids = rec.toolUseIds && rec.toolUseIds.length > 0 ? rec.toolUseIds : rec.toolUseId ? [rec.toolUseId] : [];
  for (const id of ids) t.push([TRAILER.toolUseId, oneLine(id, 100)]);
  t.push([TRAILER.head, rec.head ?? 'none']);
  t.push([TRAILER.headRef, rec.headRef ?? 'detached']);
  t.push([TRAILER.indexTree, rec.indexTree ?? 'unmerged']);
  t.push([TRAILER.time, String(rec.time)]);
  t.push([TRAILER.worktree, oneLine(rec.worktree, 4096)]);
  const left = rec.notCaptured ?? [];
  for (const n of left.slice(0, NOT_CAPTURED_LISTED)) t.push([TRAILER.notCaptured, `${n.reason} ${n.size ?? '-'} ${JSON.stringify(n.path)}`]);
  if (left.length > NOT_CAPTURED_LISTED) t.push([TRAILER.notCapturedCount, String(left.length)]);
  for (const [k, v] of Object.entries(rec.extra ?? {})) {
    if (/^[A-Za-z][A-Za-z0-9-]*$/.test(k) && !KNOWN.has(k)) t.push([k, oneLine(v, 4096)]);
  }
  const subject = oneLine(rec.message || rec.kind, 120) || rec.kind;
  return `${subject}\n\n${t.map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
}

/** The parsed headers and message of a raw commit object. */
export interface RawCommit {
  id: string;
  tree: string;
  parents: string[];
  message: string;
}

/** Parses a raw commit object (as `git cat-file commit` prints it). */
export function parseCommit(id: string, raw: Buffer | string): RawCommit {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const header = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  let tree = '';
  const parents: string[] = [];
  for (const line of header.split('\n')) {
    if (line.startsWith('tree ')) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
  }
  return { id, tree, parents, message };
}

/** Reads `Key: value` trailers from the last paragraph of a message (a repeated key: the last value; see {@link parseTrailerList}). */
export function parseTrailers(message: string): Map<string, string> {
  return new Map(parseTrailerList(message));
}

/** Every `Key: value` trailer of the last paragraph of a message, in order, repeated keys included. */
export function parseTrailerList(message: string): [string, string][] {
  const paragraphs = message.trimEnd().split(/\n\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  const out: [string, string][] = [];
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9-]*): ?(.*)$/.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

/**
 * Decodes a snapshot commit, or returns null when the commit is not a ckpt
 * snapshot (no `Version:` trailer, e.g. the index commit ending a chain) or
 * has a newer format than this ckpt understands.
 */
export function decodeSnapshot(commit: RawCommit): Snapshot | null {
  const list = parseTrailerList(commit.message);
  const tr = new Map(list);
  const toolUseIds = list.filter(([k]) => k === TRAILER.toolUseId).map(([, v]) => v);
  const notCaptured = list.filter(([k]) => k === TRAILER.notCaptured).flatMap(([, v]) => decodeNotCaptured(v));
  const version = Number(tr.get(TRAILER.version));
  const step = Number(tr.get(TRAILER.step));
  const kind = tr.get(TRAILER.kind) as SnapshotKind | undefined;
  if (!Number.isInteger(version) || version < 1 || version > FORMAT_VERSION) return null;
  if (!Number.isInteger(step) || !kind || !SNAPSHOT_KINDS.includes(kind)) return null;
  const extra: Record<string, string> = {};
  for (const [k, v] of tr) if (!KNOWN.has(k)) extra[k] = v;
  const head = tr.get(TRAILER.head);
  const headRef = tr.get(TRAILER.headRef);
  const indexTree = tr.get(TRAILER.indexTree);
  return {
    id: commit.id,
    step,
    kind,
    tree: commit.tree,
    parent: commit.parents.length >= 2 ? commit.parents[0]! : null,
    head: head && head !== 'none' ? head : null,
    headRef: headRef && headRef !== 'detached' ? headRef : null,
    indexTree: indexTree && indexTree !== 'unmerged' ? indexTree : null,
    message: commit.message.split('\n')[0] ?? '',
    agent: tr.get(TRAILER.agent) ?? null,
    tool: tr.get(TRAILER.tool) ?? null,
    target: tr.get(TRAILER.target) ?? null,
    toolUseId: toolUseIds[0] ?? null,
    toolUseIds,
    notCaptured,
    notCapturedCount: Math.max(notCaptured.length, Number(tr.get(TRAILER.notCapturedCount)) || 0),
    time: Number(tr.get(TRAILER.time)) || 0,
    worktree: tr.get(TRAILER.worktree) ?? '',
    extra,
  };
}

/**
 * Decodes a raw object as a snapshot: null when there is no object, it is
 * not a commit, or the commit is not a ckpt snapshot (see {@link decodeSnapshot}).
 * The one way ckpt turns an object it read into a {@link Snapshot}.
 */
export function snapshotFromObject(obj: { oid: string; type: string; content: Buffer } | null | undefined): Snapshot | null {
  if (!obj || obj.type !== 'commit') return null;
  return decodeSnapshot(parseCommit(obj.oid, obj.content));
}

/**
 * The paths a `pre-rollback` snapshot's rollback was limited to (its
 * `Rollback-Paths` trailer), or null for the whole tree (also when the
 * trailer is missing or unreadable).
 */
export function rollbackPathsOf(s: Snapshot): string[] | null {
  const raw = s.extra[TRAILER.rollbackPaths];
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

/** Reads one `Not-Captured` value; [] when it is not in the form ckpt writes. */
function decodeNotCaptured(value: string): NotCaptured[] {
  const m = /^(too-large|unreadable|special) (\d+|-) (".*")$/.exec(value);
  if (!m) return [];
  try {
    const p = JSON.parse(m[3]!) as unknown;
    return typeof p === 'string' ? [{ path: p, reason: m[1] as NotCaptured['reason'], size: m[2] === '-' ? null : Number(m[2]) }] : [];
  } catch {
    return [];
  }
}

/** The message of an index commit (the last parent of every snapshot). */
export function encodeIndexMessage(worktree: string): string {
  return `ckpt index\n\n${TRAILER.indexOf}: ${oneLine(worktree, 4096)}\n`;
}
