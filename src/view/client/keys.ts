/**
 * The page's keys. Typing in a text field is left alone; while the pick
 * confirmation is open only Esc counts (it cancels). Keys with Ctrl, Meta or
 * Alt are the browser's.
 */
import { closeModal, modalOpen } from './pick.js';

/** What each key (`KeyboardEvent.key`) does on the current page. */
export type KeyMap = Readonly<Record<string, () => void>>;

function typing(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLInputElement) return t.type !== 'checkbox' && t.type !== 'radio';
  return t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
}

/** Listens for `keys` on the document. */
export function installKeys(keys: KeyMap): void {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) return;
    if (modalOpen()) {
      if (e.key === 'Escape') closeModal();
      return;
    }
    const action = Object.hasOwn(keys, e.key) ? keys[e.key] : undefined;
    if (!action) return;
    action();
    e.preventDefault();
  });
}
