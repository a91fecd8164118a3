/** The race page's summary table (one row per attempt, with its timeline and pick buttons) and the comparison overview line. */
import type { Attempt } from '../../race/types.js';
import { counted } from '../../core/plural.js';
import { byId, h, note } from './dom.js';
import { fmtDuration, fmtTokens } from './format.js';
import { judgeLine, reviewsCell, roundsCell } from './rounds.js';
import type { RaceView } from './state.js';

/** What the summary's buttons do. */
export interface SummaryActions {
  timeline(attempt: string): void;
  pick(attempt: string): void;
}

const HEADS = ['attempt', 'agent', 'state', 'time', 'check', 'rounds', 'review', 'files', '+/−', 'tokens', 'cost', 'steps', ''];

function checkCell(a: Attempt): HTMLTableCellElement {
  const c = a.check;
  if (!c) return h('td', null, '—');
  return h('td', null, h('span', { class: 'badge ' + (c.passed ? 'ok' : 'bad'), title: c.command + '\n' + c.tail, text: c.passed ? 'passed' : c.timedOut ? 'timed out' : 'failed (' + c.exitCode + ')' }));
}

function row(view: RaceView, a: Attempt, actions: SummaryActions): HTMLTableRowElement {
  const { race, index, visible } = view;
  const isStatic = view.ctx.boot.static;
  const compared = index.attempts.includes(a.name);
  const picked = race.picked !== null && race.picked.attempt === a.name;
  return h(
    'tr',
    { class: compared && !visible.has(a.name) ? 'hidden-attempt' : '', 'data-attempt': a.name },
    h('td', null, h('b', { text: a.name }), race.best === a.name ? [' ', h('span', { class: 'badge best', text: 'best' })] : null, picked ? [' ', h('span', { class: 'badge ok', text: 'picked' })] : null),
    h('td', { text: a.agent + (a.model ? ' · ' + a.model : '') }),
    h('td', { text: a.state + (a.error ? ': ' + a.error : ''), title: a.resultText || '' }),
    h('td', { class: 'num', text: fmtDuration(a.durationMs) }),
    checkCell(a),
    roundsCell(a),
    reviewsCell(race, a),
    h('td', { class: 'num', text: String(a.files) }),
    h('td', { class: 'num' }, h('span', { class: 'st A', text: '+' + a.insertions }), ' ', h('span', { class: 'st D', text: '−' + a.deletions })),
    h('td', { class: 'num', text: fmtTokens(a.tokens) }),
    h('td', { class: 'num', text: a.costUsd === null || a.costUsd === undefined ? '—' : '$' + a.costUsd.toFixed(2) }),
    h('td', { class: 'num', text: String(a.steps) }),
    h(
      'td',
      null,
      h('button', { class: 'timeline', 'data-attempt': a.name, onclick: () => actions.timeline(a.name), text: 'timeline' }),
      ' ',
      h('button', {
        class: 'pick',
        'data-attempt': a.name,
        disabled: isStatic || !compared,
        title: isStatic ? 'a static report cannot pick: use `race view`' : compared ? 'apply ' + a.name + "'s changes to your worktree" : 'no snapshot to pick',
        onclick: () => actions.pick(a.name),
        text: 'pick',
      }),
    ),
  );
}

/** (Re)draws the summary table into `#summary` from the view's race record. */
export function renderSummary(view: RaceView, actions: SummaryActions): void {
  const box = byId('summary');
  if (!box) return;
  const rows = view.race.attempts.map((a) => row(view, a, actions));
  box.replaceChildren(h('table', { class: 'summary', id: 'summary-table' }, h('thead', null, h('tr', null, HEADS.map((x) => h('th', { text: x })))), h('tbody', null, rows)), judgeLine(view.race) ?? '');
}

/** Draws the overview line (files, disagreements, files one attempt touched) and the attempts left out into `#overview`. */
export function renderOverview(view: RaceView): void {
  const idx = view.index;
  const only = idx.files.filter((f) => f.only).length;
  byId('overview')?.replaceChildren(
    h('div', { class: 'meta', id: 'overview-text' }, counted(idx.files.length, 'file') + ' changed · ' + counted(idx.disagreements.length, 'disagreement') + ' · ' + counted(only, 'file') + ' only one attempt touched', h('span', { id: 'navstatus' })),
    ...(idx.missing.length ? [note('Left out (no snapshot yet): ' + idx.missing.join(', '), 'notice')] : []),
  );
}
