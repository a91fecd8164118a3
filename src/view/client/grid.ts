/**
 * One file as a grid: the base and each shown attempt as columns, hunk by
 * hunk, with shared context rows between them; adjacent attempts that made
 * the same change share one cell ("same in claude, codex"). Binary and
 * too-large files are described as a whole.
 */
import type { NwayFile, NwayHunk, Variant } from '../nway.js';
import { h, note, type Kid } from './dom.js';
import { langOf, lineEl } from './code.js';
import { hunkLabel } from './labels.js';

function variantOf(hk: NwayHunk, a: string): Variant | null {
  return hk.variants.find((v) => v.attempts.includes(a)) ?? null;
}

function wholeFile(f: NwayFile, atts: string[]): HTMLDivElement {
  const box = h('div', { class: 'whole' });
  for (const g of f.groups) {
    const vis = g.filter((a) => atts.includes(a));
    const first = vis[0];
    if (first === undefined) continue;
    const st = f.status[first];
    box.append(h('div', null, vis.join(', ') + ': ' + (st === 'D' ? 'deleted' : st === 'A' ? 'added' : 'changed'), vis.length > 1 ? [' ', h('span', { class: 'badge same', text: 'same in ' + vis.join(', ') })] : null));
  }
  const untouched = atts.filter((a) => !f.status[a]);
  if (untouched.length) box.append(note('unchanged in ' + untouched.join(', ')));
  return box;
}

/** The hunk's row of cells: the base, then runs of attempts that share a variant. */
function hunkRow(hk: NwayHunk, atts: string[], lang: string | null): HTMLTableRowElement {
  const row = h('tr', { class: 'hb' });
  row.append(h('td', { class: 'basecell' }, hk.base.length ? hk.base.map((l) => lineEl(l, lang)) : note('(nothing in the base: inserted)')));
  let k = 0;
  while (k < atts.length) {
    const v = variantOf(hk, atts[k]!);
    let span = 1;
    while (k + span < atts.length && variantOf(hk, atts[k + span]!) === v) span++;
    const members = atts.slice(k, k + span);
    const cell = h('td', { colSpan: span, class: 'acell', 'data-attempts': members.join(',') });
    if (!v) cell.append(note('unchanged'));
    else {
      const group = v.attempts.filter((a) => atts.includes(a));
      if (group.length > 1) cell.append(h('div', { class: 'cellhead' }, h('span', { class: 'badge same', text: 'same in ' + group.join(', ') })));
      if (!v.lines.length) cell.append(note('(removed)'));
      for (const l of v.lines) cell.append(lineEl(l, lang));
    }
    row.append(cell);
    k += span;
  }
  return row;
}

/**
 * The body of file `f` for the attempts in `shown` (in the file's attempt
 * order); hunk header rows get the id `${idPrefix}-${hunk index}`.
 */
export function renderFileBody(f: NwayFile, shown: readonly string[], idPrefix: string): HTMLElement {
  const atts = f.attempts.filter((a) => shown.includes(a));
  if (f.kind !== 'text') return wholeFile(f, atts);
  const lang = langOf(f.path);
  const ncol = 1 + atts.length;
  const table = h('table', { class: 'grid' });
  table.append(
    h('thead', null, h('tr', null, h('th', { text: 'base' }), atts.map((a) => h('th', { 'data-attempt': a }, a + ' ', h('span', { class: 'st ' + (f.status[a] || 'none'), text: f.status[a] || '—' }))))),
  );
  const tb = h('tbody');
  table.append(tb);
  const full = (cls: string, ...kids: Kid[]): HTMLTableRowElement => h('tr', { class: cls }, h('td', { colSpan: ncol }, ...kids));
  const baseMode = f.modes.base;
  const modeNotes = f.touchedBy
    .filter((a) => atts.includes(a) && baseMode && f.modes.attempts[a] && f.modes.attempts[a] !== baseMode)
    .map((a) => a + ': mode ' + baseMode + ' → ' + f.modes.attempts[a]);
  if (modeNotes.length) tb.append(full('hh', modeNotes.join('; ')));
  for (const hk of f.hunks) {
    if (hk.gapBefore) tb.append(full('gap', '⋯'));
    for (const l of hk.before) tb.append(full('ctx', lineEl(l, lang)));
    tb.append(h('tr', { class: 'hh' + (hk.disagreement ? ' dis' : ''), id: idPrefix + '-' + hk.index, 'data-hunk': hk.index, 'data-agreement': hk.agreement }, h('td', { colSpan: ncol }, hunkLabel(hk, f.attempts.length === 1))));
    tb.append(hunkRow(hk, atts, lang));
    for (const l of hk.after) tb.append(full('ctx', lineEl(l, lang)));
  }
  if (f.gapAfter) tb.append(full('gap', '⋯'));
  if (!f.hunks.length) tb.append(full('ctx', note('no line changes')));
  return table;
}
