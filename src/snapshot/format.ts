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
import type { Snapshot, SnapshotKind } from '../core/types.js';
import { SNAPSHOT_KINDS } from '../core/types.js';

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
  head: string | null;
  headRef: string | null;
  indexTree: string | null;
  time: number;
  worktree: string;
  extra?: Record<string, string>;
}

const KNOWN = new Set(['Version', 'Step', 'Kind', 'Agent', 'Tool', 'Target', 'Tool-Use-Id', 'Head', 'Head-Ref', 'Index-Tree', 'Time', 'Worktree']);

/** Makes a value safe for one trailer line: no control characters, at most `max` chars. */
export function oneLine(value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Builds the commit message of a snapshot. */
export function encodeMessage(rec: SnapshotRecord): string {
  const t: [string, string][] = [
    ['Version', String(FORMAT_VERSION)],
    ['Step', String(rec.step)],
    ['Kind', rec.kind],
  ];
  if (rec.agent) t.push(['Agent', oneLine(rec.agent, 60)]);
  if (rec.tool) t.push(['Tool', oneLine(rec.tool, 60)]);
  if (rec.target) t.push(['Target', oneLine(rec.target)]);
  const ids = rec.toolUseIds && rec.toolUseIds.length > 0 ? rec.toolUseIds : rec.toolUseId ? [rec.toolUseId] : [];
  for (const id of ids) t.push(['Tool-Use-Id', oneLine(id, 100)]);
  t.push(['Head', rec.head ?? 'none']);
  t.push(['Head-Ref', rec.headRef ?? 'detached']);
  t.push(['Index-Tree', rec.indexTree ?? 'unmerged']);
  t.push(['Time', String(rec.time)]);
  t.push(['Worktree', oneLine(rec.worktree, 4096)]);
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
  const toolUseIds = list.filter(([k]) => k === 'Tool-Use-Id').map(([, v]) => v);
  const version = Number(tr.get('Version'));
  const step = Number(tr.get('Step'));
  const kind = tr.get('Kind') as SnapshotKind | undefined;
  if (!Number.isInteger(version) || version < 1 || version > FORMAT_VERSION) return null;
  if (!Number.isInteger(step) || !kind || !SNAPSHOT_KINDS.includes(kind)) return null;
  const extra: Record<string, string> = {};
  for (const [k, v] of tr) if (!KNOWN.has(k)) extra[k] = v;
  const head = tr.get('Head');
  const headRef = tr.get('Head-Ref');
  const indexTree = tr.get('Index-Tree');
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
    agent: tr.get('Agent') ?? null,
    tool: tr.get('Tool') ?? null,
    target: tr.get('Target') ?? null,
    toolUseId: toolUseIds[0] ?? null,
    toolUseIds,
    time: Number(tr.get('Time')) || 0,
    worktree: tr.get('Worktree') ?? '',
    extra,
  };
}

/** The message of an index commit (the last parent of every snapshot). */
export function encodeIndexMessage(worktree: string): string {
  return `ckpt index\n\nIndex-Of: ${oneLine(worktree, 4096)}\n`;
}
