/**
 * Checkpoint timelines: the side panel with an attempt's steps (race page),
 * and for a chosen step what it changed, the files at that step, and one
 * file's text (the last two need the server; a static report says so).
 * The worktree page (`ckpt view`) shows the same step details in its main
 * column.
 */
import type { Step } from '../../core/types.js';
import type { RaceRecord } from '../../race/types.js';
import type { NwayComparison } from '../nway.js';
import type { StepFile, StepTree, TreeEntry } from '../wire.js';
import { errorNotice, q } from './api.js';
import { langOf, lineEl } from './code.js';
import { byId, h, note } from './dom.js';
import { age, stepLabel } from './format.js';
import { renderFileBody } from './grid.js';
import { groupByRound, roundHeading } from './rounds.js';
import type { Ctx } from './state.js';

/** Lines of a file shown at most; the rest is counted. */
const MAX_BLOB_LINES = 5000;

/** Opens the side panel titled `title` (closing any other) and returns its body. */
export function openPanel(title: string): HTMLDivElement {
  closePanel();
  const body = h('div', { class: 'pbody' });
  document.body.append(h('div', { class: 'panel', id: 'panel' }, h('header', null, h('h2', { text: title }), h('button', { text: 'close', onclick: closePanel })), body));
  return body;
}

/** Closes the side panel if open. */
export function closePanel(): void {
  byId('panel')?.remove();
}

/**
 * Opens attempt `name`'s timeline in the side panel; with the race record,
 * its steps are grouped per round, each with its check and reviews.
 */
export async function openTimeline(ctx: Ctx, name: string, race: RaceRecord | null = null): Promise<void> {
  const body = openPanel(name + ' · checkpoints');
  try {
    const steps = ctx.boot.steps ? (ctx.boot.steps[name] ?? []) : await ctx.api<Step[]>('/api/steps' + q({ attempt: name }));
    renderTimeline(ctx, body, steps, name, race);
  } catch (e) {
    body.append(errorNotice(e));
  }
}

function renderTimeline(ctx: Ctx, body: HTMLElement, steps: Step[], attempt: string | null, race: RaceRecord | null = null): void {
  if (!steps.length) {
    body.append(note('No checkpoints.'));
    return;
  }
  const detail = h('div', { class: 'stepdetail', id: 'stepdetail' });
  const item = (s: Step): HTMLLIElement =>
    h(
      'li',
      {
        'data-step': s.id,
        onclick: (e: MouseEvent) => {
          body.querySelectorAll('ol.steps li.sel').forEach((x) => x.classList.remove('sel'));
          if (e.currentTarget instanceof Element) e.currentTarget.classList.add('sel');
          void showStep(ctx, detail, s, attempt);
        },
      },
      h('span', { class: 'sn', text: String(s.step) }),
      h('span', { class: 'badge', text: s.kind }),
      h('span', { class: 'mono', text: (s.agent ? s.agent + ' · ' : '') + stepLabel(s) }),
      h('span', { class: 'meta', text: (s.stats ? ' +' + s.stats.insertions + ' −' + s.stats.deletions + ' · ' : ' ') + age(s.time) }),
    );
  const groups = groupByRound(steps);
  if (groups.every((g) => g.round === null)) {
    body.append(h('ol', { class: 'steps' }, steps.map(item)), detail);
    return;
  }
  // Steps of a race attempt: one group per round (its Round trailer), headed by that round's check and reviews.
  const a = race?.attempts.find((x) => x.name === attempt) ?? null;
  body.append(...groups.map((g) => h('section', { class: 'round', 'data-round': g.round === null ? '' : String(g.round) }, roundHeading(g, a, race), h('ol', { class: 'steps' }, g.steps.map(item)))), detail);
}

/** Fills `detail` with step `s` of `attempt`'s timeline (null: the worktree's own): its changes, then the files at that step. */
export async function showStep(ctx: Ctx, detail: HTMLElement, s: Step, attempt: string | null): Promise<void> {
  const { boot, api } = ctx;
  detail.replaceChildren(h('h3', { text: 'Step ' + s.step + ' · ' + s.kind + ' · ' + stepLabel(s) }), h('div', { class: 'meta', text: s.id + ' · ' + new Date(s.time).toLocaleString() }));
  const params: Record<string, string> = { step: s.id };
  if (attempt) params.attempt = attempt;
  let changes: NwayComparison | null = null;
  try {
    if (boot.static) changes = boot.stepChanges ? (boot.stepChanges[s.id] ?? null) : null;
    else changes = await api<NwayComparison>('/api/step-changes' + q(params));
  } catch (e) {
    detail.append(errorNotice(e));
  }
  if (changes) {
    detail.append(h('h4', { text: changes.files.length ? 'Changes in this step' : 'No changes in this step' }));
    changes.files.forEach((f, i) => detail.append(h('section', { class: 'file' }, h('h2', null, h('span', { class: 'path', text: f.path })), h('div', { class: 'fbody' }, renderFileBody(f, f.attempts, 's-' + i)))));
  }
  if (boot.static) {
    detail.append(note('The files at each step can be browsed with `race view` / `ckpt view` (this report has no server).', 'notice'));
    return;
  }
  try {
    const tree = await api<StepTree>('/api/tree' + q(params));
    const blob = h('div', { id: 'blob' });
    detail.append(
      h('h4', { text: 'Files at this step' + (tree.truncated ? ' (the first ' + tree.entries.length + ')' : '') }),
      h('ul', { class: 'tree' }, tree.entries.map((e) => h('li', { 'data-path': e.path, onclick: () => void showBlob(ctx, blob, params, e) }, h('span', { class: 'st ' + (e.change || 'none'), text: e.change || '·' }), ' ' + e.path))),
      blob,
    );
  } catch (e) {
    detail.append(errorNotice(e));
  }
}

async function showBlob(ctx: Ctx, box: HTMLElement, params: Record<string, string>, entry: TreeEntry): Promise<void> {
  box.replaceChildren(h('h4', { class: 'mono', text: entry.path }));
  if (entry.change === 'D') {
    box.append(note('deleted in this step'));
    return;
  }
  try {
    const f = await ctx.api<StepFile>('/api/blob' + q({ ...params, path: entry.path }));
    if (f.text === null) box.append(note(f.binary ? 'binary file' : f.tooLarge ? 'too large to show' : 'not a file'));
    else {
      const lang = langOf(entry.path);
      const lines = f.text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const shown = lines.slice(0, MAX_BLOB_LINES);
      box.append(h('pre', { class: 'blob' }, shown.map((t, i) => lineEl({ n: i + 1, text: t, eol: true }, lang))));
      if (lines.length > shown.length) box.append(note('… ' + (lines.length - shown.length) + ' more lines'));
    }
  } catch (e) {
    box.append(errorNotice(e));
  }
  box.scrollIntoView({ block: 'nearest' });
}
