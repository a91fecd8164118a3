/**
 * "Who is waiting": the agents of the repository's worktrees and their states
 * (`GET /api/agents`, `ckpt agents --json`), a strip under the header, read
 * again every {@link REFRESH_MS} ms while the page is served. A worktree whose
 * agent waits for input comes first (the server's order: newest activity
 * first) and stands out; a stale one is marked. Not in a static report (no
 * server to ask).
 */
import type { AgentRow } from '../../agents/overview.js';
import type { AgentsAnswer } from '../wire.js';
import { h } from './dom.js';
import type { Ctx } from './state.js';

/** How often the states are read again, in ms. */
export const REFRESH_MS = 2000;

/** One agent's entry: where (attempt or worktree), agent, state text, files changed since the session began. */
export function agentEntry(row: AgentRow): HTMLElement {
  const where = row.race ? row.race.attempt : row.worktree;
  return h(
    'span',
    { class: `agent ${row.status}`, 'data-worktree': row.worktree, title: row.worktree },
    h('b', { text: where }),
    ' ' + (row.agent ?? ''),
    ': ',
    h('span', { class: 'state', text: row.statusText }),
    row.changed !== null ? h('span', { class: 'meta', text: ` · ${row.changed} changed` }) : null,
  );
}

/** Fills `el` with the rows that have an agent (all of them when `race` is null, else that race's attempts). */
export function renderAgents(el: HTMLElement, rows: readonly AgentRow[], race: string | null): void {
  const shown = rows.filter((r) => r.agent !== null && (race === null || r.race?.id === race));
  el.replaceChildren(...(shown.length ? [h('span', { class: 'meta', text: 'agents: ' }), ...shown.map(agentEntry)] : []));
  el.hidden = shown.length === 0;
}

/** The strip, refreshing itself while the page is served; null in a static report. */
export function agentsStrip(ctx: Ctx, race: string | null): HTMLElement | null {
  if (ctx.boot.static) return null;
  const el = h('div', { class: 'agents', id: 'agents', hidden: true });
  const load = async (): Promise<void> => {
    try {
      renderAgents(el, (await ctx.api<AgentsAnswer>('/api/agents')).agents, race);
    } catch {
      /* keep the last one */
    }
  };
  void load();
  window.setInterval(() => void load(), REFRESH_MS);
  return el;
}
