/** `ckpt gc --keep N --older-than DURATION`. */
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { gc } from '../../snapshot/gc.js';

export async function run(ctx: Ctx, opts: { keep?: number; olderThan?: string; dryRun?: boolean }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const res = await gc(repo, {
    ...(opts.keep !== undefined ? { keep: opts.keep } : {}),
    ...(opts.olderThan !== undefined ? { olderThan: opts.olderThan } : {}),
    dryRun: !!opts.dryRun,
  });
  ctx.out.result(res);
  if (res.dropped === 0) ctx.out.line(`nothing to prune (${res.kept} snapshot(s) kept)`);
  else ctx.out.line(`${res.dryRun ? 'would drop' : 'dropped'} ${res.dropped} snapshot(s) (steps ${Math.min(...res.droppedSteps)}–${Math.max(...res.droppedSteps)}), kept ${res.kept}; git frees their objects at its next gc`);
}
