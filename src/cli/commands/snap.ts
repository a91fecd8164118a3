/** `ckpt snap`: record the worktree now. */
import type { Ctx } from '../main.js';
import { openRepo } from '../../git/repo.js';
import { takeSnapshot } from '../../snapshot/take.js';

export async function run(ctx: Ctx, opts: { message?: string; agent?: string; force?: boolean }): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const res = await takeSnapshot(repo, {
    kind: 'manual',
    ...(opts.message ? { message: opts.message } : {}),
    ...(opts.agent ? { agent: opts.agent } : {}),
    force: !!opts.force,
  });
  for (const w of res.warnings) ctx.out.warn(w);
  ctx.out.result({ created: res.created, snapshot: res.snapshot, warnings: res.warnings });
  if (res.created) ctx.out.line(`step ${res.snapshot.step} recorded (${res.snapshot.id.slice(0, 10)})`);
  else ctx.out.line(`nothing changed since step ${res.snapshot.step} (${res.snapshot.id.slice(0, 10)}); use --force to record anyway`);
}
