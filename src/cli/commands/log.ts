/** `ckpt log`: the steps of this worktree as a table. */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { listSteps } from '../../snapshot/store.js';
import type { Step } from '../../core/types.js';
import { age, useColor } from '../output.js';

export async function run(ctx: Ctx, opts: { maxCount?: number }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const steps = await listSteps(repo, opts.maxCount !== undefined ? { limit: opts.maxCount } : {});
  ctx.out.result({ worktree: repo.worktree, ref: repo.ref, steps });
  if (steps.length === 0) {
    ctx.out.line('no snapshots yet: take one with `ckpt snap`, or run `ckpt watch`');
    return;
  }
  ctx.out.line(renderLog(steps, process.stdout.columns ?? 120, useColor()));
}

/** Renders steps as a table fitted to `width` columns. */
export function renderLog(steps: Step[], width: number, color: boolean, now = Date.now()): string {
  const c = color ? pc : (pc.createColors(false) as typeof pc);
  const fixed = 6 + 12 + 14 + 9 + 16 + 7 + 13 + 8 * 3;
  const msgWidth = Math.max(12, Math.min(60, width - fixed));
  const table = new Table({
    head: ['step', 'id', 'kind', 'age', 'agent/tool', 'files', '+/−', 'summary'],
    style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    colAligns: ['right', 'left', 'left', 'left', 'left', 'right', 'right', 'left'],
  });
  for (const s of steps) {
    const who = [s.agent, s.tool].filter(Boolean).join('/') || '—';
    const st = s.stats;
    const plusMinus = st ? `${c.green(`+${st.insertions}`)} ${c.red(`−${st.deletions}`)}` : '—';
    // A step that served several parallel tool calls: its message lists them all.
    const summary = s.tool && s.toolUseIds.length <= 1 ? [s.tool, s.target].filter(Boolean).join(' ') : s.message;
    table.push([
      String(s.step),
      c.yellow(s.id.slice(0, 10)),
      kindLabel(s.kind, c),
      age(s.time, now),
      who.length > 16 ? who.slice(0, 15) + '…' : who,
      st ? String(st.files) : '—',
      plusMinus,
      summary.length > msgWidth ? summary.slice(0, msgWidth - 1) + '…' : summary,
    ]);
  }
  return table.toString();
}

function kindLabel(kind: string, c: typeof pc): string {
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
      return kind;
  }
}
