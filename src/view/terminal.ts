/**
 * The N-way comparison on a terminal: per file, per hunk, the base and each
 * distinct change side by side in columns fitted to a width, attempts that
 * made the same change sharing one column ("same in claude, codex"):
 *
 * ```
 * ━━ src/math.ts  claude M +1 −1 · codex M +1 −1 · gemini M +2 −1
 * @@ base 2 · ≠ differ: claude, codex | gemini
 *    1   export function add(a: number, b: number): number {
 *  base                │ claude, codex          │ gemini
 *    2 -  return a - b;│    2 +  return a + b;  │    2 +  return b + a;
 *    3   }
 * ```
 *
 * Pure apart from {@link renderRaceSideBySide}, which loads the race first.
 * A line without a final newline ends in ` ⌀`. File contents are made terminal-safe (no escape sequence of theirs reaches
 * the terminal, see text.ts).
 */
import pc from 'picocolors';
import type { Repo } from '../git/repo.js';
import type { RaceRecord } from '../race/types.js';
import { loadRaceComparison } from './load.js';
import type { HLine, NwayComparison, NwayFile, NwayHunk } from './nway.js';
import { displayWidth, fit, terminalSafe } from './text.js';
import { counted } from '../core/plural.js';

/** Options of the side-by-side renderers. */
export interface SideBySideOptions {
  /** Total columns available (e.g. `process.stdout.columns`). At least 40 is used. */
  width: number;
  /** ANSI colours on or off. */
  color: boolean;
}

type Paint = (s: string) => string;
interface Palette {
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
  magenta: Paint;
}

function palette(color: boolean): Palette {
  const id: Paint = (s) => s;
  if (!color) return { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id, magenta: id };
  const c = pc.createColors(true);
  return { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan, magenta: c.magenta };
}

/**
 * Renders a whole comparison (every file) as text lines joined with `\n`.
 * Without colour the output is plain text (stable, for tests and pipes).
 */
export function renderSideBySide(cmp: NwayComparison, opts: SideBySideOptions): string {
  const out: string[] = [];
  if (cmp.files.length === 0) return 'no attempt changed anything\n';
  for (const f of cmp.files) {
    out.push(...renderFile(f, opts));
    out.push('');
  }
  return out.join('\n');
}

/** Renders one file: its header line, then each hunk (see the module comment). */
export function renderFile(f: NwayFile, opts: SideBySideOptions): string[] {
  const c = palette(opts.color);
  const width = Math.max(40, Math.floor(opts.width));
  const out: string[] = [];
  const parts = f.attempts.map((a) => {
    const st = f.status[a];
    if (!st) return c.dim(`${a} —`);
    const s = f.stats[a]!;
    return f.kind === 'text' ? `${a} ${st} ${c.green(`+${s.insertions}`)} ${c.red(`−${s.deletions}`)}` : `${a} ${st}`;
  });
  const flags: string[] = [];
  if (f.only) flags.push(c.magenta(`only ${f.only}`));
  for (const g of f.groups) if (g.length > 1 && g.length === f.touchedBy.length && f.touchedBy.length === f.attempts.length) flags.push(c.magenta(`same in ${g.join(', ')}`));
  if (f.kind === 'binary') flags.push(c.yellow('binary'));
  if (f.kind === 'large') flags.push(c.yellow('too large to diff'));
  out.push(clip(`${c.bold(c.cyan(`━━ ${terminalSafe(f.path)}`))}  ${parts.join(c.dim(' · '))}${flags.length ? '  ' + flags.join('  ') : ''}`, width, opts.color));
  if (f.kind !== 'text') {
    out.push(...wholeFileSummary(f, c));
    return out;
  }
  const modeNote = modeChanges(f);
  if (modeNote) out.push(c.dim(modeNote));
  const nw = Math.max(3, String(maxLineNo(f)).length);
  for (const h of f.hunks) out.push(...renderHunk(h, width, nw, c, opts));
  if (f.gapAfter) out.push(c.dim(`${' '.repeat(nw)} ⋯`));
  return out;
}

function renderHunk(h: NwayHunk, width: number, nw: number, c: Palette, opts: SideBySideOptions): string[] {
  const out: string[] = [];
  const range = h.baseCount === 0 ? `before ${h.baseStart}` : h.baseCount === 1 ? `${h.baseStart}` : `${h.baseStart}–${h.baseStart + h.baseCount - 1}`;
  if (h.gapBefore) out.push(c.dim(`${' '.repeat(nw)} ⋯`));
  out.push(clip(`${c.cyan(`@@ base ${range}`)} · ${agreementLabel(h, c)}`, width, opts.color));
  for (const l of h.before) out.push(contextLine(l, width, nw, c));
  // Columns: the base, then one per distinct change.
  const cols = 1 + h.variants.length;
  const sep = c.dim(' │ ');
  const colW = Math.floor((width - 3 * (cols - 1)) / cols);
  const heads = [fit(' base', colW), ...h.variants.map((v) => fit(` ${v.attempts.join(', ')}`, colW))];
  out.push(heads.map((t, i) => (i === 0 ? c.dim(t) : c.bold(t))).join(sep));
  const columns: HLine[][] = [h.base, ...h.variants.map((v) => v.lines)];
  const rows = Math.max(1, ...columns.map((col) => col.length));
  for (let r = 0; r < rows; r++) {
    out.push(
      columns
        .map((col, i) => {
          // An empty side says what it is: nothing in the base (an insertion), or everything removed.
          if (r === 0 && col.length === 0) return c.dim(fit(i === 0 ? '   (nothing: inserted)' : '   (removed)', colW));
          return cell(col[r], colW, nw, i === 0, c);
        })
        .join(sep),
    );
  }
  for (const l of h.after) out.push(contextLine(l, width, nw, c));
  return out;
}

function agreementLabel(h: NwayHunk, c: Palette): string {
  const unchanged = h.unchanged.length ? c.dim(` · unchanged in ${h.unchanged.join(', ')}`) : '';
  switch (h.agreement) {
    case 'same':
      return c.green(`same in ${h.variants[0]!.attempts.join(', ')}`);
    case 'partial':
      return c.yellow('≠ ') + c.magenta(`same in ${h.variants[0]!.attempts.join(', ')}`) + unchanged;
    case 'only':
      return c.yellow('≠ ') + c.magenta(`only ${h.variants[0]!.attempts[0]}`) + unchanged;
    case 'differ':
      return c.yellow(`≠ differ: ${h.variants.map((v) => v.attempts.join(', ')).join(' | ')}`) + unchanged;
  }
}

function cell(l: HLine | undefined, w: number, nw: number, isBase: boolean, c: Palette): string {
  if (!l) return ' '.repeat(w);
  const sign = l.mark === 'add' ? '+' : l.mark === 'del' ? '-' : ' ';
  const text = terminalSafe(l.text) + (l.eol ? '' : ' ⌀');
  const body = fit(`${String(l.n).padStart(nw)} ${sign} ${text}`, w);
  if (l.mark === 'add') return c.green(body);
  if (l.mark === 'del') return c.red(body);
  return isBase ? c.dim(body) : body;
}

function contextLine(l: HLine, width: number, nw: number, c: Palette): string {
  const text = terminalSafe(l.text) + (l.eol ? '' : ' ⌀');
  return c.dim(String(l.n).padStart(nw)) + '   ' + fit(text, width - nw - 3).trimEnd();
}

function wholeFileSummary(f: NwayFile, c: Palette): string[] {
  const out: string[] = [];
  for (const g of f.groups) {
    const st = f.status[g[0]!];
    const what = st === 'D' ? 'deleted' : st === 'A' ? 'added' : 'changed';
    out.push(`   ${g.join(', ')}: ${what}${g.length > 1 ? c.magenta(` (same in ${g.join(', ')})`) : ''}`);
  }
  const untouched = f.attempts.filter((a) => !f.status[a]);
  if (untouched.length) out.push(c.dim(`   unchanged in ${untouched.join(', ')}`));
  return out;
}

function modeChanges(f: NwayFile): string | null {
  const notes: string[] = [];
  for (const a of f.touchedBy) {
    const m = f.modes.attempts[a];
    if (f.modes.base && m && m !== f.modes.base) notes.push(`${a}: mode ${f.modes.base} → ${m}`);
  }
  return notes.length ? `   ${notes.join('; ')}` : null;
}

function maxLineNo(f: NwayFile): number {
  let m = 1;
  for (const h of f.hunks) {
    for (const l of [...h.before, ...h.base, ...h.after]) m = Math.max(m, l.n);
    for (const v of h.variants) for (const l of v.lines) m = Math.max(m, l.n);
  }
  return m;
}

/** Cuts a line that may hold ANSI codes to `width` visible columns (codes kept, closed). */
function clip(line: string, width: number, color: boolean): string {
  // eslint-disable-next-line no-control-regex
  const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
  if (displayWidth(plain) <= width) return line;
  if (!color) return fit(plain, width).trimEnd();
  // Walk the string, counting only visible characters.
  let out = '';
  let used = 0;
  // eslint-disable-next-line no-control-regex
  const re = /(\x1b\[[0-9;]*m)|([\s\S])/gu;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[1]) {
      out += m[1];
      continue;
    }
    const w = displayWidth(m[2]!);
    if (used + w > width - 1) break;
    out += m[2];
    used += w;
  }
  return out + '…\x1b[0m';
}

/**
 * Loads the race and renders the named attempts (default all) side by side.
 * The first line names the race, its base and the attempts compared; attempts
 * without any snapshot are listed as left out.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`, `GIT_FAILED`.
 */
export async function renderRaceSideBySide(repo: Repo, race: RaceRecord, names: string[] | undefined, opts: SideBySideOptions): Promise<string> {
  const cmp = await loadRaceComparison(repo, race, names);
  const c = palette(opts.color);
  const head = [`${c.bold(`race ${race.id}`)} · base ${race.base.snapshot.slice(0, 10)} · ${cmp.attempts.join(', ') || 'no attempts'}`];
  if (cmp.missing.length) head.push(c.yellow(`left out (no snapshot yet): ${cmp.missing.join(', ')}`));
  if (cmp.disagreements.length) head.push(c.yellow(counted(cmp.disagreements.length, 'disagreement')));
  return head.join('\n') + '\n\n' + renderSideBySide(cmp, opts);
}

export { page, pagerCommand, shouldPage, type PageOptions } from './pager.js';
