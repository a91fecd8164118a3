/**
 * The race page's file sections: one per changed file, with its entry in the
 * file list; a section's body (fetched per file from the server, or read from
 * a static report's inlined models) is rendered only when it comes within
 * 800 px of the viewport, and again when the shown attempts change.
 */
import type { NwayFile } from '../nway.js';
import { errorNotice, q } from './api.js';
import { h, note } from './dom.js';
import { renderFileBody } from './grid.js';
import { fileBadges, statusBadges } from './labels.js';
import type { RaceView } from './state.js';

/** Builds every file's section into `container` and its link into `nav`; `onGo(i)` moves to file i. */
export function buildFiles(view: RaceView, container: HTMLElement, nav: HTMLElement, onGo: (i: number) => void): void {
  const idx = view.index;
  view.sections = [];
  nav.append(h('h3', { text: idx.files.length + ' files' }));
  if (!idx.files.length) container.append(h('p', { text: 'No attempt changed anything.' }));
  idx.files.forEach((f, i) => {
    const link = h(
      'a',
      {
        href: '#f' + i,
        'data-index': i,
        onclick: (e: MouseEvent) => {
          e.preventDefault();
          onGo(i);
        },
      },
      h('span', { class: 'p', title: f.path, text: f.path }),
      f.only ? h('span', { class: 'badge only', text: 'only' }) : null,
      f.disagreements.length || f.disagree ? h('span', { class: 'badge differ', text: '≠' }) : null,
    );
    nav.append(link);
    const body = h('div', { class: 'fbody' }, note('…', 'placeholder'));
    body.style.minHeight = Math.min(2000, 60 + 90 * f.hunkCount) + 'px';
    const sec = h('section', { class: 'file', id: 'f' + i, 'data-path': f.path, 'data-idx': i }, h('h2', null, h('span', { class: 'path', text: f.path }), statusBadges(f, view.visible), fileBadges(f)), body);
    container.append(sec);
    view.sections.push({ el: sec, body, link, file: f, rendered: false, rendering: Promise.resolve() });
  });
  const io = new IntersectionObserver(
    (entries) => {
      for (const e of entries) if (e.isIntersecting) void renderSection(view, Number(e.target.getAttribute('data-idx')));
    },
    { rootMargin: '800px 0px' },
  );
  for (const s of view.sections) io.observe(s.el);
}

/** File `path`'s model: inlined in a static report, else fetched once (again after a failure). */
function fileModel(view: RaceView, path: string): Promise<NwayFile> {
  const { boot, api } = view.ctx;
  if (boot.files) {
    const f = boot.files[path];
    return f ? Promise.resolve(f) : Promise.reject(new Error('no model of ' + path + ' in this report'));
  }
  let p = view.files.get(path);
  if (!p) {
    p = api<NwayFile>('/api/file' + q({ path }));
    view.files.set(path, p);
    p.catch(() => view.files.delete(path));
  }
  return p;
}

/** Renders section `i`'s body (once; callers while it renders wait for the same render). */
export function renderSection(view: RaceView, i: number): Promise<void> {
  const s = view.sections[i];
  if (!s) return Promise.resolve();
  if (s.rendered) return s.rendering;
  s.rendered = true;
  s.rendering = (async () => {
    try {
      const f = await fileModel(view, s.file.path);
      s.body.replaceChildren(renderFileBody(f, [...view.visible], 'h-' + i));
      s.body.style.minHeight = '';
      s.el.classList.add('rendered');
    } catch (e) {
      s.rendered = false;
      s.body.replaceChildren(errorNotice(e));
    }
  })();
  return s.rendering;
}

/** Shows or hides attempt `a`'s columns: relabels every section and re-renders the rendered ones. */
export function setVisible(view: RaceView, a: string, on: boolean): void {
  if (on) view.visible.add(a);
  else view.visible.delete(a);
  view.sections.forEach((s, i) => {
    s.el.querySelector('h2')?.replaceChildren(h('span', { class: 'path', text: s.file.path }), ...statusBadges(s.file, view.visible), ...fileBadges(s.file));
    if (s.rendered) {
      s.rendered = false;
      void renderSection(view, i);
    }
  });
}
