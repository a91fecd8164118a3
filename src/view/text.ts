/**
 * Text helpers shared by the terminal and web views: telling binary from
 * text, splitting into lines (keeping whether the last one ends in a
 * newline), and making agent-written text safe and measurable for a terminal.
 */
import stringWidth from 'string-width';

/** Bytes git would call binary: a NUL in the first 8000 bytes (git's own heuristic). */
export function isBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8000);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/**
 * Splits text into lines, each keeping its `\n` (so a last line without one
 * differs from the same line with one). `''` → `[]`.
 */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/**
 * Makes one line safe to print on a terminal: tabs expanded to `tab` columns,
 * a trailing `\r\n`/`\n` dropped, and every other control character
 * (escape sequences an agent wrote into a file included) shown as a visible
 * symbol (`␛`, `␍`, or `\xNN`), so file contents can never drive the terminal.
 */
export function terminalSafe(line: string, tab = 4): string {
  let s = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (s.endsWith('\r')) s = s.slice(0, -1);
  let out = '';
  let col = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\t') {
      const n = tab - (col % tab);
      out += ' '.repeat(n);
      col += n;
      continue;
    }
    let shown = ch;
    if (cp === 0x1b) shown = '␛';
    else if (cp === 0x0d) shown = '␍';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) shown = `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0x2028 || cp === 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) shown = `\\u${cp.toString(16)}`; // line separators, bidi overrides
    out += shown;
    col += shown === ch ? stringWidth(ch) : shown.length;
  }
  return out;
}

/** Columns `text` takes on a terminal (no ANSI codes expected). */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Cuts `text` (plain, no ANSI) to at most `width` columns, ending in `…` when
 * cut, and pads it with spaces to exactly `width` columns.
 */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const w = stringWidth(text);
  if (w <= width) return text + ' '.repeat(width - w);
  let out = '';
  let used = 0;
  for (const { segment } of segmenter.segment(text)) {
    const sw = stringWidth(segment);
    if (used + sw > width - 1) break;
    out += segment;
    used += sw;
  }
  return out + '…' + ' '.repeat(Math.max(0, width - 1 - used));
}
