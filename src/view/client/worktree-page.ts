/**
 * The worktree page (`ckpt view`): one worktree's own checkpoints, the steps
 * on the left, and for the current step what it changed against the previous
 * step and the files at that step.
 */
import type { Step } from '../../core/types.js';
import { agentsStrip } from './agents.js';
import { errorNotice } from './api.js';
import { h, note } from './dom.js';
import { stepLabel } from './format.js';
import type { KeyMap } from './keys.js';
import type { Ctx } from './state.js';
import { toggleTheme } from './theme.js';
import { showStep } from './timeline.js';

interface StepsView {
  steps: Step[];
  links: HTMLElement[];
  main: HTMLElement | null;
  /** Index of the current step, -1 before the first. */
  current: number;
}

function goStep(ctx: Ctx, view: StepsView, i: number): void {
  if (!view.steps.length || !view.main) return;
  const j = Math.max(0, Math.min(view.steps.length - 1, i));
  view.links[view.current]?.classList.remove('current');
  view.current = j;
  const link = view.links[j]!;
  link.classList.add('current');
  link.scrollIntoView({ block: 'nearest' });
  const detail = h('div', { class: 'stepdetail', id: 'stepdetail' });
  view.main.replaceChildren(detail);
  void showStep(ctx, detail, view.steps[j]!, null);
}

async function load(ctx: Ctx, view: StepsView, nav: HTMLElement, main: HTMLElement): Promise<void> {
  const { boot, api } = ctx;
  let steps: Step[];
  try {
    steps = boot.steps ? (boot.steps[''] ?? []) : await api<Step[]>('/api/steps');
  } catch (e) {
    main.append(errorNotice(e));
    return;
  }
  if (!steps.length) {
    main.append(note('No checkpoints yet: take one with `ckpt snap`, or run `ckpt watch`.', 'notice'));
    return;
  }
  nav.append(h('h3', { text: steps.length + ' steps' }));
  view.steps = steps;
  view.links = steps.map((s, i) => {
    const a = h(
      'a',
      {
        href: '#s' + s.step,
        'data-step': s.id,
        onclick: (e: MouseEvent) => {
          e.preventDefault();
          goStep(ctx, view, i);
        },
      },
      h('span', { class: 'sn', text: String(s.step) }),
      h('span', { class: 'badge', text: s.kind }),
      h('span', { class: 'p', text: stepLabel(s) }),
    );
    nav.append(a);
    return a;
  });
  view.main = main;
  goStep(ctx, view, 0);
}

/** Draws the worktree page into `app` (its steps load in the background); returns its keys. */
export function renderWorktree(ctx: Ctx, app: HTMLElement): KeyMap {
  app.textContent = '';
  const header = h(
    'header',
    { class: 'top' },
    h('h1', { text: 'ckpt view' }),
    h('span', { class: 'mono', text: ctx.boot.worktree ?? '' }),
    h('span', { class: 'spacer' }),
    h('span', { class: 'keys' }, h('kbd', { text: 'j' }), '/', h('kbd', { text: 'k' }), ' step · ', h('kbd', { text: 't' }), ' theme'),
    h('button', { id: 'theme', onclick: toggleTheme, text: '◐ theme' }),
  );
  const nav = h('nav', { class: 'files', id: 'steplist' });
  const main = h('main', { id: 'main' });
  app.append(header, agentsStrip(ctx, null) ?? '', h('div', { class: 'worktree-layout' }, nav, main));
  const view: StepsView = { steps: [], links: [], main: null, current: -1 };
  void load(ctx, view, nav, main);
  const next = (): void => goStep(ctx, view, view.current + 1);
  const prev = (): void => goStep(ctx, view, view.current - 1);
  return { j: next, n: next, k: prev, p: prev, t: toggleTheme };
}
