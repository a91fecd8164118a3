/** The step log as a table (`ckpt log`, the demo). */
import pc from 'picocolors';
import type { Step } from '../core/types.js';
import { quote } from '../core/quote.js';
import { age, renderTable } from './output.js';

type Colors = ReturnType<typeof pc.createColors>;

/** Renders steps as a table fitted to `width` columns; agent, tool, target and message quoted. */
export function renderLog(steps: Step[], width: number, color: boolean, now = Date.now()): string {
  const c = pc.createColors(color);
  const fixed = 6 + 12 + 14 + 9 + 16 + 7 + 13 + 8 * 3;
  const msgWidth = Math.max(12, Math.min(60, width - fixed));
  const rows = steps.map((s) => {
    const who = quote([s.agent, s.tool].filter(Boolean).join('/') || '—');
    const st = s.stats;
    const plusMinus = st ? `${c.green(`+${st.insertions}`)} ${c.red(`−${st.deletions}`)}` : '—';
    // A step that served several parallel tool calls: its message lists them all.
    const said = s.tool && s.toolUseIds.length <= 1 ? [quote(s.tool), s.target ? oneLine(s.target) : ''].filter(Boolean).join(' ') : oneLine(s.message);
    // Left out of the snapshot (over the size cap, unreadable): said first, so it is never cut off.
    const left = s.notCapturedCount > 0 ? c.red(`[${s.notCapturedCount} not captured] `) : '';
    const leftLen = s.notCapturedCount > 0 ? `[${s.notCapturedCount} not captured] `.length : 0;
    const room = msgWidth - leftLen;
    const summary = left + (said.length > room ? said.slice(0, Math.max(0, room - 1)) + '…' : said);
    return [
      String(s.step),
      c.yellow(s.id.slice(0, 10)),
      kindLabel(s.kind, c),
      age(s.time, now),
      who.length > 16 ? who.slice(0, 15) + '…' : who,
      st ? String(st.files) : '—',
      plusMinus,
      summary,
    ];
  });
  return renderTable({ head: ['step', 'id', 'kind', 'age', 'agent/tool', 'files', '+/−', 'summary'], rows, colAligns: ['right', 'left', 'left', 'left', 'left', 'right', 'right', 'left'], compact: true, styled: true }, color);
}

/** A text for one table cell: line breaks and tabs as spaces, other control characters escaped. */
function oneLine(value: string): string {
  return quote(value.replace(/[\n\t]+/g, ' '), 'text');
}

function kindLabel(kind: string, c: Colors): string {
  switch (kind) {
    case 'before':
      return c.dim(kind);
    case 'after':
      return c.green(kind);
    case 'pre-rollback':
    case 'rollback':
      return c.magenta(kind);
    case 'manual':
      return c.cyan(kind);
    default:
      return quote(kind);
  }
}
