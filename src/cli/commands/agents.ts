/**
 * `ckpt agents [--watch] [--json]`: who is waiting for you. Every worktree of
 * the repository with its agent, state, last step and files changed since
 * the session began (agents/overview.ts), newest activity first; `--watch`
 * redraws while states change and, when an agent starts waiting for input,
 * rings the terminal bell and sends a desktop notification where
 * `notify-send` exists (`--no-notify`, or `notify.bell` / `notify.desktop`
 * false in `.ckpt/config.json`, turn them off).
 */
import type { Command } from 'commander';
import * as z from '../../core/zod.js';
import { openRepo } from '../../git/repo.js';
import { agentsOverview, type AgentRow, type OverviewCache } from '../../agents/overview.js';
import { loadConfig } from '../../race/config.js';
import { durationMs, flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { notifyDesktop } from '../notify.js';
import { age, renderTable, type Output } from '../output.js';

/** Arguments and options of `ckpt agents` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({
  watch: flag,
  interval: durationMs.default(500),
  notify: z.boolean().optional(),
  json,
});
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `ckpt agents` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(parent: Command, act: Act): void {
  parent
    .command('agents')
    .description('every worktree with its agent and state (running which tool, waiting for input since when, idle, finished, stale), newest activity first')
    .option('--watch', 'redraw as states change; ring the bell and notify when an agent starts waiting (Ctrl-C to stop)')
    .option('--interval <duration>', 'with --watch: how often states are read (default 500ms)')
    .option('--no-notify', 'with --watch: no bell and no desktop notification')
    .option('--json', 'print JSON (with --watch: one JSON line per change)')
    .action(act(schema, run));
}

/** Runs `ckpt agents`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<number> {
  const out = ctx.out;
  const repo = await openRepo(ctx.cwd);
  const cache: OverviewCache = new Map();
  if (!input.watch) {
    const rows = await agentsOverview(repo, { cache });
    out.result({ agents: rows });
    render(out, rows).forEach((l) => out.line(l));
    return 0;
  }
  const config = loadConfig(repo.worktree).notify ?? {};
  const bell = input.notify !== false && config.bell !== false;
  const desktop = input.notify !== false && config.desktop !== false;
  const live = await out.live();
  let stopped = false;
  let wake = (): void => undefined;
  const stop = (): void => {
    stopped = true;
    wake();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    let shown = '';
    let waits: Map<string, number> | null = null;
    while (!stopped) {
      const rows = await agentsOverview(repo, { cache });
      const text = render(out, rows).join('\n');
      // What counts as a change (not the ages, which move every second): on a terminal the table is redrawn
      // in place each time (log-update skips an identical frame); elsewhere it is printed again only on a change.
      const key = JSON.stringify(rows.map((r) => [r.worktree, r.agent, r.status, r.statusText, r.lastStep?.id ?? null, r.changed]));
      if (live) live.update(text);
      if (key !== shown) {
        shown = key;
        out.event({ event: 'agents', agents: rows });
        if (!live) out.line(`${text}\n`);
      }
      // An agent starts waiting: a wait not seen before (the first read only learns what already waits).
      const now = new Map(rows.filter((r) => r.status === 'waiting').map((r) => [r.worktree, r.state?.waitingSince ?? 0]));
      if (waits) {
        for (const r of rows) {
          if (r.status !== 'waiting' || waits.get(r.worktree) === now.get(r.worktree)) continue;
          out.event({ event: 'waiting', worktree: r.worktree, agent: r.agent, since: r.state?.waitingSince ?? null, reason: r.state?.reason ?? null, tool: r.state?.tool ?? null });
          if (bell) out.bell();
          if (desktop) notifyDesktop(`${r.agent ?? 'agent'} is waiting for input`, `${r.worktree}: ${r.statusText}`);
        }
      }
      waits = now;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, input.interval);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    live?.done();
  }
  out.event({ event: 'stopped' });
  return 0;
}

/** The table of {@link agentsOverview}'s rows: names quoted, texts escaped. */
function render(out: Output, rows: AgentRow[]): string[] {
  if (rows.length === 0) return ['no worktrees'];
  const c = out.c;
  const colour = (r: AgentRow, s: string): string =>
    r.status === 'waiting' ? c.yellow(c.bold(s)) : r.status === 'running' ? c.cyan(s) : r.status === 'stale' ? c.red(s) : r.status === 'none' ? c.dim(s) : s;
  const table = rows.map((r) => {
    const where = (r.current ? '* ' : '  ') + out.q(r.worktree) + (r.race ? ` ${c.dim(`(race ${out.q(r.race.id)} ${out.q(r.race.attempt)})`)}` : '');
    const step = r.lastStep ? `${r.lastStep.step} ${r.lastStep.kind}${r.lastStep.tool ? ` ${r.lastStep.tool}` : ''}${r.lastStep.target ? ` ${r.lastStep.target}` : ''}` : '—';
    return [
      where,
      r.agent ? out.q(r.agent) : c.dim('—'),
      colour(r, out.t(r.statusText)),
      r.activityAt ? age(r.activityAt) : '—',
      out.t(step.length > 60 ? `${step.slice(0, 59)}…` : step),
      r.changed === null ? '—' : String(r.changed),
    ];
  });
  return [renderTable({ head: ['worktree', 'agent', 'state', 'active', 'last step', 'changed'], rows: table, colAligns: ['left', 'left', 'left', 'right', 'left', 'right'], compact: true, styled: true }, out.color)];
}
