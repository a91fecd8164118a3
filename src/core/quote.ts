/**
 * Quoting of names and texts for a terminal, in the style of git's
 * `core.quotePath` (git-config(1)): a name that holds a byte a terminal would
 * act on is printed between double quotes with that byte escaped (`\r`,
 * `\033`, octal for the rest), so a file named `zz\r\e[2K\e[1A  M README.md`
 * cannot overwrite or hide the lines printed before it.
 *
 * Escaped: the C0 controls and DEL, the C1 controls (U+0080–U+009F: U+009B is
 * a one-character CSI on some terminals), and the invisible characters that
 * reorder or hide text (bidi embeddings, overrides and isolates, zero-width
 * characters, the line and paragraph separators, U+FEFF, lone surrogates).
 * Printable Unicode (`café.txt`) is left as it is, unlike git's default,
 * which escapes every byte above 0x7f.
 */

const C_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r' };

// C0, DEL, C1; zero-width and direction marks; line/paragraph separators and bidi
// embeddings/overrides; word joiner and invisible operators; bidi isolates; BOM; lone surrogates.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
const UNSAFE_G = new RegExp(UNSAFE.source, 'gu');
const UNSAFE_TEXT_G = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

function octal(ch: string): string {
  // Lone surrogates have no UTF-8 form; print them as U+FFFD would be encoded.
  const bytes = Buffer.from(ch, 'utf8');
  return [...bytes].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('');
}

function escapeChar(ch: string): string {
  return C_ESCAPES[ch] ?? octal(ch);
}

/** What is being quoted: a name (path, attempt, branch) or a free text (task, message, agent output). */
export type QuoteKind = 'path' | 'text';

/**
 * Makes `value` safe to print on a terminal.
 *
 * - `'path'` (default; also attempt names, branches, refs): returned as is
 *   when it needs no quoting; otherwise between double quotes, with `"` and
 *   `\` backslash-escaped and every unsafe character escaped as `\r`, `\t`,
 *   `\n`, … or as the octal of its UTF-8 bytes (`\033`), as git quotes paths.
 * - `'text'` (tasks, error messages, agent output lines): newlines and tabs
 *   are kept, every other unsafe character is escaped the same way, and no
 *   quotes are added.
 */
export function quote(value: string, kind: QuoteKind = 'path'): string {
  if (kind === 'text') return value.replace(UNSAFE_TEXT_G, escapeChar);
  if (!UNSAFE.test(value) && !value.includes('"') && !value.includes('\\')) return value;
  // Escape the characters first (their escapes hold backslashes that must stay single).
  let out = '';
  for (const ch of value) {
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (UNSAFE_G.test(ch)) out += escapeChar(ch);
    else out += ch;
    UNSAFE_G.lastIndex = 0;
  }
  return `"${out}"`;
}

/** True when `value` holds a character {@link quote} would escape. */
export function needsQuoting(value: string): boolean {
  return UNSAFE.test(value);
}
