/** `ckpt daemon start | stop | status | run`: the repository's daemon (watch/daemon.ts). */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { runDaemon } from '../../watch/daemon.js';
import { lazyRollback } from '../daemon-run.js';
import { daemonStatus, startDaemon, stopDaemon } from '../../watch/daemon-control.js';
import { durationMs, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { bytes } from '../output.js';
import { counted } from '../../core/plural.js';

/** Options of `ckpt daemon run` (durations with a unit, validated before {@link run}: `INVALID_DURATION`, exit 2). */
export const runSchema = z.object({ idle: durationMs.optional(), verify: durationMs.optional(), poll: z.boolean().optional() });
/** Options of `ckpt daemon start`: those of `run`, and `--json`. */
export const startSchema = z.object({ idle: durationMs.optional(), verify: durationMs.optional(), poll: z.boolean().optional(), json });
/** Options of `ckpt daemon stop` and `status`. */
export const plainSchema = z.object({ json });

/** Declares `ckpt daemon start | stop | status | run` on `parent`; `act` validates each with its schema. */
export function register(parent: Command, act: Act): void {
  const d = parent
    .command('daemon')
    .description("the repository's daemon: watches every worktree, snapshots only what changed (on by default: hooks, watch, rollback and races start it; off: CKPT_NO_DAEMON=1 or git config ckpt.daemon false)");
  d.command('start')
    .description('start the daemon of this repository now (nothing happens when one runs; hooks, watch, rollback and races start it by themselves)')
    .option('--idle <duration>', 'stop after this long without a request or a change (default: CKPT_DAEMON_IDLE, else 30m)')
    .option('--verify <duration>', "after this long of quiet, compare git's view with the last snapshot (default 60s)")
    .option('--poll', 'poll the file system instead of inotify (network mounts); every snapshot then reads the whole worktree')
    .option('--json', 'print JSON')
    .action(act(startSchema, start));
  d.command('stop').description('stop the daemon of this repository (the next hook, watch, rollback or race starts it again unless it is turned off)').option('--json', 'print JSON').action(act(plainSchema, stop));
  d.command('status').description('pid, worktrees watched, memory, events, snapshots, full reads and why').option('--json', 'print JSON').action(act(plainSchema, status));
  d.command('run', { hidden: true })
    .description('run the daemon in the foreground (what `start` runs)')
    .option('--idle <duration>')
    .option('--verify <duration>')
    .option('--poll')
    .action(act(runSchema, run));
}

/** `ckpt daemon start`: throws `DAEMON_FAILED` when it does not answer in time. */
async function start(ctx: Ctx, input: z.output<typeof startSchema>): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const args = [...(input.idle ? ['--idle', `${input.idle}ms`] : []), ...(input.verify ? ['--verify', `${input.verify}ms`] : []), ...(input.poll ? ['--poll'] : [])];
  const res = await startDaemon(repo, ctx.bin, args);
  ctx.out.result(res);
  ctx.out.line(res.started ? `daemon started (pid ${res.pid})` : `a daemon already runs (pid ${res.pid})`);
}

/** `ckpt daemon stop`: throws `DAEMON_NOT_RUNNING`, `DAEMON_FAILED`. */
async function stop(ctx: Ctx, _input: z.output<typeof plainSchema>): Promise<void> {
  const repo = await openRepo(ctx.cwd);
  const res = await stopDaemon(repo);
  ctx.out.result({ stopped: true, ...res });
  ctx.out.line(`daemon stopped (pid ${res.pid})`);
}

/** `ckpt daemon status`: exit 1 when none runs. */
async function status(ctx: Ctx, _input: z.output<typeof plainSchema>): Promise<number> {
  const repo = await openRepo(ctx.cwd);
  const { status: s, other, silentPid } = await daemonStatus(repo);
  ctx.out.result({ running: s !== null, ...(other ? { otherVersion: other } : {}), ...(silentPid !== undefined ? { silentPid } : {}), ...(s ? { status: s } : {}) });
  if (!s) {
    ctx.out.line(other ? `a daemon of another ckpt version runs (${ctx.out.q(other)})` : silentPid !== undefined ? `the daemon (pid ${silentPid}) runs but did not answer` : 'no daemon runs for this repository');
    return 1;
  }
  ctx.out.line(`daemon pid ${s.pid}, ckpt ${s.version}, up ${Math.round(s.uptimeMs / 1000)} s, memory ${bytes(s.rssBytes)}, ${counted(s.requests, 'request')}${s.rollbacks ? `, ${counted(s.rollbacks, 'rollback')} run for their clients` : ''}${refusals(s.rollbackRefusals)}`);
  for (const w of s.worktrees) {
    const rescans = Object.entries(w.rescans).map(([why, n]) => `${n}× ${why}`).join('; ') || 'none';
    ctx.out.line(`  ${ctx.out.q(w.worktree)}: ${w.source === 'poll' ? 'polled (--poll)' : `${counted(w.watches, 'directory', 'directories')} watched`}, ${counted(w.events, 'event')}, ${counted(w.snapshots, 'snapshot')} (${w.incremental} in process), full reads: ${rescans}; missed changes found by the idle check: ${w.missed}`);
  }
  return 0;
}

/** `ckpt daemon run`: the daemon in the foreground until it stops; throws `DAEMON_RUNNING`. */
async function run(ctx: Ctx, input: z.output<typeof runSchema>): Promise<void> {
  const why = await runDaemon(ctx.cwd, { rollback: lazyRollback, ...(input.idle ? { idleMs: input.idle } : {}), ...(input.verify ? { verifyMs: input.verify } : {}), ...(input.poll ? { poll: true } : {}) });
  ctx.out.line(`daemon stopped: ${why}`);
}

/** The status line's part for refused rollbacks (", 3 rollbacks refused: env PATH 2, umask 1"), empty when none was; an older daemon's status has none. */
function refusals(by: Record<string, number> | undefined): string {
  const all = Object.entries(by ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (all.length === 0) return '';
  const total = all.reduce((n, [, c]) => n + c, 0);
  return `, ${counted(total, 'rollback')} refused (the CLI ran ${total === 1 ? 'it' : 'them'}): ${all.map(([r, c]) => `${r} ${c}`).join(', ')}`;
}
