/** Badges and labels: an attempt's status letter, a file's agreement badges, a hunk's range and agreement. */
import type { FileStatus, NwayFileSummary, NwayHunk } from '../nway.js';
import { h } from './dom.js';

const STATUS_WORDS: Record<FileStatus, string> = { A: 'added', D: 'deleted', M: 'modified', T: 'type changed' };

/** The fields of a file that its labels read (a summary or a full file). */
type Labelled = Pick<NwayFileSummary, 'attempts' | 'status' | 'only' | 'groups' | 'disagreements' | 'disagree' | 'kind'>;

/** `claude M` per visible attempt, `—` where it left the file alone. */
export function statusBadges(f: Labelled, visible: ReadonlySet<string>): HTMLSpanElement[] {
  return f.attempts
    .filter((a) => visible.has(a))
    .map((a) => {
      const st = f.status[a] ?? null;
      return h('span', { class: 'st ' + (st || 'none'), title: a + ': ' + (st ? STATUS_WORDS[st] : 'unchanged'), text: a + ' ' + (st || '—') });
    });
}

/** `only codex`, `same in …`, `N disagreements`, `binary`, `too large to diff`. */
export function fileBadges(f: Labelled): HTMLSpanElement[] {
  const out: HTMLSpanElement[] = [];
  if (f.only) out.push(h('span', { class: 'badge only', text: 'only ' + f.only }));
  for (const g of f.groups) if (g.length > 1) out.push(h('span', { class: 'badge same', text: 'same in ' + g.join(', ') }));
  if (f.disagreements.length) out.push(h('span', { class: 'badge differ', text: f.disagreements.length + (f.disagreements.length === 1 ? ' disagreement' : ' disagreements') }));
  else if (f.disagree) out.push(h('span', { class: 'badge differ', text: 'attempts differ' }));
  if (f.kind === 'binary') out.push(h('span', { class: 'badge', text: 'binary' }));
  if (f.kind === 'large') out.push(h('span', { class: 'badge', text: 'too large to diff' }));
  return out;
}

/** A hunk's header: its base range and, unless `single` (one side only: a step's own changes), how the attempts agree. */
export function hunkLabel(hk: NwayHunk, single: boolean): Array<string | HTMLSpanElement> {
  const range = hk.baseCount === 0 ? 'inserted before line ' + hk.baseStart : hk.baseCount === 1 ? 'base line ' + hk.baseStart : 'base lines ' + hk.baseStart + '–' + (hk.baseStart + hk.baseCount - 1);
  const out: Array<string | HTMLSpanElement> = [range, ' '];
  if (single) return out;
  const first = hk.variants[0]?.attempts ?? [];
  if (hk.agreement === 'same' || hk.agreement === 'partial') out.push(h('span', { class: 'badge same', text: 'same in ' + first.join(', ') }));
  else if (hk.agreement === 'only') out.push(h('span', { class: 'badge only', text: 'only ' + (first[0] ?? '') }));
  else out.push(h('span', { class: 'badge differ', text: 'differ: ' + hk.variants.map((v) => v.attempts.join(', ')).join(' | ') }));
  if (hk.unchanged.length) out.push(' ', h('span', { class: 'meta', text: 'unchanged in ' + hk.unchanged.join(', ') }));
  return out;
}
