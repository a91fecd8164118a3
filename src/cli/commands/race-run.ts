/** `race "TASK" --models LIST [...]`: run a race, live status, summary table. */
import pc from 'picocolors';
import type { Ctx } from '../main.js';
import { planRace } from '../../race/plan.js';
import { runRace } from '../../race/run.js';
import type { RaceRecord } from '../../race/types.js';
import { renderLive, renderSummary } from '../race-table.js';
import { EXIT, duration, useColor } from '../output.js';

interface Opts {
  models: string;
  check?: string;
  base?: string;
  timeout?: string;
  idleTimeout?: string;
  checkTimeout?: string;
  maxParallel?: string;
  setup?: string;
  worktreeDir?: string;
  clean?: boolean;
  dryRun?: boolean;
}

export async function run(ctx: Ctx, taskWords: string[], opts: Opts): Promise<number> {
  const task = taskWords.join(' ');
  const plan = await planRace({
    cwd: ctx.cwd,
    task,
    models: opts.models,
    check: opts.check ?? null,
    base: opts.base ?? null,
    timeout: opts.timeout ?? null,
    idleTimeout: opts.idleTimeout ?? null,
    checkTimeout: opts.checkTimeout ?? null,
    maxParallel: opts.maxParallel ? Number(opts.maxParallel) : null,
    setup: opts.setup ?? null,
    worktreeDir: opts.worktreeDir ?? null,
    ckptBin: ctx.bin,
  });
  if (opts.dryRun) {
    const attempts = plan.attempts.map((a) => ({ name: a.name, agent: a.agent, model: a.model, command: a.argv, taskViaStdin: a.stdin, dir: a.dir, branch: a.branch, port: a.port, env: a.env, timeoutMs: a.timeoutMs }));
    ctx.out.result({ id: plan.id, task, check: plan.check, setup: plan.setup, base: plan.base.spec ?? 'the worktree as it is now', attempts });
    ctx.out.line(`race ${plan.id} (dry run: nothing created, nothing run)`);
    ctx.out.line(`task: ${JSON.stringify(task)}`);
    for (const a of attempts) {
      ctx.out.line(`\n${a.name}  (${a.agent}${a.model ? `@${a.model}` : ''})`);
      ctx.out.line(`  command: ${JSON.stringify(a.command)}${a.taskViaStdin ? '  (task on stdin)' : ''}`);
      ctx.out.line(`  dir:     ${a.dir}`);
      ctx.out.line(`  branch:  ${a.branch}`);
      ctx.out.line(`  env:     ${Object.entries(a.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    }
    if (plan.check) ctx.out.line(`\ncheck: ${plan.check}`);
    return EXIT.ok;
  }
  const color = useColor();
  const tty = !ctx.out.json && !!process.stdout.isTTY;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let logUpdate: ((s: string) => void) & { done?: () => void } = () => undefined;
  let ticker: NodeJS.Timeout | null = null;
  let latest: RaceRecord | null = null;
  const lastStates = new Map<string, string>();
  if (tty) {
    const { createLogUpdate } = await import('log-update');
    logUpdate = createLogUpdate(process.stdout);
    ticker = setInterval(() => latest && logUpdate(renderLive(latest, color, process.stdout.columns ?? 100)), 250);
  }
  if (!ctx.out.json) ctx.out.line(`race ${plan.id}: ${plan.attempts.length} attempts on ${JSON.stringify(task.length > 60 ? task.slice(0, 59) + '…' : task)}`);
  let race: RaceRecord;
  try {
    race = await runRace(plan, {
      ckptBin: ctx.bin,
      signal: abort.signal,
      clean: !!opts.clean,
      onUpdate: (r) => {
        latest = r;
        if (tty || ctx.out.json) return;
        for (const a of r.attempts) {
          if (lastStates.get(a.name) === a.state) continue;
          lastStates.set(a.name, a.state);
          const extra = ['done', 'failed', 'timeout'].includes(a.state) ? ` in ${duration(a.durationMs ?? 0)}, ${a.steps} steps, ${a.files} files${a.error ? `: ${a.error.slice(0, 120)}` : ''}` : '';
          ctx.out.line(`[${a.name}] ${a.state}${extra}`);
        }
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ticker) clearInterval(ticker);
    if (tty && latest) {
      logUpdate(renderLive(latest, color, process.stdout.columns ?? 100));
      logUpdate.done?.();
    }
  }
  ctx.out.result(race);
  ctx.out.line('');
  ctx.out.line(renderSummary(race, color));
  for (const w of race.warnings) ctx.out.warn(w);
  if (race.state === 'interrupted') {
    ctx.out.line(`race ${race.id} interrupted; see it with: race show --race ${race.id}`);
    return EXIT.interrupted;
  }
  if (race.best) ctx.out.line(`\nbest: ${color ? pc.bold(race.best) : race.best}   take it: race pick ${race.best}   compare: race diff --side-by-side / race view`);
  else ctx.out.line('\nno attempt finished cleanly with changes; compare: race diff, logs: race show');
  return EXIT.ok;
}
