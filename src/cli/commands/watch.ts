/** `ckpt watch [DIR…]`: auto snapshots until Ctrl-C. */
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { startWatching } from '../../watch/watcher.js';
import { toCkptError } from '../output.js';
import path from 'node:path';

export async function run(ctx: Ctx, dirs: string[], opts: { quiet: number; maxWait: number; agent?: string }): Promise<number> {
  const targets = dirs.length > 0 ? dirs.map((d) => path.resolve(ctx.cwd, d)) : [ctx.cwd];
  const json = ctx.out.json;
  const emit = (obj: unknown): void => {
    if (json) process.stdout.write(JSON.stringify(obj) + '\n');
  };
  const watching = await startWatching(targets, {
    quietMs: opts.quiet,
    maxWaitMs: opts.maxWait,
    ...(opts.agent ? { agent: opts.agent } : {}),
    onSnapshot: (repo, res) => {
      emit({ event: 'snapshot', worktree: repo.worktree, created: res.created, snapshot: res.snapshot });
      if (!json && res.created) {
        const s = res.snapshot;
        ctx.out.line(`${pc.dim(new Date(s.time).toLocaleTimeString())} ${pc.green(`step ${s.step}`)} ${pc.yellow(s.id.slice(0, 10))} ${repo.worktree}`);
      }
      for (const w of res.warnings) ctx.out.warn(w);
    },
    onError: (repo, err) => {
      const e = toCkptError(err);
      emit({ event: 'error', worktree: repo?.worktree ?? null, error: e.toJSON() });
      if (!json) ctx.out.warn(`${repo ? repo.worktree + ': ' : ''}${e.message}${e.hint ? ` (${e.hint})` : ''}`);
    },
  });
  emit({ event: 'ready', worktrees: watching.repos.map((r) => r.worktree) });
  if (!json) ctx.out.line(`watching ${watching.repos.map((r) => r.worktree).join(', ')} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await watching.close();
  emit({ event: 'stopped' });
  if (!json) ctx.out.line('stopped');
  return 0;
}
