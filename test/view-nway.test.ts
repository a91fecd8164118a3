/** The N-way comparison model (pure), and its loader on a real fake race. */
import { describe, expect, it } from 'vitest';
import { changedWords, compareFile, compareFiles, summarizeFile, type FileInput, type FileSide } from '../src/view/nway.js';
import { loadRaceComparison } from '../src/view/load.js';
import { makeFakeRace } from './support/fake-race.js';

let n = 0;
const side = (text: string | null, mode = '100644'): FileSide => ({ oid: `oid-${text === null ? `bin${n++}` : Buffer.from(text).toString('hex')}`, mode, text, size: text?.length ?? 10 });
const lines = (...l: string[]): string => l.map((x) => x + '\n').join('');
const BASE = lines('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');

function file(versions: Record<string, string | null | undefined>, base: string | null = BASE): FileInput {
  const v: FileInput['versions'] = {};
  for (const [k, t] of Object.entries(versions)) v[k] = t === undefined ? undefined : t === null ? null : side(t);
  return { path: 'f.txt', base: base === null ? null : side(base), versions: v };
}

describe('compareFile', () => {
  it('groups identical hunks and separates different ones', () => {
    const same = BASE.replace('b\n', 'B\n');
    const other = BASE.replace('b\n', 'bee\n');
    const f = compareFile(file({ claude: same, codex: same, gemini: other }), ['claude', 'codex', 'gemini']);
    expect(f.kind).toBe('text');
    expect(f.touchedBy).toEqual(['claude', 'codex', 'gemini']);
    expect(f.groups).toEqual([['claude', 'codex'], ['gemini']]);
    expect(f.hunks).toHaveLength(1);
    const h = f.hunks[0]!;
    expect(h.baseStart).toBe(2);
    expect(h.baseCount).toBe(1);
    expect(h.agreement).toBe('differ');
    expect(h.disagreement).toBe(true);
    expect(h.variants.map((v) => v.attempts)).toEqual([['claude', 'codex'], ['gemini']]);
    expect(h.variants[0]!.lines).toEqual([{ n: 2, text: 'B', eol: true, mark: 'add' }]);
    expect(h.base).toEqual([{ n: 2, text: 'b', eol: true, mark: 'del' }]);
    expect(h.before.map((l) => l.text)).toEqual(['a']);
    expect(h.after.map((l) => l.text)).toEqual(['c', 'd', 'e']);
    expect(h.gapBefore).toBe(false);
    expect(f.gapAfter).toBe(true);
    expect(f.disagreements).toEqual([0]);
    expect(f.stats.claude).toEqual({ insertions: 1, deletions: 1 });
  });

  it('marks the words that changed inside a replaced line, when the lines are alike', () => {
    expect(changedWords('  return a - b;', '  return a + b;')).toEqual([[11, 12]]);
    expect(changedWords('line three', 'line three, improved')).toEqual([[10, 20]]);
    expect(changedWords('const x = 1;', 'let y = [2, 3];')).toBeNull(); // too different: the whole line is new
    expect(changedWords('same', 'same')).toBeNull();
    const f = compareFile(file({ a: lines('one two four', 'new line', 'x') }, lines('one two three', 'x')), ['a']);
    const added = f.hunks.flatMap((h) => h.variants[0]!.lines).filter((l) => l.mark === 'add');
    expect(added.map((l) => [l.text, l.words ?? null])).toEqual([['one two four', [[8, 12]]], ['new line', null]]);
  });

  it('marks a hunk every attempt made identically as same, not a disagreement', () => {
    const same = BASE.replace('k\n', 'K\n');
    const f = compareFile(file({ a: same, b: same }), ['a', 'b']);
    expect(f.hunks.map((h) => [h.agreement, h.disagreement])).toEqual([['same', false]]);
    expect(f.groups).toEqual([['a', 'b']]);
    expect(f.disagree).toBe(false);
  });

  it('tells partial (some made it, others left it) and only (one made it)', () => {
    const one = BASE.replace('b\n', 'B\n');
    const both = one.replace('k\n', 'K\n');
    const f = compareFile(file({ a: both, b: both, c: one }), ['a', 'b', 'c']);
    expect(f.hunks.map((h) => h.agreement)).toEqual(['same', 'partial']);
    expect(f.hunks[1]!.unchanged).toEqual(['c']);
    expect(f.disagreements).toEqual([1]);
    const g = compareFile(file({ a: one, b: undefined }), ['a', 'b']);
    expect(g.only).toBe('a');
    expect(g.touchedBy).toEqual(['a']);
    expect(g.hunks[0]!.agreement).toBe('only');
    expect(g.hunks[0]!.disagreement).toBe(false); // a file one attempt touched is flagged as only, not as disagreements
  });

  it('merges overlapping changes of different attempts into one hunk, numbering each in its own file', () => {
    const a = BASE.replace('c\nd\ne\n', 'C\nD\nE\n'); // replaces lines 3–5
    const b = BASE.replace('a\n', 'x\ny\na\n').replace('d\n', 'dd\n'); // inserts 2 lines at the top, changes line 4
    const f = compareFile(file({ a, b }), ['a', 'b'], { context: 1 });
    expect(f.hunks.map((h) => [h.baseStart, h.baseCount, h.agreement])).toEqual([
      [1, 0, 'only'],
      [3, 3, 'differ'],
    ]);
    const h = f.hunks[1]!;
    expect(h.variants[0]!.lines.map((l) => `${l.n}${l.mark ?? ''}:${l.text}`)).toEqual(['3add:C', '4add:D', '5add:E']);
    expect(h.variants[1]!.lines.map((l) => `${l.n}${l.mark ?? ''}:${l.text}`)).toEqual(['5:c', '6add:dd', '7:e']);
    expect(h.base.map((l) => `${l.n}${l.mark ?? ''}`)).toEqual(['3del', '4del', '5del']);
    expect(h.before.map((l) => l.n)).toEqual([2]);
    expect(h.gapBefore).toBe(false); // the first hunk's context (line 1) runs into this one's (line 2)
  });

  it('treats a missing final newline as a change', () => {
    const f = compareFile(file({ a: BASE.slice(0, -1) }), ['a']);
    expect(f.hunks).toHaveLength(1);
    expect(f.hunks[0]!.variants[0]!.lines).toEqual([{ n: 12, text: 'l', eol: false, mark: 'add' }]);
  });

  it('handles added and deleted files, binary files and mode changes', () => {
    const added = compareFile(file({ a: 'new\n', b: 'new\n' }, null), ['a', 'b']);
    expect(added.status).toEqual({ a: 'A', b: 'A' });
    expect(added.hunks[0]!.agreement).toBe('same');
    expect(added.hunks[0]!.baseCount).toBe(0);
    const deleted = compareFile(file({ a: null }), ['a', 'b']);
    expect(deleted.status).toEqual({ a: 'D', b: null });
    expect(deleted.stats.a).toEqual({ insertions: 0, deletions: 12 });
    const bin: FileInput = { path: 'x.png', base: side(null), versions: { a: side(null), b: side(null) } };
    const fb = compareFile(bin, ['a', 'b']);
    expect(fb.kind).toBe('binary');
    expect(fb.hunks).toEqual([]);
    expect(fb.disagree).toBe(true);
    const exec: FileInput = { path: 'run.sh', base: side('x\n'), versions: { a: side('x\n', '100755') } };
    const fe = compareFile(exec, ['a']);
    expect(fe.status.a).toBe('M');
    expect(fe.modes).toEqual({ base: '100644', attempts: { a: '100755' } });
  });

  it('compares files past maxLines as a whole', () => {
    const big = Array.from({ length: 50 }, (_, i) => `l${i}\n`).join('');
    const f = compareFile(file({ a: big + 'more\n' }, big), ['a'], { maxLines: 10 });
    expect(f.kind).toBe('large');
    expect(f.hunks).toEqual([]);
  });

  it('lists disagreements across files in path order; summaries drop the lines', () => {
    const cmp = compareFiles(
      [
        { ...file({ a: BASE.replace('b\n', 'B\n'), b: BASE.replace('b\n', 'X\n') }), path: 'z.txt' },
        { ...file({ a: BASE.replace('b\n', 'B\n'), b: BASE.replace('b\n', 'B\n') }), path: 'm.txt' },
        { path: 'bin', base: side(null), versions: { a: side(null) , b: side(null) } },
      ],
      ['a', 'b'],
    );
    expect(cmp.files.map((f) => f.path)).toEqual(['bin', 'm.txt', 'z.txt']);
    expect(cmp.disagreements).toEqual([
      { path: 'bin', hunk: null },
      { path: 'z.txt', hunk: 0 },
    ]);
    const s = summarizeFile(cmp.files[2]!);
    expect(s).not.toHaveProperty('hunks');
    expect(s.hunkCount).toBe(1);
    expect(s.agreements).toEqual(['differ']);
  });

  it('never throws on odd inputs', () => {
    expect(compareFile({ path: 'e', base: null, versions: {} }, []).hunks).toEqual([]);
    expect(compareFile(file({ a: '' }), ['a']).stats.a).toEqual({ insertions: 0, deletions: 12 });
    expect(compareFile(file({ a: '\r\n\t\x1b[31m\n' }, ''), ['a']).hunks[0]!.variants[0]!.lines.map((l) => l.text)).toEqual(['\r', '\t\x1b[31m']);
  });
});

describe('loadRaceComparison', () => {
  it('compares the attempts of a race read from git', async () => {
    const { repo, race } = await makeFakeRace();
    const cmp = await loadRaceComparison(repo, race);
    expect(cmp.attempts).toEqual(['claude', 'codex', 'gemini']);
    expect(cmp.missing).toEqual([]);
    const by = Object.fromEntries(cmp.files.map((f) => [f.path, f]));
    expect(Object.keys(by).sort()).toEqual(['README.md', 'old.txt', 'src/extra.ts', 'src/math.ts', 'src/util.ts']);
    expect(by['README.md']!.groups).toEqual([['claude', 'codex', 'gemini']]);
    expect(by['README.md']!.hunks[0]!.agreement).toBe('same');
    expect(by['src/math.ts']!.hunks[0]!.agreement).toBe('differ');
    expect(by['src/math.ts']!.hunks[0]!.variants[0]!.attempts).toEqual(['claude', 'codex']);
    expect(by['src/math.ts']!.hunks[1]!.agreement).toBe('only');
    expect(by['src/util.ts']!.only).toBe('codex');
    expect(by['src/extra.ts']!.only).toBe('claude');
    expect(by['old.txt']!.status).toEqual({ claude: null, codex: null, gemini: 'D' });
    expect(cmp.disagreements).toEqual([
      { path: 'src/math.ts', hunk: 0 },
      { path: 'src/math.ts', hunk: 1 },
    ]);
  });
});
