/** Code lines: a line number and the text, highlighted by highlight.js when the page has it and knows the language. */
import type { HLine } from '../nway.js';
import { h } from './dom.js';
import { markWords } from './words.js';

/** The part of highlight.js's browser build (`window.hljs`) the page uses. */
interface Highlighter {
  getLanguage(name: string): unknown;
  highlight(code: string, options: { language: string; ignoreIllegals: boolean }): { value: string };
}

declare global {
  interface Window {
    /** Set by highlight.js's script, which the page loads before this one; absent if it was missing. */
    hljs?: Highlighter;
  }
}

const SPECIAL: Record<string, string> = { Makefile: 'makefile', Dockerfile: 'dockerfile', 'CMakeLists.txt': 'cmake' };
const BY_EXTENSION: Record<string, string> = { mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', mts: 'typescript', cts: 'typescript', tsx: 'typescript', yml: 'yaml', h: 'c', hpp: 'cpp', cc: 'cpp', txt: 'plaintext' };

/** highlight.js's language for `path` (by name, then extension), or null. */
export function langOf(path: string): string | null {
  const hl = window.hljs;
  if (!hl) return null;
  const base = path.split('/').pop() || '';
  let name = SPECIAL[base];
  if (!name) {
    const dot = base.lastIndexOf('.');
    if (dot < 0) return null;
    const ext = base.slice(dot + 1).toLowerCase();
    name = BY_EXTENSION[ext] || ext;
  }
  return hl.getLanguage(name) ? name : null;
}

/** The text of a line in a `<span class="c">`, highlighted when `lang` is set and the line is under 3000 characters. */
export function codeSpan(text: string, lang: string | null): HTMLSpanElement {
  const span = h('span', { class: 'c' });
  const hl = window.hljs;
  if (hl && lang && text.length < 3000) {
    try {
      span.innerHTML = hl.highlight(text, { language: lang, ignoreIllegals: true }).value; // escaped by highlight.js
      return span;
    } catch {
      /* fall back to plain text */
    }
  }
  span.textContent = text;
  return span;
}

/** One display line: number, code, word marks, and the "no newline at end of file" mark. */
export function lineEl(l: HLine, lang: string | null): HTMLDivElement {
  const code = codeSpan(l.text, lang);
  if (l.words && l.words.length) markWords(code, l.words);
  if (!l.eol) code.append(h('span', { class: 'eol', text: ' ⌀ no newline at end of file' }));
  return h('div', { class: 'l' + (l.mark ? ' ' + l.mark : '') }, h('span', { class: 'n', text: String(l.n) }), code);
}
