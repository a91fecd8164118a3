/**
 * Moving through the race page: the current file (highlighted in the list
 * and on the page) and the current disagreement. Rendering a file changes the
 * heights of the files around it, so each move scrolls once more after that
 * render settles.
 */
import { byId } from './dom.js';
import { renderSection } from './files.js';
import type { RaceView } from './state.js';

/** Settling time after a render before scrolling again, in ms. */
const SETTLE_MS = 50;

function setCurrent(view: RaceView, i: number): void {
  const prev = view.sections[view.current];
  if (prev) {
    prev.el.classList.remove('current');
    prev.link.classList.remove('current');
  }
  const s = view.sections[i];
  if (!s) return;
  view.current = i;
  s.el.classList.add('current');
  s.link.classList.add('current');
  s.link.scrollIntoView({ block: 'nearest' });
}

/** Makes file `i` (clamped to the list) current and scrolls it to the top. */
export function goFile(view: RaceView, i: number): void {
  if (!view.sections.length) return;
  const j = Math.max(0, Math.min(view.sections.length - 1, i));
  setCurrent(view, j);
  const el = view.sections[j]!.el;
  el.scrollIntoView({ block: 'start' });
  // Files rendered meanwhile (this one, its neighbours) change heights: settle on it again.
  void renderSection(view, j).then(() => {
    window.setTimeout(() => {
      if (view.current === j) el.scrollIntoView({ block: 'start' });
    }, SETTLE_MS);
  });
}

/** Moves to the next (`dir` 1) or previous (-1) disagreement, wrapping around, and flashes its hunk. */
export async function goDisagreement(view: RaceView, dir: 1 | -1): Promise<void> {
  const list = view.index.disagreements;
  const status = byId('navstatus');
  if (!list.length) {
    if (status) status.textContent = ' · no disagreements';
    return;
  }
  view.dis = view.dis < 0 ? (dir > 0 ? 0 : list.length - 1) : (view.dis + dir + list.length) % list.length;
  const d = list[view.dis]!;
  const i = view.sections.findIndex((s) => s.file.path === d.path);
  const section = view.sections[i];
  if (!section) return;
  setCurrent(view, i);
  await renderSection(view, i);
  const target = (d.hunk === null ? null : byId('h-' + i + '-' + d.hunk)) ?? section.el;
  target.scrollIntoView({ block: 'center' });
  window.setTimeout(() => {
    if (view.current === i) target.scrollIntoView({ block: 'center' });
  }, SETTLE_MS);
  document.querySelectorAll('.flash').forEach((x) => x.classList.remove('flash'));
  target.classList.add('flash');
  if (status) status.textContent = ' · disagreement ' + (view.dis + 1) + ' of ' + list.length;
}
