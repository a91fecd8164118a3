/**
 * The race page: a header (task, attempt filters, keys, theme), the summary
 * table, the overview, then file by file the grid of base and attempts. A
 * running race's record is refreshed every 5 s (live server only).
 */
import type { RaceRecord } from '../../race/types.js';
import { agentsStrip } from './agents.js';
import { append, h, note } from './dom.js';
import { buildFiles, setVisible } from './files.js';
import type { KeyMap } from './keys.js';
import { goDisagreement, goFile } from './navigation.js';
import { confirmPick } from './pick.js';
import type { RaceView } from './state.js';
import { renderOverview, renderSummary, type SummaryActions } from './summary.js';
import { toggleTheme } from './theme.js';
import { closePanel, openTimeline } from './timeline.js';

/** How often a running race's record is fetched again, in ms. */
const REFRESH_MS = 5000;

function keysHelp(): HTMLSpanElement {
  const kb = (k: string): HTMLElement => h('kbd', { text: k });
  return h('span', { class: 'keys' }, kb('j'), '/', kb('k'), ' file · ', kb('d'), '/', kb('D'), ' disagreement · ', kb('t'), ' theme');
}

/** Draws the race page into `app`; returns its keys. */
export function renderRace(view: RaceView, app: HTMLElement): KeyMap {
  const { boot } = view.ctx;
  const refresh = async (): Promise<void> => {
    try {
      view.race = await view.ctx.api<RaceRecord>('/api/race');
      renderSummary(view, actions);
    } catch {
      /* keep the last one */
    }
  };
  const actions: SummaryActions = {
    timeline: (name) => void openTimeline(view.ctx, name, view.race),
    pick: (name) => confirmPick(view, name, refresh),
  };

  app.textContent = '';
  const race = view.race;
  const filters = h(
    'span',
    { class: 'filter' },
    'show: ',
    view.index.attempts.map((a) =>
      h(
        'label',
        null,
        h('input', {
          type: 'checkbox',
          checked: true,
          'data-attempt': a,
          onchange: (e: Event) => {
            setVisible(view, a, e.target instanceof HTMLInputElement && e.target.checked);
            renderSummary(view, actions);
          },
        }),
        ' ' + a,
      ),
    ),
  );
  const header = h(
    'header',
    { class: 'top' },
    h('h1', { text: 'ckpt race ' + race.id }),
    filters,
    h('span', { class: 'spacer' }),
    keysHelp(),
    h('button', { id: 'theme', title: 'toggle theme (t)', onclick: toggleTheme, text: '◐ theme' }),
  );
  const nav = h('nav', { class: 'files', id: 'filelist' });
  const main = h('main', { id: 'main' });
  app.append(header, agentsStrip(view.ctx, race.id) ?? '', h('div', { class: 'layout' }, nav, main));
  append(main, [
    h('div', { class: 'task', id: 'task', text: race.task }),
    h('div', { class: 'meta', text: 'base ' + race.base.snapshot.slice(0, 10) + (race.base.head ? ' (HEAD ' + race.base.head.slice(0, 10) + ')' : '') + ' · ' + race.state + (race.check ? ' · check: ' + race.check : '') + ' · worktree ' + race.worktree }),
    boot.static ? note('Static report: picking and browsing checkpoints need `race view`.', 'notice') : null,
    h('div', { id: 'summary' }),
    h('div', { id: 'pick-result' }),
    h('div', { id: 'overview' }),
  ]);
  renderSummary(view, actions);
  renderOverview(view);
  const files = h('div', { id: 'files' });
  main.append(files);
  buildFiles(view, files, nav, (i) => goFile(view, i));
  if (!boot.static && race.state === 'running') window.setInterval(() => void refresh(), REFRESH_MS);

  return {
    j: () => goFile(view, view.current + 1),
    n: () => goFile(view, view.current + 1),
    k: () => goFile(view, view.current - 1),
    p: () => goFile(view, view.current - 1),
    d: () => void goDisagreement(view, 1),
    D: () => void goDisagreement(view, -1),
    t: toggleTheme,
    Escape: closePanel,
  };
}
