/** `ckpt status`: worktrees with snapshots, last step, storage. */
import Table from 'cli-table3';
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { status } from '../../snapshot/gc.js';
import { age, bytes } from '../output.js';

export async function run(ctx: Ctx): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const chains = await status(repo);
  ctx.out.result({ current: repo.id, worktrees: chains });
  if (chains.length === 0) {
    ctx.out.line('no snapshots in this repository yet');
    return;
  }
  const table = new Table({ head: ['worktree', 'snapshots', 'last step', 'when', 'kind', 'storage'], style: { head: [], border: [] } });
  for (const c of chains) {
    const here = c.id === repo.id ? '* ' : '  ';
    table.push([
      here + (c.worktree || c.id) + (c.present ? '' : ' (gone)'),
      String(c.snapshots),
      c.last ? String(c.last.step) : '—',
      c.last ? age(c.last.time) : '—',
      c.last ? c.last.kind : '—',
      c.bytes === null ? '—' : bytes(c.bytes),
    ]);
  }
  ctx.out.line(table.toString());
}
