/** Word marks: the parts of a replaced line that changed (the `words` ranges of a line, see nway.ts's HLine). */
import { h } from './dom.js';

/**
 * Wraps the `[start, end)` ranges (UTF-16 offsets into the line's text) of a
 * rendered line (highlighted or not) in `<span class="w">`, splitting text
 * nodes; the text itself is unchanged.
 */
export function markWords(span: HTMLElement, ranges: readonly [number, number][]): void {
  const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  while (walker.nextNode()) nodes.push(walker.currentNode as Text);
  let off = 0;
  for (const node of nodes) {
    const text = node.data;
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
