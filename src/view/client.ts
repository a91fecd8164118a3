/**
 * The viewer's browser code. {@link clientMain} is serialised with
 * `Function.prototype.toString` into the page (page.ts), so it must be
 * self-contained: no imports, no references to anything outside its body
 * (types excepted). It reads the boot JSON, talks to the local server with the
 * token header (or uses the inlined data of a static report), and builds the
 * DOM with `textContent` only; highlight.js output is the one `innerHTML`.
 *
 * Layout: a header (task, base, filters, theme), the summary table with a
 * timeline and a pick button per attempt, then file by file a grid whose
 * columns are the base and each attempt; adjacent attempts that made the same
 * change share one cell ("same in claude, codex"). File bodies are rendered
 * only when they come near the viewport. Keys: j/n, k/p next/previous file;
 * d / D next/previous disagreement; t theme; Esc closes panels.
 */

/* The DOM is typed loosely here: the project's compiler settings carry no DOM library. */
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;
declare const localStorage: any;
declare const IntersectionObserver: any;
declare const NodeFilter: any;

/** Entry point of the page script (runs in the browser). */
export function clientMain(): void {
  const boot: any = JSON.parse(document.getElementById('ckpt-boot').textContent);
  const hl: any = window.hljs;
  const app = document.getElementById('app');
  const state: any = {
    race: boot.race,
    index: boot.index,
    visible: new Set<string>(boot.index ? boot.index.attempts : []),
    current: -1,
    dis: -1,
    files: new Map<string, any>(),
    sections: [] as any[],
  };

  // ---- DOM and data helpers -------------------------------------------------
  function h(tag: string, props?: Record<string, any> | null, ...kids: any[]): any {
    const el = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else if (k === 'colSpan') el.colSpan = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(typeof kid === 'string' || typeof kid === 'number' ? document.createTextNode(String(kid)) : kid);
    }
    return el;
  }
  const q = (o: Record<string, string>): string => '?' + new URLSearchParams(o).toString();
  async function api(path: string, init: any = {}): Promise<any> {
    const res = await fetch(path, { ...init, headers: { 'X-Ckpt-Token': boot.token, ...(init.headers || {}) } });
    let body: any = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err: any = new Error((body && body.error && body.error.message) || res.statusText);
      err.info = (body && body.error) || { code: 'HTTP_' + res.status, message: res.statusText };
      err.status = res.status;
      throw err;
    }
    return body;
  }
  function note(text: string, cls = 'cellnote'): any {
    return h('div', { class: cls, text });
  }
  function errorNotice(e: any): any {
    const info = e.info || { message: String(e && e.message ? e.message : e) };
    return h('div', { class: 'notice bad' }, h('b', { text: 'Error: ' }), info.message, info.hint ? h('div', { class: 'meta', text: info.hint }) : null);
  }
  function fmtDuration(ms: number | null): string {
    if (ms === null || ms === undefined) return '—';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    const m = Math.floor(ms / 60000);
    return m + 'm' + String(Math.round((ms % 60000) / 1000)).padStart(2, '0') + 's';
  }
  function fmtTokens(t: any): string {
    if (!t) return '—';
    const k = (n: number): string => (n >= 1000 ? (n / 1000).toFixed(1) + 'k' : String(n));
    return k(t.input) + ' in / ' + k(t.output) + ' out';
  }
  function age(ms: number): string {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  // ---- theme ------------------------------------------------------------------
  function initTheme(): void {
    let t: string | null = null;
    try {
      t = localStorage.getItem('ckpt-theme');
    } catch {
      t = null;
    }
    if (!t) t = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
    document.documentElement.dataset.theme = t;
  }
  function toggleTheme(): void {
    const t = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = t;
    try {
      localStorage.setItem('ckpt-theme', t);
    } catch {
      /* file:// pages may have no storage */
    }
  }

  // ---- code lines -----------------------------------------------------------
  function langOf(path: string): string | null {
    if (!hl) return null;
    const base = path.split('/').pop() || '';
    const special: Record<string, string> = { Makefile: 'makefile', Dockerfile: 'dockerfile', 'CMakeLists.txt': 'cmake' };
    let name = special[base];
    if (!name) {
      const dot = base.lastIndexOf('.');
      if (dot < 0) return null;
      const ext = base.slice(dot + 1).toLowerCase();
      const map: Record<string, string> = { mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', mts: 'typescript', cts: 'typescript', tsx: 'typescript', yml: 'yaml', h: 'c', hpp: 'cpp', cc: 'cpp', txt: 'plaintext' };
      name = map[ext] || ext;
    }
    return hl.getLanguage(name) ? name : null;
  }
  function codeSpan(text: string, lang: string | null): any {
    const span = h('span', { class: 'c' });
    if (lang && text.length < 3000) {
      try {
        span.innerHTML = hl.highlight(text, { language: lang, ignoreIllegals: true }).value; // escaped by highlight.js
        return span;
      } catch {
        /* fall back to plain text */
      }
    }
    span.textContent = text;
    return span;
  }
  // Wraps the [start, end) ranges of a rendered line's text (highlighted or
  // not) in <span class="w">, splitting text nodes; the text is unchanged.
  function markWords(span: any, ranges: [number, number][]): void {
    const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
    const nodes: any[] = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    let off = 0;
    for (const node of nodes) {
      const text: string = node.data;
      const from = off;
      const to = off + text.length;
      off = to;
      const cuts = ranges.filter(([a, b]) => a < to && b > from);
      if (!cuts.length) continue;
      const frag = document.createDocumentFragment();
      let pos = 0;
      for (const [a, b] of cuts) {
        const s0 = Math.max(a, from) - from;
        const s1 = Math.min(b, to) - from;
        if (s0 > pos) frag.append(text.slice(pos, s0));
        frag.append(h('span', { class: 'w', text: text.slice(s0, s1) }));
        pos = s1;
      }
      if (pos < text.length) frag.append(text.slice(pos));
      node.replaceWith(frag);
    }
  }
  function lineEl(l: any, lang: string | null): any {
    const code = codeSpan(l.text, lang);
    if (l.words && l.words.length) markWords(code, l.words);
    if (!l.eol) code.append(h('span', { class: 'eol', text: ' ⌀ no newline at end of file' }));
    return h('div', { class: 'l' + (l.mark ? ' ' + l.mark : '') }, h('span', { class: 'n', text: String(l.n) }), code);
  }

  // ---- labels -------------------------------------------------------------------
  function statusBadges(f: any): any[] {
    return f.attempts
      .filter((a: string) => state.visible.has(a))
      .map((a: string) => h('span', { class: 'st ' + (f.status[a] || 'none'), title: a + ': ' + (f.status[a] ? { A: 'added', D: 'deleted', M: 'modified', T: 'type changed' }[f.status[a] as string] : 'unchanged'), text: a + ' ' + (f.status[a] || '—') }));
  }
  function fileBadges(f: any): any[] {
    const out: any[] = [];
    if (f.only) out.push(h('span', { class: 'badge only', text: 'only ' + f.only }));
    for (const g of f.groups) if (g.length > 1) out.push(h('span', { class: 'badge same', text: 'same in ' + g.join(', ') }));
    if (f.disagreements.length) out.push(h('span', { class: 'badge differ', text: f.disagreements.length + (f.disagreements.length === 1 ? ' disagreement' : ' disagreements') }));
    else if (f.disagree) out.push(h('span', { class: 'badge differ', text: 'attempts differ' }));
    if (f.kind === 'binary') out.push(h('span', { class: 'badge', text: 'binary' }));
    if (f.kind === 'large') out.push(h('span', { class: 'badge', text: 'too large to diff' }));
    return out;
  }
  function hunkLabel(hk: any, single: boolean): any[] {
    const range = hk.baseCount === 0 ? 'inserted before line ' + hk.baseStart : hk.baseCount === 1 ? 'base line ' + hk.baseStart : 'base lines ' + hk.baseStart + '–' + (hk.baseStart + hk.baseCount - 1);
    const out: any[] = [range, ' '];
    if (single) return out; // one side only (a step's own changes): nothing to compare
    const v0 = hk.variants[0];
    if (hk.agreement === 'same') out.push(h('span', { class: 'badge same', text: 'same in ' + v0.attempts.join(', ') }));
    else if (hk.agreement === 'partial') out.push(h('span', { class: 'badge same', text: 'same in ' + v0.attempts.join(', ') }));
    else if (hk.agreement === 'only') out.push(h('span', { class: 'badge only', text: 'only ' + v0.attempts[0] }));
    else out.push(h('span', { class: 'badge differ', text: 'differ: ' + hk.variants.map((v: any) => v.attempts.join(', ')).join(' | ') }));
    if (hk.unchanged.length) out.push(' ', h('span', { class: 'meta', text: 'unchanged in ' + hk.unchanged.join(', ') }));
    return out;
  }

  // ---- one file: base and attempts as columns ---------------------------------
  function variantOf(hk: any, a: string): any {
    return hk.variants.find((v: any) => v.attempts.includes(a)) || null;
  }
  function renderFileBody(f: any, shown: string[], idPrefix: string): any {
    const atts = f.attempts.filter((a: string) => shown.includes(a));
    if (f.kind !== 'text') {
      const box = h('div', { class: 'whole' });
      for (const g of f.groups) {
        const vis = g.filter((a: string) => atts.includes(a));
        if (!vis.length) continue;
        const st = f.status[vis[0]];
        box.append(h('div', null, vis.join(', ') + ': ' + (st === 'D' ? 'deleted' : st === 'A' ? 'added' : 'changed'), vis.length > 1 ? [' ', h('span', { class: 'badge same', text: 'same in ' + vis.join(', ') })] : null));
      }
      const untouched = atts.filter((a: string) => !f.status[a]);
      if (untouched.length) box.append(note('unchanged in ' + untouched.join(', ')));
      return box;
    }
    const lang = langOf(f.path);
    const ncol = 1 + atts.length;
    const table = h('table', { class: 'grid' });
    table.append(
      h('thead', null, h('tr', null, h('th', { text: 'base' }), atts.map((a: string) => h('th', { 'data-attempt': a }, a + ' ', h('span', { class: 'st ' + (f.status[a] || 'none'), text: f.status[a] || '—' }))))),
    );
    const tb = h('tbody');
    table.append(tb);
    const full = (cls: string, ...kids: any[]): any => h('tr', { class: cls }, h('td', { colSpan: ncol }, ...kids));
    const modeNotes = f.touchedBy.filter((a: string) => atts.includes(a) && f.modes.base && f.modes.attempts[a] && f.modes.attempts[a] !== f.modes.base).map((a: string) => a + ': mode ' + f.modes.base + ' → ' + f.modes.attempts[a]);
    if (modeNotes.length) tb.append(full('hh', modeNotes.join('; ')));
    for (const hk of f.hunks) {
      if (hk.gapBefore) tb.append(full('gap', '⋯'));
      for (const l of hk.before) tb.append(full('ctx', lineEl(l, lang)));
      tb.append(h('tr', { class: 'hh' + (hk.disagreement ? ' dis' : ''), id: idPrefix + '-' + hk.index, 'data-hunk': hk.index, 'data-agreement': hk.agreement }, h('td', { colSpan: ncol }, hunkLabel(hk, f.attempts.length === 1))));
      const row = h('tr', { class: 'hb' });
      row.append(h('td', { class: 'basecell' }, hk.base.length ? hk.base.map((l: any) => lineEl(l, lang)) : note('(nothing in the base: inserted)')));
      let k = 0;
      while (k < atts.length) {
        const v = variantOf(hk, atts[k]);
        let span = 1;
        while (k + span < atts.length && variantOf(hk, atts[k + span]) === v) span++;
        const members = atts.slice(k, k + span);
        const cell = h('td', { colSpan: span, class: 'acell', 'data-attempts': members.join(',') });
        if (!v) cell.append(note('unchanged'));
        else {
          const group = v.attempts.filter((a: string) => atts.includes(a));
          if (group.length > 1) cell.append(h('div', { class: 'cellhead' }, h('span', { class: 'badge same', text: 'same in ' + group.join(', ') })));
          if (!v.lines.length) cell.append(note('(removed)'));
          for (const l of v.lines) cell.append(lineEl(l, lang));
        }
        row.append(cell);
        k += span;
      }
      tb.append(row);
      for (const l of hk.after) tb.append(full('ctx', lineEl(l, lang)));
    }
    if (f.gapAfter) tb.append(full('gap', '⋯'));
    if (!f.hunks.length) tb.append(full('ctx', note('no line changes')));
    return table;
  }

  // ---- race page -------------------------------------------------------------
  function renderRace(): void {
    app.textContent = '';
    const race = state.race;
    const filters = h(
      'span',
      { class: 'filter' },
      'show: ',
      state.index.attempts.map((a: string) =>
        h('label', null, h('input', { type: 'checkbox', checked: true, 'data-attempt': a, onchange: (e: any) => setVisible(a, e.target.checked) }), ' ' + a),
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
    app.append(header, h('div', { class: 'layout' }, nav, main));
    main.append(
      h('div', { class: 'task', id: 'task', text: race.task }),
      h('div', { class: 'meta', text: 'base ' + race.base.snapshot.slice(0, 10) + (race.base.head ? ' (HEAD ' + race.base.head.slice(0, 10) + ')' : '') + ' · ' + race.state + (race.check ? ' · check: ' + race.check : '') + ' · worktree ' + race.worktree }),
      ...(boot.static ? [note('Static report: picking and browsing checkpoints need `race view`.', 'notice')] : []),
      h('div', { id: 'summary' }),
      h('div', { id: 'pick-result' }),
      h('div', { id: 'overview' }),
    );
    renderSummary();
    renderOverview();
    const files = h('div', { id: 'files' });
    main.append(files);
    buildFiles(files, nav);
    if (!boot.static && race.state === 'running') window.setInterval(refreshRace, 5000);
  }
  function keysHelp(): any {
    const kb = (k: string): any => h('kbd', { text: k });
    return h('span', { class: 'keys' }, kb('j'), '/', kb('k'), ' file · ', kb('d'), '/', kb('D'), ' disagreement · ', kb('t'), ' theme');
  }
  async function refreshRace(): Promise<void> {
    try {
      state.race = await api('/api/race');
      renderSummary();
    } catch {
      /* keep the last one */
    }
  }
  function renderSummary(): void {
    const box = document.getElementById('summary');
    if (!box) return;
    const race = state.race;
    const rows = race.attempts.map((a: any) => {
      const compared = state.index.attempts.includes(a.name);
      const picked = race.picked && race.picked.attempt === a.name;
      return h(
        'tr',
        { class: compared && !state.visible.has(a.name) ? 'hidden-attempt' : '', 'data-attempt': a.name },
        h('td', null, h('b', { text: a.name }), race.best === a.name ? [' ', h('span', { class: 'badge best', text: 'best' })] : null, picked ? [' ', h('span', { class: 'badge ok', text: 'picked' })] : null),
        h('td', { text: a.agent + (a.model ? ' · ' + a.model : '') }),
        h('td', { text: a.state + (a.error ? ': ' + a.error : ''), title: a.resultText || '' }),
        h('td', { class: 'num', text: fmtDuration(a.durationMs) }),
        h('td', null, a.check ? h('span', { class: 'badge ' + (a.check.passed ? 'ok' : 'bad'), title: a.check.command + '\n' + a.check.tail, text: a.check.passed ? 'passed' : a.check.timedOut ? 'timed out' : 'failed (' + a.check.exitCode + ')' }) : '—'),
        h('td', { class: 'num', text: String(a.files) }),
        h('td', { class: 'num' }, h('span', { class: 'st A', text: '+' + a.insertions }), ' ', h('span', { class: 'st D', text: '−' + a.deletions })),
        h('td', { class: 'num', text: fmtTokens(a.tokens) }),
        h('td', { class: 'num', text: a.costUsd === null || a.costUsd === undefined ? '—' : '$' + a.costUsd.toFixed(2) }),
        h('td', { class: 'num', text: String(a.steps) }),
        h(
          'td',
          null,
          h('button', { class: 'timeline', 'data-attempt': a.name, onclick: () => openTimeline(a.name), text: 'timeline' }),
          ' ',
          h('button', {
            class: 'pick',
            'data-attempt': a.name,
            disabled: boot.static || !compared,
            title: boot.static ? 'a static report cannot pick: use `race view`' : compared ? 'apply ' + a.name + "'s changes to your worktree" : 'no snapshot to pick',
            onclick: () => confirmPick(a.name),
            text: 'pick',
          }),
        ),
      );
    });
    const heads = ['attempt', 'agent', 'state', 'time', 'check', 'files', '+/−', 'tokens', 'cost', 'steps', ''];
    box.replaceChildren(h('table', { class: 'summary', id: 'summary-table' }, h('thead', null, h('tr', null, heads.map((x) => h('th', { text: x })))), h('tbody', null, rows)));
  }
  function renderOverview(): void {
    const idx = state.index;
    const only = idx.files.filter((f: any) => f.only).length;
    const box = document.getElementById('overview');
    box.replaceChildren(
      h('div', { class: 'meta', id: 'overview-text' }, idx.files.length + ' file(s) changed · ' + idx.disagreements.length + ' disagreement(s) · ' + only + ' file(s) only one attempt touched', h('span', { id: 'navstatus' })),
      ...(idx.missing.length ? [note('Left out (no snapshot yet): ' + idx.missing.join(', '), 'notice')] : []),
    );
  }
  function buildFiles(container: any, nav: any): void {
    const idx = state.index;
    state.sections = [];
    nav.append(h('h3', { text: idx.files.length + ' files' }));
    if (!idx.files.length) container.append(h('p', { text: 'No attempt changed anything.' }));
    idx.files.forEach((f: any, i: number) => {
      const link = h(
        'a',
        { href: '#f' + i, 'data-index': i, onclick: (e: any) => { e.preventDefault(); goFile(i); } },
        h('span', { class: 'p', title: f.path, text: f.path }),
        f.only ? h('span', { class: 'badge only', text: 'only' }) : null,
        f.disagreements.length || f.disagree ? h('span', { class: 'badge differ', text: '≠' }) : null,
      );
      nav.append(link);
      const body = h('div', { class: 'fbody' }, note('…', 'placeholder'));
      body.style.minHeight = Math.min(2000, 60 + 90 * f.hunkCount) + 'px';
      const sec = h('section', { class: 'file', id: 'f' + i, 'data-path': f.path, 'data-idx': i }, h('h2', null, h('span', { class: 'path', text: f.path }), statusBadges(f), fileBadges(f)), body);
      container.append(sec);
      state.sections.push({ el: sec, body, link, file: f, rendered: false });
    });
    const io = new IntersectionObserver(
      (entries: any[]) => {
        for (const e of entries) if (e.isIntersecting) void renderSection(Number(e.target.dataset.idx));
      },
      { rootMargin: '800px 0px' },
    );
    for (const s of state.sections) io.observe(s.el);
  }
  async function fileModel(path: string): Promise<any> {
    if (boot.files) return boot.files[path];
    let p = state.files.get(path);
    if (!p) {
      p = api('/api/file' + q({ path }));
      state.files.set(path, p);
      p.catch(() => state.files.delete(path));
    }
    return p;
  }
  function renderSection(i: number): Promise<void> {
    const s = state.sections[i];
    if (!s) return Promise.resolve();
    if (s.rendered) return s.rendering; // done, or on its way: callers wait for the same render
    s.rendered = true;
    s.rendering = (async () => {
      try {
        const f = await fileModel(s.file.path);
        s.body.replaceChildren(renderFileBody(f, [...state.visible], 'h-' + i));
        s.body.style.minHeight = '';
        s.el.classList.add('rendered');
      } catch (e) {
        s.rendered = false;
        s.body.replaceChildren(errorNotice(e));
      }
    })();
    return s.rendering;
  }
  function setVisible(a: string, on: boolean): void {
    if (on) state.visible.add(a);
    else state.visible.delete(a);
    state.sections.forEach((s: any, i: number) => {
      s.el.querySelector('h2').replaceChildren(h('span', { class: 'path', text: s.file.path }), ...statusBadges(s.file), ...fileBadges(s.file));
      if (s.rendered) {
        s.rendered = false;
        void renderSection(i);
      }
    });
    renderSummary();
  }

  // ---- navigation -------------------------------------------------------------
  function setCurrent(i: number): void {
    const prev = state.sections[state.current];
    if (prev) {
      prev.el.classList.remove('current');
      prev.link.classList.remove('current');
    }
    state.current = i;
    const s = state.sections[i];
    s.el.classList.add('current');
    s.link.classList.add('current');
    s.link.scrollIntoView({ block: 'nearest' });
  }
  function goFile(i: number): void {
    if (!state.sections.length) return;
    const j = Math.max(0, Math.min(state.sections.length - 1, i));
    setCurrent(j);
    const el = state.sections[j].el;
    el.scrollIntoView({ block: 'start' });
    // Files rendered meanwhile (this one, its neighbours) change heights: settle on it again.
    void renderSection(j).then(() => {
      window.setTimeout(() => {
        if (state.current === j) el.scrollIntoView({ block: 'start' });
      }, 50);
    });
  }
  async function goDisagreement(dir: number): Promise<void> {
    const list = state.index.disagreements;
    const status = document.getElementById('navstatus');
    if (!list.length) {
      status.textContent = ' · no disagreements';
      return;
    }
    state.dis = state.dis < 0 ? (dir > 0 ? 0 : list.length - 1) : (state.dis + dir + list.length) % list.length;
    const d = list[state.dis];
    const i = state.sections.findIndex((s: any) => s.file.path === d.path);
    if (i < 0) return;
    setCurrent(i);
    await renderSection(i);
    const target = d.hunk === null ? state.sections[i].el : document.getElementById('h-' + i + '-' + d.hunk) || state.sections[i].el;
    target.scrollIntoView({ block: 'center' });
    window.setTimeout(() => {
      if (state.current === i) target.scrollIntoView({ block: 'center' });
    }, 50);
    document.querySelectorAll('.flash').forEach((x: any) => x.classList.remove('flash'));
    target.classList.add('flash');
    status.textContent = ' · disagreement ' + (state.dis + 1) + ' of ' + list.length;
  }
  document.addEventListener('keydown', (e: any) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && ((t.tagName === 'INPUT' && t.type !== 'checkbox' && t.type !== 'radio') || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
    if (document.getElementById('modal')) {
      if (e.key === 'Escape') closeModal();
      return;
    }
    if (boot.mode === 'worktree') {
      if (e.key === 'j' || e.key === 'n') goStep(state.current + 1);
      else if (e.key === 'k' || e.key === 'p') goStep(state.current - 1);
      else if (e.key === 't') toggleTheme();
      else return;
      e.preventDefault();
      return;
    }
    switch (e.key) {
      case 'j':
      case 'n':
        goFile(state.current + 1);
        break;
      case 'k':
      case 'p':
        goFile(state.current - 1);
        break;
      case 'd':
        void goDisagreement(1);
        break;
      case 'D':
        void goDisagreement(-1);
        break;
      case 't':
        toggleTheme();
        break;
      case 'Escape':
        closePanel();
        break;
      default:
        return;
    }
    e.preventDefault();
  });

  // ---- checkpoint timeline ----------------------------------------------------------
  function openPanel(title: string): any {
    closePanel();
    const body = h('div', { class: 'pbody' });
    document.body.append(h('div', { class: 'panel', id: 'panel' }, h('header', null, h('h2', { text: title }), h('button', { text: 'close', onclick: closePanel })), body));
    return body;
  }
  function closePanel(): void {
    const p = document.getElementById('panel');
    if (p) p.remove();
  }
  async function openTimeline(name: string): Promise<void> {
    const body = openPanel(name + ' · checkpoints');
    try {
      const steps = boot.steps ? boot.steps[name] || [] : await api('/api/steps' + q({ attempt: name }));
      renderTimeline(body, steps, name);
    } catch (e) {
      body.append(errorNotice(e));
    }
  }
  function stepLabel(s: any): string {
    return [s.tool, s.target].filter(Boolean).join(' ') || s.message;
  }
  function renderTimeline(body: any, steps: any[], attempt: string | null): void {
    if (!steps.length) {
      body.append(note('No checkpoints.'));
      return;
    }
    const detail = h('div', { class: 'stepdetail', id: 'stepdetail' });
    const ol = h(
      'ol',
      { class: 'steps' },
      steps.map((s: any) =>
        h(
          'li',
          {
            'data-step': s.id,
            onclick: (e: any) => {
              ol.querySelectorAll('li.sel').forEach((x: any) => x.classList.remove('sel'));
              e.currentTarget.classList.add('sel');
              void showStep(detail, s, attempt);
            },
          },
          h('span', { class: 'sn', text: String(s.step) }),
          h('span', { class: 'badge', text: s.kind }),
          h('span', { class: 'mono', text: (s.agent ? s.agent + ' · ' : '') + stepLabel(s) }),
          h('span', { class: 'meta', text: (s.stats ? ' +' + s.stats.insertions + ' −' + s.stats.deletions + ' · ' : ' ') + age(s.time) }),
        ),
      ),
    );
    body.append(ol, detail);
  }
  async function showStep(detail: any, s: any, attempt: string | null): Promise<void> {
    detail.replaceChildren(h('h3', { text: 'Step ' + s.step + ' · ' + s.kind + ' · ' + stepLabel(s) }), h('div', { class: 'meta', text: s.id + ' · ' + new Date(s.time).toLocaleString() }));
    const params: Record<string, string> = { step: s.id };
    if (attempt) params.attempt = attempt;
    let changes: any = null;
    try {
      if (boot.static) changes = boot.stepChanges ? boot.stepChanges[s.id] || null : null;
      else changes = await api('/api/step-changes' + q(params));
    } catch (e) {
      detail.append(errorNotice(e));
    }
    if (changes) {
      detail.append(h('h4', { text: changes.files.length ? 'Changes in this step' : 'No changes in this step' }));
      changes.files.forEach((f: any, i: number) => detail.append(h('section', { class: 'file' }, h('h2', null, h('span', { class: 'path', text: f.path })), h('div', { class: 'fbody' }, renderFileBody(f, f.attempts, 's-' + i)))));
    }
    if (boot.static) {
      detail.append(note('The files at each step can be browsed with `race view` / `ckpt view` (this report has no server).', 'notice'));
      return;
    }
    try {
      const tree = await api('/api/tree' + q(params));
      const blob = h('div', { id: 'blob' });
      detail.append(
        h('h4', { text: 'Files at this step' + (tree.truncated ? ' (the first ' + tree.entries.length + ')' : '') }),
        h('ul', { class: 'tree' }, tree.entries.map((e: any) => h('li', { 'data-path': e.path, onclick: () => void showBlob(blob, params, e) }, h('span', { class: 'st ' + (e.change || 'none'), text: e.change || '·' }), ' ' + e.path))),
        blob,
      );
    } catch (e) {
      detail.append(errorNotice(e));
    }
  }
  async function showBlob(box: any, params: Record<string, string>, entry: any): Promise<void> {
    box.replaceChildren(h('h4', { class: 'mono', text: entry.path }));
    if (entry.change === 'D') {
      box.append(note('deleted in this step'));
      return;
    }
    try {
      const f = await api('/api/blob' + q({ ...params, path: entry.path }));
      if (f.text === null) box.append(note(f.binary ? 'binary file' : f.tooLarge ? 'too large to show' : 'not a file'));
      else {
        const lang = langOf(entry.path);
        const lines = f.text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        const shown = lines.slice(0, 5000);
        box.append(h('pre', { class: 'blob' }, shown.map((t: string, i: number) => lineEl({ n: i + 1, text: t, eol: true }, lang))));
        if (lines.length > shown.length) box.append(note('… ' + (lines.length - shown.length) + ' more lines'));
      }
    } catch (e) {
      box.append(errorNotice(e));
    }
    box.scrollIntoView({ block: 'nearest' });
  }

  // ---- pick -------------------------------------------------------------------------
  function closeModal(): void {
    const m = document.getElementById('modal');
    if (m) m.remove();
  }
  function confirmPick(name: string): void {
    const a = state.race.attempts.find((x: any) => x.name === name);
    closeModal();
    const bg = h(
      'div',
      { class: 'modal-bg', id: 'modal' },
      h(
        'div',
        { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title' },
        h('h2', { id: 'modal-title', text: 'Pick ' + name + '?' }),
        h('p', { text: 'Its changes against the base (' + a.files + ' file(s), +' + a.insertions + ' −' + a.deletions + ') become uncommitted changes in your worktree ' + state.race.worktree + ', exactly as `race pick ' + name + '` does.' }),
        h('p', { text: 'A checkpoint is recorded first, so `ckpt rollback --undo` in that worktree takes the pick back. If it would overwrite newer work of yours, nothing is changed.' }),
        h('div', { class: 'actions' }, h('button', { id: 'cancel-pick', text: 'Cancel', onclick: closeModal }), h('button', { class: 'primary', id: 'confirm-pick', text: 'Pick ' + name, onclick: () => void doPick(name) })),
      ),
    );
    document.body.append(bg);
    document.getElementById('confirm-pick').focus();
  }
  async function doPick(name: string): Promise<void> {
    const btn = document.getElementById('confirm-pick');
    btn.disabled = true;
    btn.textContent = 'Picking…';
    const box = document.getElementById('pick-result');
    try {
      const res = await api('/api/pick', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ attempt: name }) });
      box.replaceChildren(
        h(
          'div',
          { class: 'notice ok', id: 'pick-ok' },
          h('b', { text: 'Picked ' + name + '. ' }),
          res.changes.length + ' file(s) changed in ' + state.race.worktree + '. Undo with ',
          h('code', { text: 'ckpt rollback --undo' }),
          ' there.',
          res.changes.length ? h('pre', { text: res.changes.map((c: any) => c.action + ' ' + c.path).join('\n') }) : null,
        ),
      );
    } catch (e: any) {
      const info = e.info || { message: String(e) };
      box.replaceChildren(h('div', { class: 'notice bad', id: 'pick-error' }, h('b', { text: e.status === 409 ? 'Refused; nothing was changed. ' : 'Pick failed. ' }), h('pre', { text: info.message }), info.hint ? h('div', { class: 'meta', text: info.hint }) : null));
    }
    closeModal();
    await refreshRace();
    box.scrollIntoView({ block: 'nearest' });
  }

  // ---- worktree page (ckpt view) --------------------------------------------------------
  async function renderWorktree(): Promise<void> {
    app.textContent = '';
    const header = h(
      'header',
      { class: 'top' },
      h('h1', { text: 'ckpt view' }),
      h('span', { class: 'mono', text: boot.worktree }),
      h('span', { class: 'spacer' }),
      h('span', { class: 'keys' }, h('kbd', { text: 'j' }), '/', h('kbd', { text: 'k' }), ' step · ', h('kbd', { text: 't' }), ' theme'),
      h('button', { id: 'theme', onclick: toggleTheme, text: '◐ theme' }),
    );
    const nav = h('nav', { class: 'files', id: 'steplist' });
    const main = h('main', { id: 'main' });
    app.append(header, h('div', { class: 'worktree-layout' }, nav, main));
    let steps: any[] = [];
    try {
      steps = boot.steps ? boot.steps[''] || [] : await api('/api/steps');
    } catch (e) {
      main.append(errorNotice(e));
      return;
    }
    if (!steps.length) {
      main.append(note('No checkpoints yet: take one with `ckpt snap`, or run `ckpt watch`.', 'notice'));
      return;
    }
    nav.append(h('h3', { text: steps.length + ' steps' }));
    state.steps = steps;
    state.stepLinks = steps.map((s: any, i: number) => {
      const a = h(
        'a',
        { href: '#s' + s.step, 'data-step': s.id, onclick: (e: any) => { e.preventDefault(); goStep(i); } },
        h('span', { class: 'sn', text: String(s.step) }),
        h('span', { class: 'badge', text: s.kind }),
        h('span', { class: 'p', text: stepLabel(s) }),
      );
      nav.append(a);
      return a;
    });
    state.stepMain = main;
    goStep(0);
  }
  function goStep(i: number): void {
    if (!state.steps || !state.steps.length) return;
    const j = Math.max(0, Math.min(state.steps.length - 1, i));
    if (state.stepLinks[state.current]) state.stepLinks[state.current].classList.remove('current');
    state.current = j;
    state.stepLinks[j].classList.add('current');
    state.stepLinks[j].scrollIntoView({ block: 'nearest' });
    const detail = h('div', { class: 'stepdetail', id: 'stepdetail' });
    state.stepMain.replaceChildren(detail);
    void showStep(detail, state.steps[j], null);
  }

  initTheme();
  if (boot.mode === 'worktree') void renderWorktree();
  else renderRace();
}
