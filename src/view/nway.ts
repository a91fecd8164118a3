/**
 * The N-way comparison model: what several attempts did to the same files,
 * aligned on the base. Pure (no git, no I/O): the loaders in load.ts feed it.
 *
 * For each file, every attempt's changes against the base are computed with
 * jsdiff's `diffArrays` over lines (each line keeps its `\n`, so "no newline
 * at end of file" is a change too). Changes of all attempts that overlap in
 * the base are merged into one **hunk**; outside hunks every attempt equals
 * the base, so context lines are shared. Within a hunk, attempts whose text
 * is identical form one **variant** ("same in claude, codex"):
 *
 * ```
 *  base lines 10–12        claude = codex           gemini
 *  ─────────────────       ──────────────           ──────
 *  - return a - b;         + return a + b;          + return b + a;
 *                    → hunk agreement 'differ' (a disagreement)
 * ```
 *
 * Agreement of a hunk across all compared attempts:
 * - `same`: every attempt made the identical change;
 * - `partial`: several attempts made the identical change, the others left it;
 * - `only`: one attempt changed it, the others left it;
 * - `differ`: at least two different changes.
 *
 * A **disagreement** is any hunk that is not `same`, in a file that more than
 * one attempt touched (files one attempt alone touched are flagged as `only`
 * instead), plus, for binary or too-large files, the file itself when the
 * attempts' outcomes differ.
 */
import { diffArrays, diffWordsWithSpace } from 'diff';
import { splitLines } from './text.js';

/** One side of a file (base or attempt). */
export interface FileSide {
  /** Content key (blob id): equal oids mean equal bytes. */
  oid: string;
  /** git mode: `100644`, `100755`, `120000` (symlink), `160000` (gitlink). */
  mode: string;
  /** The content as text (a symlink: its target); null when binary or not loaded. */
  text: string | null;
  /** Size in bytes. */
  size: number;
  /** True when the content was not read because it is too large (then `text` is null). */
  large?: boolean;
}

/** The input for one file. */
export interface FileInput {
  path: string;
  /** The base side, null when the file did not exist in the base. */
  base: FileSide | null;
  /**
   * Per attempt: its side (null: deleted / absent). An attempt missing here
   * (undefined) left the file as in the base.
   */
  versions: Record<string, FileSide | null | undefined>;
}

/** How an attempt changed a file: Added, Deleted, Modified, Type changed. */
export type FileStatus = 'A' | 'D' | 'M' | 'T';

/** A display line: text without its newline. */
export interface HLine {
  /** 1-based line number on its side. */
  n: number;
  text: string;
  /** False for a last line without a trailing newline. */
  eol: boolean;
  /** `del`: a base line some attempt removed; `add`: a line an attempt wrote. */
  mark?: 'add' | 'del';
  /**
   * For an added line that replaced a similar base line: the ranges of `text`
   * (UTF-16 offsets, `[start, end)`) that differ from it, word by word, so a
   * viewer can show what changed inside the line.
   */
  words?: [number, number][];
}

/** Attempts that produced the same text for one hunk. */
export interface Variant {
  attempts: string[];
  /** 1-based number of the variant's first line in the first attempt's file. */
  start: number;
  lines: HLine[];
  /** Lines written and base lines removed by this variant. */
  insertions: number;
  deletions: number;
}

/** How the attempts relate on one hunk (see the module comment). */
export type Agreement = 'same' | 'partial' | 'only' | 'differ';

/** One region of the base that at least one attempt changed. */
export interface NwayHunk {
  index: number;
  /** 1-based first base line of the region; for a pure insertion, the line it goes before. */
  baseStart: number;
  /** Base lines in the region (0 for a pure insertion). */
  baseCount: number;
  /** The base lines of the region (`del` where some variant removed the line). */
  base: HLine[];
  /** Shared context lines before and after (every attempt has them as in the base). */
  before: HLine[];
  after: HLine[];
  /** Base lines were skipped between the previous hunk (or the file start) and `before`. */
  gapBefore: boolean;
  /** Distinct changes, in the order of their first attempt. */
  variants: Variant[];
  /** Attempts that left this region as in the base. */
  unchanged: string[];
  agreement: Agreement;
  disagreement: boolean;
}

/** How a file is shown: line hunks, or only as a whole. */
export type FileKind = 'text' | 'binary' | 'large';

/** The comparison of one file across attempts. */
export interface NwayFile {
  path: string;
  attempts: string[];
  /** Per attempt: how it changed the file, null when it left it as in the base. */
  status: Record<string, FileStatus | null>;
  /** Attempts that changed the file, in attempt order. */
  touchedBy: string[];
  /** The one attempt that touched the file when only one did. */
  only: string | null;
  /** Attempts whose final file is byte-identical (mode too), among those that touched it; singletons included. */
  groups: string[][];
  kind: FileKind;
  modes: { base: string | null; attempts: Record<string, string | null> };
  stats: Record<string, { insertions: number; deletions: number }>;
  hunks: NwayHunk[];
  /** Indexes of hunks that are disagreements. */
  disagreements: number[];
  /** The attempts' outcomes for this file differ, and more than one touched it. */
  disagree: boolean;
  /** Base lines follow the last hunk's context. */
  gapAfter: boolean;
}

/** A file without its lines, for indexes and navigation. */
export type NwayFileSummary = Omit<NwayFile, 'hunks'> & { hunkCount: number; agreements: Agreement[] };

/** The comparison of every file any attempt changed. */
export interface NwayComparison {
  attempts: string[];
  files: NwayFile[];
  /** Every disagreement in file order: a hunk, or a whole file (hunk null). */
  disagreements: Array<{ path: string; hunk: number | null }>;
}

/** Options of {@link compareFile}. */
export interface CompareOptions {
  /** Shared context lines around hunks. Default 3. */
  context?: number;
  /** Files with more lines than this on any side are compared as a whole. Default 20000. */
  maxLines?: number;
  /** Give up line diffing past this edit length (then the whole file is one change). Default 5000. */
  maxEditLength?: number;
}

interface Edit {
  attempt: string;
  /** Base range [start, end), 0-based. */
  start: number;
  end: number;
  /** Lines written (with their `\n`). */
  lines: string[];
}

/**
 * Compares one file across `attempts` (their order is kept everywhere).
 * Never throws for any input.
 */
export function compareFile(input: FileInput, attempts: string[], opts: CompareOptions = {}): NwayFile {
  const context = opts.context ?? 3;
  const maxLines = opts.maxLines ?? 20000;
  const base = input.base;
  const status: Record<string, FileStatus | null> = {};
  const touchedBy: string[] = [];
  const finals = new Map<string, FileSide | null>();
  const modes: NwayFile['modes'] = { base: base?.mode ?? null, attempts: {} };
  for (const a of attempts) {
    const v = input.versions[a];
    const side = v === undefined ? base : v;
    finals.set(a, side);
    modes.attempts[a] = side?.mode ?? null;
    const st = statusOf(base, side);
    status[a] = st;
    if (st) touchedBy.push(a);
  }
  const groups = groupBy(touchedBy, (a) => sideKey(finals.get(a) ?? null));
  const sides = [base, ...finals.values()];
  const binary = sides.some((s) => s !== null && s.text === null && !s.large);
  const baseLines = base?.text != null ? splitLines(base.text) : [];
  const large = !binary && sides.some((s) => !!s?.large || (s?.text != null && lineCount(s.text) > maxLines));
  const kind: FileKind = binary ? 'binary' : large ? 'large' : 'text';
  const stats: NwayFile['stats'] = {};
  for (const a of attempts) stats[a] = { insertions: 0, deletions: 0 };

  let hunks: NwayHunk[] = [];
  if (kind === 'text') {
    const edits: Edit[] = [];
    for (const a of touchedBy) {
      const side = finals.get(a) ?? null;
      const mine = editsOf(a, baseLines, side?.text != null ? splitLines(side.text) : [], opts.maxEditLength ?? 5000);
      for (const e of mine) {
        stats[a]!.insertions += e.lines.length;
        stats[a]!.deletions += e.end - e.start;
      }
      edits.push(...mine);
    }
    hunks = buildHunks(edits, baseLines, attempts, context);
  }
  const multi = touchedBy.length > 1;
  for (const h of hunks) h.disagreement = multi && h.agreement !== 'same';
  const outcomes = new Set(attempts.map((a) => sideKey(finals.get(a) ?? null)));
  const disagree = multi && outcomes.size > 1;
  const last = hunks.at(-1);
  const lastShown = last ? last.baseStart - 1 + last.baseCount + last.after.length : 0;
  return {
    path: input.path,
    attempts: [...attempts],
    status,
    touchedBy,
    only: touchedBy.length === 1 ? touchedBy[0]! : null,
    groups,
    kind,
    modes,
    stats,
    hunks,
    disagreements: hunks.filter((h) => h.disagreement).map((h) => h.index),
    disagree,
    gapAfter: !!last && lastShown < baseLines.length,
  };
}

/**
 * Compares many files (sorted by path) and lists every disagreement in order.
 */
export function compareFiles(inputs: FileInput[], attempts: string[], opts: CompareOptions = {}): NwayComparison {
  const files = [...inputs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => compareFile(f, attempts, opts));
  const disagreements: NwayComparison['disagreements'] = [];
  for (const f of files) {
    if (f.kind !== 'text') {
      if (f.disagree) disagreements.push({ path: f.path, hunk: null });
      continue;
    }
    for (const i of f.disagreements) disagreements.push({ path: f.path, hunk: i });
    if (f.disagree && f.disagreements.length === 0) disagreements.push({ path: f.path, hunk: null }); // e.g. only the mode differs
  }
  return { attempts: [...attempts], files, disagreements };
}

/** The file without its lines. */
export function summarizeFile(f: NwayFile): NwayFileSummary {
  const { hunks, ...rest } = f;
  return { ...rest, hunkCount: hunks.length, agreements: hunks.map((h) => h.agreement) };
}

/** "same in claude, codex" style label of a group, or null for one attempt. */
export function sameLabel(attempts: string[]): string | null {
  return attempts.length > 1 ? `same in ${attempts.join(', ')}` : null;
}

function statusOf(base: FileSide | null, side: FileSide | null): FileStatus | null {
  if (!base && !side) return null;
  if (!base) return 'A';
  if (!side) return 'D';
  if (base.oid === side.oid && base.mode === side.mode) return null;
  const link = (m: string): boolean => m === '120000' || m === '160000';
  return link(base.mode) !== link(side.mode) ? 'T' : 'M';
}

function sideKey(s: FileSide | null): string {
  return s ? `${s.mode} ${s.oid}` : '-';
}

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function groupBy<T>(items: T[], key: (t: T) => string): T[][] {
  const map = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = map.get(k);
    if (g) g.push(it);
    else map.set(k, [it]);
  }
  return [...map.values()];
}

/** One attempt's changes as base ranges replaced by lines, via jsdiff. */
function editsOf(attempt: string, base: string[], mine: string[], maxEditLength: number): Edit[] {
  const changes = diffArrays(base, mine, { maxEditLength });
  if (!changes) return [{ attempt, start: 0, end: base.length, lines: mine }]; // too different: one change
  const out: Edit[] = [];
  let i = 0;
  let open: Edit | null = null;
  for (const c of changes) {
    const n = c.count ?? c.value.length;
    if (!c.added && !c.removed) {
      if (open) out.push(open);
      open = null;
      i += n;
      continue;
    }
    open ??= { attempt, start: i, end: i, lines: [] };
    if (c.removed) {
      open.end += n;
      i += n;
    } else open.lines.push(...c.value);
  }
  if (open) out.push(open);
  return out;
}

function buildHunks(edits: Edit[], base: string[], attempts: string[], context: number): NwayHunk[] {
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  // Merge overlapping ranges; insertions at the same point merge with each other.
  const clusters: Array<{ start: number; end: number; edits: Edit[] }> = [];
  for (const e of edits) {
    const c = clusters.at(-1);
    if (c && (e.start < c.end || (e.start === c.end && e.start === e.end && c.start === c.end))) {
      c.end = Math.max(c.end, e.end);
      c.edits.push(e);
    } else clusters.push({ start: e.start, end: e.end, edits: [e] });
  }
  // Line offsets per attempt, to number each variant's lines in its own file.
  const delta = new Map<string, number>(attempts.map((a) => [a, 0]));
  const hunks: NwayHunk[] = [];
  let shownUpTo = 0; // base lines [0, shownUpTo) already shown
  clusters.forEach((c, index) => {
    const baseSlice = base.slice(c.start, c.end);
    const byAttempt = new Map<string, Edit[]>();
    for (const e of c.edits) {
      const list = byAttempt.get(e.attempt);
      if (list) list.push(e);
      else byAttempt.set(e.attempt, [e]);
    }
    const removed = new Set<number>();
    const variants: Variant[] = [];
    const keyed = new Map<string, Variant>();
    const unchanged: string[] = [];
    for (const a of attempts) {
      const mine = byAttempt.get(a);
      const start = c.start + 1 + (delta.get(a) ?? 0);
      if (!mine) {
        unchanged.push(a);
        continue;
      }
      const lines: HLine[] = [];
      let ins = 0;
      let dels = 0;
      let pos = c.start;
      const push = (text: string, mark?: 'add', was?: string): void => {
        const line: HLine = { n: start + lines.length, ...splitEol(text), ...(mark ? { mark } : {}) };
        const words = was === undefined ? null : changedWords(splitEol(was).text, line.text);
        if (words) line.words = words;
        lines.push(line);
      };
      for (const e of mine) {
        for (; pos < e.start; pos++) push(base[pos]!);
        for (let k = e.start; k < e.end; k++) removed.add(k);
        // The i-th line written pairs with the i-th line removed, as in a unified diff's -/+ blocks.
        e.lines.forEach((l, i) => push(l, 'add', e.start + i < e.end ? base[e.start + i] : undefined));
        ins += e.lines.length;
        dels += e.end - e.start;
        pos = e.end;
      }
      for (; pos < c.end; pos++) push(base[pos]!);
      delta.set(a, (delta.get(a) ?? 0) + ins - dels);
      const key = JSON.stringify(lines.map((l) => [l.text, l.eol, l.mark ?? '']));
      const v = keyed.get(key);
      if (v) v.attempts.push(a);
      else {
        const nv: Variant = { attempts: [a], start, lines, insertions: ins, deletions: dels };
        keyed.set(key, nv);
        variants.push(nv);
      }
    }
    const agreement: Agreement =
      variants.length > 1 ? 'differ' : unchanged.length === 0 ? 'same' : variants[0]!.attempts.length > 1 ? 'partial' : 'only';
    const beforeFrom = Math.max(shownUpTo, c.start - context);
    const next = clusters[index + 1];
    const afterTo = Math.min(base.length, c.end + context, next ? next.start : Infinity);
    const mk = (from: number, to: number): HLine[] => base.slice(from, to).map((t, k) => ({ n: from + k + 1, ...splitEol(t) }));
    hunks.push({
      index,
      baseStart: c.start + 1,
      baseCount: c.end - c.start,
      base: baseSlice.map((t, k) => ({ n: c.start + k + 1, ...splitEol(t), ...(removed.has(c.start + k) ? { mark: 'del' as const } : {}) })),
      before: mk(beforeFrom, c.start),
      after: mk(c.end, afterTo),
      gapBefore: beforeFrom > shownUpTo,
      variants,
      unchanged,
      agreement,
      disagreement: false,
    });
    shownUpTo = afterTo;
  });
  return hunks;
}

/** Lines longer than this are not compared word by word (cost, and nobody reads such a diff). */
const WORD_DIFF_MAX_CHARS = 1000;

/**
 * The ranges of `now` that differ from `was`, word by word (the `diff`
 * package's `diffWordsWithSpace`), or null when the two lines are too
 * different for that to help (less than 40 % of the longer one in common) or
 * too long, or identical.
 */
export function changedWords(was: string, now: string): [number, number][] | null {
  if (was === now || was.length > WORD_DIFF_MAX_CHARS || now.length > WORD_DIFF_MAX_CHARS) return null;
  const parts = diffWordsWithSpace(was, now);
  const ranges: [number, number][] = [];
  let off = 0;
  let common = 0;
  for (const p of parts) {
    if (p.removed) continue;
    const end = off + p.value.length;
    if (p.added) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === off) last[1] = end;
      else ranges.push([off, end]);
    } else common += p.value.length;
    off = end;
  }
  if (common < 0.4 * Math.max(was.length, now.length)) return null;
  return ranges.length > 0 ? ranges : null;
}

function splitEol(line: string): { text: string; eol: boolean } {
  return line.endsWith('\n') ? { text: line.slice(0, -1), eol: true } : { text: line, eol: false };
}
