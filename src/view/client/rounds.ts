/**
 * An attempt's rounds and reviews as the race page shows them: the timeline's
 * steps grouped by their `Round` trailer (docs/snapshot-format.md), each
 * group headed by that round's check result and the reviews of that round
 * (`race … --rounds N --review-by B`), the summary's rounds and review
 * cells, and the judge's ranking beside ckpt's own.
 */
import type { Step } from '../../core/types.js';
import type { Attempt, CheckResult, RaceRecord, ReviewRecord } from '../../race/types.js';
import { h } from './dom.js';

/** Consecutive steps of one round (newest first, as the timeline lists them); `round` null for steps that carry no `Round` trailer. */
export interface RoundGroup {
  round: number | null;
  steps: Step[];
}

/** The round a step was taken in (its `Round` trailer), or null. */
export function stepRound(s: Step): number | null {
  const r = s.extra?.Round;
  return r && /^[1-9][0-9]*$/.test(r) ? Number(r) : null;
}

/** `steps` cut into runs of the same round, in their order. */
export function groupByRound(steps: Step[]): RoundGroup[] {
  const out: RoundGroup[] = [];
  for (const s of steps) {
    const round = stepRound(s);
    const last = out[out.length - 1];
    if (last && last.round === round) last.steps.push(s);
    else out.push({ round, steps: [s] });
  }
  return out;
}

/** A check's badge: `passed`, `failed (1)`, `timed out`, with its command and output tail as the tooltip. */
export function checkBadge(c: CheckResult | null | undefined): HTMLSpanElement {
  if (!c) return h('span', { class: 'badge', text: 'no check' });
  return h('span', { class: 'badge check ' + (c.passed ? 'ok' : 'bad'), title: c.command + '\n' + c.tail, text: c.passed ? 'check passed' : c.timedOut ? 'check timed out' : 'check failed (' + c.exitCode + ')' });
}

/** A review's badge: its verdict (or its error), its notes as the tooltip. */
export function reviewBadge(r: ReviewRecord): HTMLSpanElement {
  const what = r.verdict === 'approve' ? 'approved' : r.verdict === 'request-changes' ? 'changes requested' : r.state === 'done' ? 'no verdict' : 'review ' + r.state;
  const cls = r.verdict === 'approve' ? 'ok' : r.verdict === 'request-changes' ? 'warn' : 'bad';
  return h('span', { class: 'badge review ' + cls, 'data-verdict': r.verdict ?? '', title: (r.notes || r.error || '').slice(0, 2000), text: what + ' by ' + r.by + (r.model ? '@' + r.model : '') });
}

/** The reviews of attempt `name`, oldest first. */
export function reviewsOf(race: RaceRecord, name: string): ReviewRecord[] {
  return (race.reviews ?? []).filter((r) => r.attempt === name);
}

/** The heading of one round's group in the timeline: `Round K of N`, its check, its reviews. */
export function roundHeading(g: RoundGroup, a: Attempt | null, race: RaceRecord | null): HTMLDivElement {
  if (g.round === null) return h('div', { class: 'roundhead', 'data-round': '' }, h('b', { text: 'Outside any round' }), h('span', { class: 'meta', text: ' (taken after the race, or by an older ckpt)' }));
  const rec = a?.rounds?.find((r) => r.round === g.round) ?? null;
  const total = race?.rounds ?? a?.rounds?.length ?? null;
  const reviews = race && a ? reviewsOf(race, a.name).filter((r) => r.round === g.round) : [];
  return h(
    'div',
    { class: 'roundhead', 'data-round': String(g.round) },
    h('b', { text: 'Round ' + g.round + (total ? ' of ' + total : '') }),
    rec ? h('span', { class: 'meta', text: ' · ' + rec.how + (rec.feedbackBytes ? ' · given ' + rec.feedbackBytes + ' bytes of ' + (rec.feedbackFrom === 'review' ? 'the review’s notes' : rec.feedbackFrom === 'check' ? 'the check’s output' : 'feedback') : '') + ' · agent ' + rec.state }) : null,
    ' ',
    rec ? checkBadge(rec.check) : null,
    reviews.map((r) => [' ', reviewBadge(r)]),
  );
}

/** The summary's rounds cell: `2: fail pass` (each round's check), `—` for one round without a check. */
export function roundsCell(a: Attempt): HTMLTableCellElement {
  const rounds = a.rounds ?? [];
  if (rounds.length === 0) return h('td', { class: 'rounds', text: '—' });
  return h(
    'td',
    { class: 'rounds' },
    String(rounds.length) + ':',
    rounds.map((r) => [' ', h('span', { class: 'st ' + (r.check ? (r.check.passed ? 'A' : 'D') : 'none'), title: 'round ' + r.round + ' (' + r.how + '): agent ' + r.state + (r.check ? ', check ' + (r.check.passed ? 'passed' : 'failed') : ''), text: r.check ? (r.check.passed ? 'pass' : 'fail') : r.state })]),
  );
}

/** The summary's review cell: every review of the attempt, oldest first. */
export function reviewsCell(race: RaceRecord, a: Attempt): HTMLTableCellElement {
  const rs = reviewsOf(race, a.name);
  if (rs.length === 0) return h('td', { class: 'reviews', text: '—' });
  return h('td', { class: 'reviews' }, rs.map((r, i) => [i ? ' ' : '', reviewBadge(r)]));
}

/** The judge's ranking beside ckpt's own (`race … --judge`), or null when none was asked. */
export function judgeLine(race: RaceRecord): HTMLDivElement | null {
  const j = race.judge;
  if (!j) return null;
  const who = j.by + (j.model ? '@' + j.model : '');
  if (j.ranking.length === 0) return h('div', { class: 'judge meta', id: 'judge' }, 'judge ' + who + ': no ranking (' + (j.error || j.state) + ')');
  return h(
    'div',
    { class: 'judge', id: 'judge' },
    h('b', { text: 'judge ' + who + ':' }),
    j.ranking.map((e, i) => [' ', h('span', { class: 'judged', 'data-attempt': e.attempt, title: e.reason, text: i + 1 + '. ' + e.attempt })]),
    h('span', { class: 'meta', text: ' (beside ckpt’s score; best stays ' + (race.best ?? '—') + ')' }),
  );
}
