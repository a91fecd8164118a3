/** The side-by-side terminal renderer at fixed widths, with and without colour, and the pager helper. */
import { describe, expect, it } from 'vitest';
import { compareFiles, type FileInput, type FileSide } from '../src/view/nway.js';
import { renderRaceSideBySide, renderSideBySide } from '../src/view/terminal.js';
import { pagerCommand, shouldPage } from '../src/view/pager.js';
import { displayWidth, fit, terminalSafe } from '../src/view/text.js';
import { makeFakeRace } from './support/fake-race.js';

const side = (text: string): FileSide => ({ oid: Buffer.from(text).toString('hex').slice(0, 40) + text.length, mode: '100644', text, size: text.length });
const BASE = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';
const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
const trimmed = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');

function sample(): FileInput[] {
  const same = BASE.replace('two\n', 'TWO\n');
  return [
    {
      path: 'a.txt',
      base: side(BASE),
      versions: { claude: side(same.replace('nine\n', 'nine!\n')), codex: side(same), gemini: side(BASE.replace('two\n', '2\n')) },
    },
    { path: 'new.txt', base: null, versions: { codex: side('hello\n') } },
  ];
}

describe('renderSideBySide', () => {
  it('renders columns fitted to 72 columns without colour', () => {
    const out = renderSideBySide(compareFiles(sample(), ['claude', 'codex', 'gemini'], { context: 1 }), { width: 72, color: false });
    expect(out).not.toMatch(/\x1b/);
    for (const line of out.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(72);
    expect(trimmed(out)).toBe(
      [
        '━━ a.txt  claude M +2 −2 · codex M +1 −1 · gemini M +1 −1',
        '@@ base 2 · ≠ differ: claude, codex | gemini',
        '  1   one',
        ' base                  │  claude, codex         │  gemini',
        '  2 - two              │   2 + TWO              │   2 + 2',
        '  3   three',
        '    ⋯',
        '@@ base 9 · ≠ only claude · unchanged in codex, gemini',
        '  8   eight',
        ' base                              │  claude',
        '  9 - nine                         │   9 + nine!',
        ' 10   ten',
        '',
        '━━ new.txt  claude — · codex A +1 −0 · gemini —  only codex',
        '@@ base before 1 · ≠ only codex · unchanged in claude, gemini',
        ' base                              │  codex',
        '   (nothing: inserted)             │   1 + hello',
        '',
      ].join('\n'),
    );
  });

  it('narrows the columns and cuts long lines with … at 40 columns', () => {
    const out = renderSideBySide(compareFiles(sample(), ['claude', 'codex', 'gemini'], { context: 0 }), { width: 40, color: false });
    for (const line of out.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(40);
    expect(out).toContain('…');
  });

  it('colours the same layout: stripped of ANSI codes it equals the plain output', () => {
    const cmp = compareFiles(sample(), ['claude', 'codex', 'gemini'], { context: 1 });
    const plain = renderSideBySide(cmp, { width: 100, color: false });
    const colored = renderSideBySide(cmp, { width: 100, color: true });
    expect(colored).toMatch(/\x1b\[32m {2}2 \+ TWO/); // additions green
    expect(colored).toMatch(/\x1b\[31m {2}2 - two/); // removals red
    expect(strip(colored)).toBe(plain);
    for (const line of strip(colored).split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(100);
  });

  it('keeps file contents from driving the terminal', () => {
    const evil: FileInput = { path: 'x\x1b[2J.txt', base: side('a\n'), versions: { claude: side('a\x1b]0;pwned\x07\n') } };
    const out = renderSideBySide(compareFiles([evil], ['claude']), { width: 80, color: true });
    expect(strip(out)).not.toMatch(/\x1b/);
    expect(out).toContain('␛]0;pwned\\x07');
    expect(terminalSafe('\tx\r\n')).toBe('    x');
  });

  it('fits wide characters by display width', () => {
    expect(fit('日本語テキスト', 7)).toBe('日本語…');
    expect(displayWidth(fit('日本語テキスト', 7))).toBe(7);
    expect(fit('ab', 4)).toBe('ab  ');
  });

  it('renders a race read from git', async () => {
    const { repo, race } = await makeFakeRace();
    const out = await renderRaceSideBySide(repo, race, [], { width: 120, color: false });
    expect(out.split('\n')[0]).toBe(`race r1 · base ${race.base.snapshot.slice(0, 10)} · claude, codex, gemini`);
    expect(out).toContain('@@ base 3 · same in claude, codex, gemini');
    expect(out).toContain('≠ differ: claude, codex | gemini');
    expect(out).toContain('━━ src/util.ts  claude — · codex M +1 −0 · gemini —  only codex');
    const two = await renderRaceSideBySide(repo, race, ['claude', 'codex'], { width: 120, color: false });
    expect(two).toContain('@@ base 2 · same in claude, codex');
    expect(two).not.toContain('gemini');
  });
});

describe('pager', () => {
  it('pages only a terminal, only when the text is taller than the screen', () => {
    const long = 'x\n'.repeat(50);
    expect(shouldPage(long, { isTTY: true, rows: 40 })).toBe(true);
    expect(shouldPage('x\n'.repeat(10), { isTTY: true, rows: 40 })).toBe(false);
    expect(shouldPage(long, { isTTY: false, rows: 40 })).toBe(false);
  });

  it('runs $PAGER without a shell, less -R by default', () => {
    expect(pagerCommand({})).toEqual(['less', '-R']);
    expect(pagerCommand({ PAGER: 'most -s' })).toEqual(['most', '-s']);
    expect(pagerCommand({ PAGER: '' })).toBeNull();
    expect(pagerCommand({ PAGER: 'cat' })).toBeNull();
  });
});
