/** `race "TASK" --models LIST [...]`: run a race, live status, summary table. */
import type { Command } from 'commander';
import { Option } from 'commander';
import * as z from '../../core/zod.js';
import { durationText } from '../../core/duration-schema.js';
import { formatDuration } from '../../core/duration.js';
import { MAX_ROUNDS, parseModels } from '../../race/config.js';
import { planRace, type RacePlan } from '../../race/plan.js';
import { DEPS_STRATEGIES } from '../../race/deps.js';
import { compactHeap } from '../../race/heap.js';
import { runRace } from '../../race/run.js';
import { describeConfinement } from '../../agents/confine.js';
import { describeSandbox } from '../../race/fence.js';
import type { RaceRecord } from '../../race/types.js';
import { count, flag, json, type Act } from '../command.js';
import type { Ctx } from '../context.js';
import { renderLive, renderSummary, reviewLines } from '../race-table.js';
import { EXIT, duration, type Live } from '../output.js';
import { counted } from '../../core/plural.js';

/** `--models`: checked here with the race's own parser (no empty entry, known shape). */
const models = z.string().superRefine((s, ctx) => {
  try {
    parseModels(s);
  } catch (err) {
    const e = err as { message: string; hint?: string };
    ctx.addIssue({ code: 'custom', message: e.message.replace(/^--models /, ''), params: { hint: e.hint } });
  }
});

/** Arguments and options of `race run` as commander gives them; validated before {@link run} (a bad value: `INVALID_ARGUMENT` or `INVALID_DURATION`, exit 2). */
export const schema = z.object({
  task: z.array(z.string()).min(1),
  models,
  check: z.string().optional(),
  base: z.string().optional(),
  timeout: durationText.optional(),
  idleTimeout: durationText.optional(),
  checkTimeout: durationText.optional(),
  maxParallel: count(1).optional(),
  rounds: count(1, MAX_ROUNDS).optional(),
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, 'NAME=VALUE (NAME: letters, digits, _)')).optional(),
  teardown: z.string().optional(),
  sandbox: flag,
  network: z.boolean().default(true),
  reviewBy: z.string().min(1).optional(),
  judge: z.string().min(1).optional(),
  setup: z.string().optional(),
  deps: z.enum(DEPS_STRATEGIES).optional(),
  unsafeDeps: flag,
  worktreeDir: z.string().optional(),
  clean: flag,
  keep: flag,
  dryRun: flag,
  json,
});
/** What {@link run} receives: {@link schema}'s output. */
export type Input = z.output<typeof schema>;

/** Declares `race run` and its options on `parent`; `act` validates them with {@link schema}. */
export function register(race: Command, act: Act): void {
  race
    .command('run', { isDefault: true })
    .description('race agents on TASK (the default: `race "TASK" --models claude,codex`)')
    .argument('<task...>', 'the task, given to every agent as one argument (or on stdin)')
    .requiredOption('-m, --models <list>', 'agents: claude,codex | claude@opus,claude@sonnet | claude:3')
    .option('--check <cmd>', 'run in each attempt when its agent ends (e.g. "npm test")')
    .option('--base <ref>', 'start from this snapshot (step, id) or git revision (default: the worktree as it is now)')
    .option('--timeout <duration>', 'wall-clock limit per agent, with a unit: 30m, 2h (default 30m)')
    .option('--idle-timeout <duration>', 'kill an agent silent this long (default 10m)')
    .option('--check-timeout <duration>', 'limit for --check (default 15m)')
    .option('--max-parallel <n>', 'run at most N agents at once (N ≥ 1)')
    .option('--rounds <n>', `with --check: when it fails, give the agent its output and run it again, up to N runs in all (1–${MAX_ROUNDS}, default race.rounds or 1)`)
    .option('--env <NAME=VALUE>', 'set in each attempt (repeatable; over race.env): {attempt}, {index}, {port}, {raceId}, {dir} are replaced', (v: string, prev: string[] = []) => [...prev, v])
    .option('--teardown <cmd>', 'run in each attempt by race clean / --clean before its worktree goes (default race.teardown)')
    .option('--sandbox', 'run each attempt\'s setup, agent, check and teardown, and reviewers, under bubblewrap: only its worktree, its git dirs, its own state and a private /tmp are writable (default race.sandbox)')
    .option('--no-network', 'with --sandbox: no network for the agents, checks and reviewers')
    .option('--review-by <agent>', 'AGENT[@MODEL] reviews every attempt that finished (approve / request changes); with --rounds, "request changes" is one more round')
    .option('--judge <agent>', 'AGENT[@MODEL] ranks the finished attempts with reasons (shown beside ckpt\'s score)')
    .option('--setup <cmd>', 'run in each attempt before its agent (e.g. "npm ci")')
    .option('--deps <strategy>', `how each attempt gets node_modules: ${DEPS_STRATEGIES.join(', ')} (default race.deps, else auto: a copy-on-write clone where the file system has them, else a copy)`)
    .option('--unsafe-deps', 'accept --deps hardlink or symlink (and race.symlink): an attempt can then change your own node_modules')
    .option('--worktree-dir <dir>', 'where attempt worktrees go (default ~/.cache/ckpt/worktrees)')
    .addOption(new Option('--clean', 'remove the worktrees when the race ends (snapshots stay)').conflicts('keep'))
    .addOption(new Option('--keep', 'keep the worktrees (the default)'))
    .option('-n, --dry-run', "print each attempt's command, directory, environment and limits; run nothing")
    .option('--json', 'print the race record as JSON at the end')
    .action(act(schema, run));
}

/** Runs `race run`; prints through `ctx.out` only. Errors are thrown as `CkptError`s for the CLI to report. */
export async function run(ctx: Ctx, input: Input): Promise<number> {
  const out = ctx.out;
  const task = input.task.join(' ');
  const plan = await planRace({
    cwd: ctx.cwd,
    task,
    models: input.models,
    check: input.check ?? null,
    base: input.base ?? null,
    timeout: input.timeout ?? null,
    idleTimeout: input.idleTimeout ?? null,
    checkTimeout: input.checkTimeout ?? null,
    maxParallel: input.maxParallel ?? null,
    rounds: input.rounds ?? null,
    reviewBy: input.reviewBy ?? null,
    judge: input.judge ?? null,
    env: input.env ? Object.fromEntries(input.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) : null,
    teardown: input.teardown ?? null,
    ...(input.sandbox ? { sandbox: true } : {}),
    network: input.network,
    setup: input.setup ?? null,
    deps: input.deps ?? null,
    ...(input.unsafeDeps ? { unsafeDeps: true } : {}),
    worktreeDir: input.worktreeDir ?? null,
    ckptBin: ctx.bin,
  });
  if (input.dryRun) {
    const attempts = plan.attempts.map((a) => ({ name: a.name, agent: a.agent, model: a.model, command: a.argv, taskViaStdin: a.stdin, laterRounds: a.preset.resume ? 'resume' : 'fresh', dir: a.dir, branch: a.branch, port: a.port, env: a.env, timeoutMs: a.timeoutMs }));
    out.result({ id: plan.id, task, check: plan.check, rounds: plan.rounds, teardown: plan.teardown, sandbox: plan.sandbox, reviewBy: plan.reviewBy, judge: plan.judge, setup: plan.setup, deps: { requested: plan.deps.requested, strategy: plan.deps.strategy, reason: plan.deps.reason, dirs: plan.deps.dirs, install: plan.deps.install?.argv ?? null }, warnings: plan.deps.warnings, sources: plan.sources, copy: plan.copy, base: plan.base.spec ?? 'the worktree as it is now', maxParallel: plan.maxParallel, idleTimeoutMs: plan.idleTimeoutMs, checkTimeoutMs: plan.checkTimeoutMs, confinement: plan.confinement, attempts });
    out.line(`race ${out.q(plan.id)} (dry run: nothing created, nothing run)`);
    out.line(`task: ${out.t(JSON.stringify(task))}`);
    out.line(`limits: ${plan.maxParallel} at once, idle timeout ${formatDuration(plan.idleTimeoutMs)}${plan.check ? `, check timeout ${formatDuration(plan.checkTimeoutMs)}` : ''}`);
    for (const a of attempts) {
      out.line(`\n${out.q(a.name)}  (${out.q(a.agent + (a.model ? `@${a.model}` : ''))})`);
      out.line(`  command: ${out.t(JSON.stringify(a.command))}${a.taskViaStdin ? '  (task on stdin)' : ''}`);
      if (plan.rounds > 1) out.line(`  rounds:  ${a.laterRounds === 'resume' ? 'later rounds resume its own session' : 'later rounds run it again with the follow-up as its task'}`);
      out.line(`  dir:     ${out.q(a.dir)}`);
      out.line(`  branch:  ${out.q(a.branch)}`);
      out.line(`  timeout: ${formatDuration(a.timeoutMs)}`);
      out.line(`  env:     ${Object.entries(a.env).map(([k, v]) => `${out.q(k)}=${out.q(v)}`).join(' ')}`);
    }
    if (plan.check) out.line(`\ncheck: ${out.t(plan.check)}${plan.rounds > 1 ? ` (up to ${plan.rounds} rounds: a failed check goes back to the agent)` : ''}`);
    out.line(`deps: ${depsLine(plan.deps, out)}`);
    const from = (x: string | null): string => (x ? `  (from ${x})` : '');
    if (plan.setup) out.line(`setup: ${out.t(plan.setup)}${from(plan.sources.setup)}`);
    if (plan.teardown) out.line(`teardown (race clean, --clean): ${out.t(plan.teardown)}${from(plan.sources.teardown)}`);
    const envFrom = Object.entries(plan.sources.env);
    if (envFrom.length > 0) out.line(`variables: ${envFrom.map(([k, f]) => `${out.q(k)} (${f})`).join(', ')}`);
    out.line(`copied (ignored files): ${Object.entries(plan.sources.copy).map(([pat, f]) => `${out.q(pat)} (${f})`).join(', ')}`);
    if (plan.sources.peerFiles.length > 0) out.line(`peers' files read: ${plan.sources.peerFiles.join(', ')}`);
    for (const u of plan.sources.unused) out.line(`  ${out.t(u)}`);
    if (plan.sandbox) out.line(describeSandbox(plan.sandbox));
    if (plan.reviewBy) out.line(`review: ${out.q(plan.reviewBy)} reviews each attempt that finishes${plan.rounds > 1 ? ' ("request changes" with rounds left: one more round)' : ''}`);
    if (plan.judge) out.line(`judge: ${out.q(plan.judge)} ranks the finished attempts`);
    out.line(`\nprocesses: ${describeConfinement(plan.confinement)}`);
    for (const w of plan.deps.warnings) out.warn(w);
    return EXIT.ok;
  }
  // This process waits while the agents run, and its memory counts with theirs (race/heap.ts).
  let inSetup = 0;
  const color = out.color;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const live: Live | null = await out.live();
  let ticker: NodeJS.Timeout | null = null;
  let latest: RaceRecord | null = null;
  const lastStates = new Map<string, string>();
  if (live) ticker = setInterval(() => latest && live.update(renderLive(latest, color, out.width(100))), 250);
  out.line(`race ${out.q(plan.id)}: ${counted(plan.attempts.length, 'attempt')} on ${out.t(JSON.stringify(task.length > 60 ? task.slice(0, 59) + '…' : task))}`);
  let race: RaceRecord;
  try {
    race = await runRace(plan, {
      ckptBin: ctx.bin,
      signal: abort.signal,
      clean: !!input.clean,
      onUpdate: (r) => {
        latest = r;
        // The last attempt out of its setup: its agent is being started (this turn of the event loop); then the compaction.
        const setup = r.attempts.filter((a) => a.state === 'setup').length;
        if (setup === 0 && inSetup > 0) setImmediate(compactHeap);
        inSetup = setup;
        if (live || out.json) return;
        for (const a of r.attempts) {
          if (lastStates.get(a.name) === a.state) continue;
          lastStates.set(a.name, a.state);
          const extra = ['done', 'failed', 'timeout'].includes(a.state) ? ` in ${duration(a.durationMs ?? 0)}, ${counted(a.steps, 'step')}, ${counted(a.files, 'file')}${a.error ? `: ${out.t(a.error.slice(0, 120))}` : ''}` : '';
          out.line(`[${out.q(a.name)}] ${a.state}${extra}`);
        }
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ticker) clearInterval(ticker);
    if (live && latest) {
      live.update(renderLive(latest, color, out.width(100)));
      live.done();
    }
  }
  out.result(race);
  out.line('');
  out.line(renderSummary(race, color));
  for (const line of reviewLines(race, out)) out.line(line);
  for (const w of race.warnings) out.warn(w);
  if (race.state === 'interrupted') {
    out.line(`race ${out.q(race.id)} interrupted; see it with: race show --race ${out.q(race.id)}`);
    return EXIT.interrupted;
  }
  if (race.best) out.line(`\nbest: ${out.c.bold(out.q(race.best))}   take it: race pick ${out.q(race.best)}   compare: race diff --side-by-side / race view`);
  else out.line('\nno attempt finished cleanly with changes; compare: race diff, logs: race show');
  return EXIT.ok;
}

/** The dry run's line for the dependencies: strategy (and what `auto` chose), why, which directories. */
function depsLine(d: RacePlan['deps'], out: Ctx['out']): string {
  const what = d.requested === d.strategy ? d.strategy : `${d.requested} → ${d.strategy}`;
  const dirs = d.dirs.length > 0 ? d.dirs.map((x) => out.q(x)).join(', ') : 'none found';
  return `${what} (${out.t(d.reason)}); directories: ${dirs}`;
}
