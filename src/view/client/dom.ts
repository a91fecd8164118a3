/**
 * Building the DOM from text: {@link h} sets `textContent` and attributes,
 * never markup, so file contents, names and task text cannot become HTML.
 * (highlight.js output in code.ts is the one `innerHTML`.)
 */

/** What {@link h} accepts as children: nodes, text, and nested lists; null/undefined/false are skipped. */
export type Kid = Node | string | number | null | undefined | false | readonly Kid[];

/** Attributes and handlers of {@link h}. */
export interface Props {
  class?: string;
  /** The element's text (`textContent`). */
  text?: string;
  onclick?: (e: MouseEvent) => void;
  onchange?: (e: Event) => void;
  /** Any other attribute: `true` sets it empty, false/null/undefined leave it out. */
  [attribute: string]: string | number | boolean | null | undefined | ((e: MouseEvent) => void) | ((e: Event) => void);
}

/** Appends `kids` (flattened) to `el`. */
export function append(el: Element | DocumentFragment, kids: readonly Kid[]): void {
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    if (Array.isArray(kid)) append(el, kid as readonly Kid[]);
    else if (typeof kid === 'string' || typeof kid === 'number') el.append(document.createTextNode(String(kid)));
    else el.append(kid as Node);
  }
}

/** `document.createElement(tag)` with `props` and `kids`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...kids: Kid[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = String(v);
      else if (k === 'text') el.textContent = String(v);
      else if (typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, kids);
  return el;
}

/** A muted note (`cellnote` by default). */
export function note(text: string, cls = 'cellnote'): HTMLDivElement {
  return h('div', { class: cls, text });
}

/** The element with this id, or null. */
export function byId(id: string): HTMLElement | null {
  return document.getElementById(id);
}
