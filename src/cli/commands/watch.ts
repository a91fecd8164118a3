/** `ckpt watch [DIR…]`: auto snapshots until Ctrl-C. */
import path from 'node:path';
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { watchThroughDaemon } from '../../watch/daemon-watch.js';
import { startWatching, type WatchOptions } from '../../watch/watcher.js';
import { durationMs, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { toCkptError } from '../output.js';

/** Arguments and options of `ckpt watch` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({
  dirs: z.array(z.string()).default([]),
  quiet: durationMs.default(300),
  maxWait: durationMs.default(5000),
  agent: z.string().optional(),
  poll: z.boolean().optional(),
  json,
});
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt watch` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('watch')
    .description('snapshot worktrees automatically whenever a burst of writes settles')
    .argument('[dirs...]', 'worktrees to watch (default: the current one)')
    .option('--quiet <duration>', 'quiet time before a snapshot (default 300ms)')
    .option('--max-wait <duration>', 'snapshot at least this often during continuous writes (default 5s)')
    .option('--agent <name>', 'record snapshots as made by this agent')
    .option('--poll', 'poll the file system instead of inotify (network mounts); never through the daemon')
    .option('--json', 'print one JSON line per snapshot')
    .action(act(schema, run));
}

/** Runs `ckpt watch`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<number> {
  const out = ctx.out;
  const c = out.c;
  const targets = input.dirs.length > 0 ? input.dirs.map((d) => path.resolve(ctx.cwd, d)) : [ctx.cwd];
  const watchOpts: WatchOptions = {
    quietMs: input.quiet,
    maxWaitMs: input.maxWait,
    ...(input.agent ? { agent: input.agent } : {}),
    ...(input.poll ? { poll: true } : {}),
    onSnapshot: (repo, res) => {
      out.event({ event: 'snapshot', worktree: repo.worktree, created: res.created, snapshot: res.snapshot });
      if (res.created) {
        const s = res.snapshot;
        out.line(`${c.dim(new Date(s.time).toLocaleTimeString())} ${c.green(`step ${s.step}`)} ${c.yellow(s.id.slice(0, 10))} ${out.q(repo.worktree)}`);
      }
      for (const w of res.warnings) out.warn(w);
    },
    onError: (repo, err) => {
      const e = toCkptError(err);
      out.event({ event: 'error', worktree: repo?.worktree ?? null, error: e.toJSON() });
      if (!out.json) out.warn(`${repo ? out.q(repo.worktree) + ': ' : ''}${e.message}${e.hint ? ` (${e.hint})` : ''}`);
    },
  };
  // Through the repository's daemon (started when none runs and it is wanted: the default; it
  // snapshots from its dirty set), else in this process. --poll watches in this process: a daemon
  // running with inotify is what --poll is there to avoid.
  const viaDaemon = input.poll ? null : await watchThroughDaemon(targets, watchOpts, { bin: ctx.bin });
  const watching = viaDaemon ?? (await startWatching(targets, watchOpts));
  out.event({ event: 'ready', worktrees: watching.repos.map((r) => r.worktree), ...(viaDaemon ? { daemon: true } : {}) });
  out.line(`watching ${watching.repos.map((r) => out.q(r.worktree)).join(', ')} (Ctrl-C to stop)`);
  // The handlers stay until the watch is closed: while one is installed, a
  // signal that arrives during a snapshot's git child is ours to handle
  // (git/exec.ts then leaves the process alone), so the last snapshot ends
  // instead of the process dying of the signal mid-close.
  let stop = (): void => undefined;
  await new Promise<void>((resolve) => {
    stop = () => resolve();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await watching.close();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  out.event({ event: 'stopped' });
  out.line('stopped');
  return 0;
}
