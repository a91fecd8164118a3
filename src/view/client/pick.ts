/**
 * The pick button's confirmation and request: `POST /api/pick` does exactly
 * what `race pick NAME` does (apply mode). The page shows what changed, or
 * the refusal (409: nothing was changed) with the server's hint.
 */
import type { PickAnswer } from '../wire.js';
import { ApiError, failureOf } from './api.js';
import { counted } from '../../core/plural.js';
import { byId, h } from './dom.js';
import type { RaceView } from './state.js';

/** Whether the confirmation is open. */
export function modalOpen(): boolean {
  return byId('modal') !== null;
}

/** Closes the confirmation if open. */
export function closeModal(): void {
  byId('modal')?.remove();
}

/** Asks to confirm picking attempt `name`; `after` runs once the pick answered (to refresh the race). */
export function confirmPick(view: RaceView, name: string, after: () => Promise<void>): void {
  const a = view.race.attempts.find((x) => x.name === name);
  if (!a) return;
  closeModal();
  const bg = h(
    'div',
    { class: 'modal-bg', id: 'modal' },
    h(
      'div',
      { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title' },
      h('h2', { id: 'modal-title', text: 'Pick ' + name + '?' }),
      h('p', { text: 'Its changes against the base (' + counted(a.files, 'file') + ', +' + a.insertions + ' −' + a.deletions + ') become uncommitted changes in your worktree ' + view.race.worktree + ', exactly as `race pick ' + name + '` does.' }),
      h('p', { text: 'A checkpoint is recorded first, so `ckpt rollback --undo` in that worktree takes the pick back. If it would overwrite newer work of yours, nothing is changed.' }),
      h(
        'div',
        { class: 'actions' },
        h('button', { id: 'cancel-pick', text: 'Cancel', onclick: closeModal }),
        h('button', { class: 'primary', id: 'confirm-pick', text: 'Pick ' + name, onclick: () => void doPick(view, name, after) }),
      ),
    ),
  );
  document.body.append(bg);
  byId('confirm-pick')?.focus();
}

async function doPick(view: RaceView, name: string, after: () => Promise<void>): Promise<void> {
  const btn = byId('confirm-pick');
  if (btn instanceof HTMLButtonElement) {
    btn.disabled = true;
    btn.textContent = 'Picking…';
  }
  const box = byId('pick-result');
  let result: HTMLElement;
  try {
    const res = await view.ctx.api<PickAnswer>('/api/pick', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ attempt: name }) });
    result = h(
      'div',
      { class: 'notice ok', id: 'pick-ok' },
      h('b', { text: 'Picked ' + name + '. ' }),
      counted(res.changes.length, 'file') + ' changed in ' + view.race.worktree + '. Undo with ',
      h('code', { text: 'ckpt rollback --undo' }),
      ' there.',
      res.changes.length ? h('pre', { text: res.changes.map((c) => c.action + ' ' + c.path).join('\n') }) : null,
    );
  } catch (e) {
    const info = failureOf(e);
    const refused = e instanceof ApiError && e.status === 409;
    result = h('div', { class: 'notice bad', id: 'pick-error' }, h('b', { text: refused ? 'Refused; nothing was changed. ' : 'Pick failed. ' }), h('pre', { text: info.message }), info.hint ? h('div', { class: 'meta', text: info.hint }) : null);
  }
  box?.replaceChildren(result);
  closeModal();
  await after();
  box?.scrollIntoView({ block: 'nearest' });
}
