/** `race diff [ATTEMPT…] [--side-by-side] [--stat]`. */
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { attemptDiffs } from '../../race/compare.js';
import { resolveRace } from '../../race/store.js';
import { useColor } from '../output.js';

export async function run(ctx: Ctx, names: string[], opts: { race?: string; sideBySide?: boolean; stat?: boolean; pager?: boolean }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const race = resolveRace(repo, opts.race);
  const color = !ctx.out.json && useColor();
  if (opts.sideBySide && !ctx.out.json) {
    const view = await import('../../view/terminal.js');
    const text = await view.renderRaceSideBySide(repo, race, names, { width: process.stdout.columns ?? 160, color });
    await view.page(text, { enabled: opts.pager !== false });
    return;
  }
  const diffs = await attemptDiffs(repo, race, names, { color, statOnly: !!opts.stat });
  ctx.out.result({ race: race.id, base: race.base, attempts: diffs });
  for (const d of diffs) {
    ctx.out.line(color ? pc.bold(pc.cyan(`=== ${d.attempt}: ${d.files.length} file(s)`)) : `=== ${d.attempt}: ${d.files.length} file(s)`);
    if (opts.stat || !d.patch) {
      for (const f of d.files) ctx.out.line(` ${f.status} ${f.path}  ${f.binary ? 'binary' : `+${f.insertions} −${f.deletions}`}`);
    } else if (!ctx.out.json) process.stdout.write(d.patch);
  }
}
