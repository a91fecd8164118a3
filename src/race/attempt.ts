/**
 * One attempt, start to end: `setup` (worktree, copied files, the setup
 * command) → `running` (base snapshot, watcher, the agent) → its outcome
 * (`done`, `failed`, `timeout`, `interrupted`), set only once the final
 * snapshot and its counts are in → `checking` (the `--check` command) → back
 * to the outcome. Every change is passed to `changed()`, which saves the
 * record.
 */
import path from 'node:path';
import { parseDuration } from '../core/duration.js';
import { openRepo } from '../git/repo.js';
import { takeSnapshot } from '../snapshot/take.js';
import { startWatching } from '../watch/watcher.js';
import { runProcess } from '../agents/process.js';
import type { ResolvedBase } from './base.js';
import { attemptOutcome } from './outcome.js';
import type { RacePlan } from './plan.js';
import { parseOutput } from '../agents/presets.js';
import { countChanges } from './progress.js';
import { raceDir } from './store.js';
import type { RaceRecord } from './types.js';
import { copyIgnoredFiles, createAttemptWorktree } from './worktree.js';

/** How long the final snapshot waits for the attempt's worktree lock, ms (a lock is stale after 10 s). */
const FINAL_LOCK_WAIT_MS = 30_000;

/** Limit of the `--setup` command, ms. */
const SETUP_TIMEOUT_MS = parseDuration('20m');

/**
 * Runs attempt `i` of `race` to its end. Never throws for the attempt's own
 * failure (setup, agent, check): that is recorded in `race.attempts[i]`.
 */
export async function runAttempt(plan: RacePlan, race: RaceRecord, i: number, base: ResolvedBase, signal: AbortSignal | undefined, changed: () => void): Promise<void> {
  const p = plan.attempts[i]!;
  const a = race.attempts[i]!;
  const { repo } = plan;
  a.state = 'setup';
  a.startedAt = Date.now();
  changed();
  const env: Record<string, string | undefined> = { ...process.env, ...p.env };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) env[k] = undefined;
  // Every process the agent, its setup or its check starts ends with it.
  const confine = { mechanism: plan.confinement, sweep: { dir: p.dir, marker: { CKPT_RACE_ID: race.id, CKPT_ATTEMPT: a.name }, sinceMs: a.startedAt } };
  const stragglers = (what: string, pids: number[]): void => {
    if (pids.length > 0) race.warnings.push(`${a.name}: ended ${pids.length} process(es) its ${what} left running (${plan.confinement === 'sweep' ? 'sweep' : `outside its ${plan.confinement} PID namespace`}): pid ${pids.join(', ')}`);
  };
  try {
    await createAttemptWorktree(repo, base, p.dir, p.branch);
    const rc = plan.config.race ?? {};
    await copyIgnoredFiles(repo, p.dir, { copy: rc.copy ?? [], symlink: rc.symlink ?? [] });
    if (plan.setup) {
      const s = await runProcess({ argv: [plan.setup], shell: true, cwd: p.dir, env, logFile: a.log, timeoutMs: SETUP_TIMEOUT_MS, confine, ...(signal ? { signal } : {}) }).done;
      stragglers('setup command', s.stragglers);
      if (s.exitCode !== 0) throw new Error(`setup command failed (${s.stoppedBy ?? `exit ${s.exitCode}`}): ${s.outputTail.split('\n').slice(-3).join(' ').trim()}`);
    }
  } catch (err) {
    a.state = signal?.aborted ? 'interrupted' : 'failed';
    a.error = `setup: ${(err as Error).message}`;
    a.endedAt = Date.now();
    a.durationMs = a.endedAt - a.startedAt;
    changed();
    return;
  }
  const attemptRepo = await openRepo(p.dir);
  a.ref = attemptRepo.ref;
  await takeSnapshot(attemptRepo, { kind: 'base', force: true, agent: p.agent, message: `base of race ${race.id}`, extra: { Race: race.id, Attempt: a.name } });
  let proc: ReturnType<typeof runProcess> | null = null;
  const watching = await startWatching([p.dir], {
    agent: p.agent,
    initialSnapshot: false,
    onSnapshot: (_r, res) => {
      proc?.touch();
      if (res.created) {
        a.steps = res.snapshot.step - 1;
        changed();
      }
    },
  });
  a.state = 'running';
  a.startedAt = Date.now();
  changed();
  if (signal?.aborted) {
    await watching.close();
    a.state = 'interrupted';
    a.endedAt = Date.now();
    changed();
    return;
  }
  proc = runProcess({
    argv: p.argv,
    cwd: p.dir,
    env,
    ...(p.stdin ? { stdin: plan.task } : {}),
    logFile: a.log,
    timeoutMs: p.timeoutMs,
    idleTimeoutMs: plan.idleTimeoutMs,
    confine,
    ...(signal ? { signal } : {}),
    onLine: (line) => {
      const t = line.trim();
      if (t) a.lastLine = t.length > 200 ? t.slice(0, 199) + '…' : t;
    },
  });
  const res = await proc.done;
  stragglers('agent', res.stragglers);
  await watching.close();
  a.endedAt = Date.now();
  a.durationMs = res.durationMs;
  a.exitCode = res.exitCode;
  a.signal = res.signal;
  a.outputBytes = res.outputBytes;
  const parsed = parseOutput(p.preset.output, res.stdoutTail);
  a.tokens = parsed.tokens;
  a.costUsd = parsed.costUsd;
  a.resultText = parsed.resultText ? parsed.resultText.slice(0, 2000) : null;
  // The outcome is assigned only once the final snapshot and its counts are in,
  // so a live view never shows an ended attempt with stale files and steps.
  const { state, error } = attemptOutcome(res, parsed, { timeoutMs: p.timeoutMs, idleTimeoutMs: plan.idleTimeoutMs });
  // The final state of the attempt, whatever the watcher saw.
  // A hook that the agent's end killed inside its PID namespace can leave the worktree lock
  // held by a process ckpt cannot judge from outside that namespace: wait until it is stale.
  let finalError: string | null = null;
  try {
    const fin = await takeSnapshot(attemptRepo, { kind: 'auto', agent: p.agent, message: `end of ${a.name} (${state})` }, { waitMs: FINAL_LOCK_WAIT_MS });
    a.final = fin.snapshot.id;
    a.steps = fin.snapshot.step - 1;
    await countChanges(repo, race, a, fin.snapshot.tree);
  } catch (err) {
    // The worktree still holds the attempt; its chain's tip is what pick and diff read.
    finalError = `its final snapshot failed (the worktree is kept as it is): ${(err as Error).message}`;
  }
  a.state = state;
  if (error !== null || finalError !== null) a.error = [error, finalError].filter(Boolean).join('; ');
  changed();
  if (plan.check && a.state !== 'interrupted') {
    const finalState = a.state;
    a.state = 'checking';
    changed();
    const checkLog = path.join(raceDir(repo, race.id), 'checks', `${a.name}.log`);
    const c = await runProcess({ argv: [plan.check], shell: true, cwd: p.dir, env, logFile: checkLog, timeoutMs: plan.checkTimeoutMs, confine, ...(signal ? { signal } : {}) }).done;
    stragglers('check', c.stragglers);
    a.check = {
      command: plan.check,
      exitCode: c.exitCode,
      passed: c.exitCode === 0 && !c.stoppedBy,
      durationMs: c.durationMs,
      tail: c.outputTail,
      timedOut: c.stoppedBy === 'timeout',
    };
    a.state = c.stoppedBy === 'abort' ? 'interrupted' : finalState;
    // A check that wrote files (build output is usually ignored) is not the agent's work:
    // the attempt's final snapshot stays the one taken before the check.
    changed();
  }
}
