/**
 * One attempt, start to end: `setup` (worktree, dependencies, copied files, the setup
 * command) → `running` (base snapshot, watcher, the agent) → its outcome
 * (`done`, `failed`, `timeout`, `interrupted`), set only once the final
 * snapshot and its counts are in → `checking` (the `--check` command) → back
 * to the outcome. With `--rounds N`, a failed check after a `done` agent
 * starts the next round (`running` again, the follow-up of feedback.ts), up
 * to N rounds; every snapshot of a round carries its `Round` trailer. Every change is passed to `changed()`, which saves the
 * record.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../core/duration.js';
import { openRepo, type Repo } from '../git/repo.js';
import { TRAILER } from '../snapshot/format.js';
import { takeSnapshot } from '../snapshot/take.js';
import { readTip } from '../snapshot/tip.js';
import type { Snapshot, SnapshotInput } from '../core/types.js';
import { snapshotThroughDaemon, watchWorktree } from '../watch/daemon-watch.js';
import { attemptSweep } from './sweep-target.js';
import { runProcess, type ProcessOptions, type ProcessResult } from '../agents/process.js';
import type { ResolvedBase } from './base.js';
import { fenced, refusalWarning, worktreeFence, type Fence } from './fence.js';
import { HOOK_SOCKET_ENV, startHookRelay, type HookRelay } from './hook-relay.js';
import { attemptOutcome } from './outcome.js';
import type { RacePlan } from './plan.js';
import { parseOutput, type Tokens } from '../agents/presets.js';
import { followUpPrompt, logTail, reviewFollowUp, roundCommand, type RoundCommand } from './feedback.js';
import { reviewAttempt } from './review.js';
import { countChanges, finishingAttempt } from './progress.js';
import { raceDir } from './store.js';
import type { AttemptState, RaceRecord, RoundRecord } from './types.js';
import { copyIgnoredFiles, createAttemptWorktree } from './worktree.js';
import { provideDeps } from './deps.js';
import { counted } from '../core/plural.js';

/** How long the final snapshot waits for the attempt's worktree lock, ms (a lock is stale after 10 s). */
const FINAL_LOCK_WAIT_MS = 30_000;

/** Limit of the `--setup` command, ms. */
const SETUP_TIMEOUT_MS = parseDuration('20m');

/**
 * Runs attempt `i` of `race` to its end. Never throws for the attempt's own
 * failure (setup, agent, check): that is recorded in `race.attempts[i]`.
 */
export async function runAttempt(plan: RacePlan, race: RaceRecord, i: number, base: ResolvedBase, signal: AbortSignal | undefined, changed: () => void): Promise<void> {
  const relays: HookRelay[] = [];
  try {
    await attemptCourse(plan, race, i, base, signal, changed, relays);
  } finally {
    for (const r of relays) await r.close().catch(() => undefined);
  }
}

/** {@link runAttempt}'s course; a hook relay it starts is pushed to `relays` (closed by the caller). */
async function attemptCourse(plan: RacePlan, race: RaceRecord, i: number, base: ResolvedBase, signal: AbortSignal | undefined, changed: () => void, relays: HookRelay[]): Promise<void> {
  const p = plan.attempts[i]!;
  const a = race.attempts[i]!;
  const { repo } = plan;
  a.state = 'setup';
  const startedAt = Date.now();
  a.startedAt = startedAt;
  changed();
  /** The attempt ended before its agent ran (`what`: its setup or its base): failed, or interrupted when the race was. */
  const failedAt = (what: string, err: unknown): void => {
    a.state = signal?.aborted ? 'interrupted' : 'failed';
    a.error = `${what}: ${(err as Error).message}`;
    a.endedAt = Date.now();
    a.durationMs = a.endedAt - startedAt;
    changed();
  };
  const env: Record<string, string | undefined> = { ...process.env, ...p.env };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) env[k] = undefined;
  // Every process the agent, its setup or its check starts ends with it.
  const confine = { mechanism: plan.confinement, sweep: attemptSweep(repo.commonDir, p.dir, { CKPT_RACE_ID: race.id, CKPT_ATTEMPT: a.name }, a.startedAt) };
  const stragglers = (what: string, res: Pick<ProcessResult, 'stragglers' | 'stragglersOutside'>): void => {
    if (plan.confinement === 'sweep') {
      if (res.stragglers.length > 0) race.warnings.push(`${a.name}: ended ${counted(res.stragglers.length, 'process', 'processes')} its ${what} left running (sweep): pid ${res.stragglers.join(', ')}`);
      return;
    }
    // Only what ran outside the namespace escaped it (checked in /proc/<pid>/ns/pid, sweep.ts).
    const out = res.stragglersOutside;
    const inside = res.stragglers.filter((p) => !out.includes(p));
    if (out.length > 0) race.warnings.push(`${a.name}: ended ${counted(out.length, 'process', 'processes')} its ${what} left running outside its ${plan.confinement} PID namespace: pid ${out.join(', ')}`);
    if (inside.length > 0) race.warnings.push(`${a.name}: ended ${counted(inside.length, 'process', 'processes')} of its ${what}'s ${plan.confinement} PID namespace still running 2 s after it ended: pid ${inside.join(', ')}`);
  };
  let fence: Fence | null = null;
  let currentRound = 1;
  /** The agent's process while it runs (a relayed hook step counts as activity for its idle timeout). */
  let current: { touch(): void } | null = null;
  try {
    await createAttemptWorktree(repo, base, p.dir, p.branch);
    const rc = plan.config.race ?? {};
    // Dependencies first (deps.ts): their directories are the strategy's, whatever the copy patterns say.
    const provided = await provideDeps(repo, p.dir, plan.deps);
    for (const w of provided.warnings) race.warnings.push(`${a.name}: ${w}`);
    await copyIgnoredFiles(repo, p.dir, { copy: plan.copy, symlink: rc.symlink ?? [], skip: plan.deps.dirs });
    if (plan.sandbox && p.preset.hooks) {
      // The agent's hooks cannot write ckpt's store from inside the sandbox: the race records their steps.
      try {
        relays.push(await startHookRelay(await openRepo(p.dir), { agent: p.preset.hooks, env: () => ({ CKPT_RACE_ID: race.id, CKPT_ATTEMPT: a.name, CKPT_ROUND: String(currentRound) }), onStep: () => current?.touch() }));
      } catch (err) {
        race.warnings.push(`${a.name}: its hooks cannot record inside the sandbox (the race's hook relay did not start: ${(err as Error).message}); its steps are the watcher's`);
      }
    }
    // Under --sandbox, everything run in the attempt is fenced alike: setup, agent, check (teardown: remove-worktree.ts).
    fence = plan.sandbox ? await worktreeFence(repo, race.id, p.dir, p.env, env, relays.map((r) => r.dir), plan.ckptBin) : null;
    if (plan.deps.install) {
      // Like the setup: the network kept (the package manager may fetch), the files fenced.
      const run = fenced({ argv: plan.deps.install.argv, cwd: p.dir, env, logFile: a.log, timeoutMs: SETUP_TIMEOUT_MS, confine, ...(signal ? { signal } : {}) }, fence, true);
      const s = await runProcess(run.options).done;
      stragglers('dependency install', s);
      if (run.refused() > 0) race.warnings.push(refusalWarning(`${a.name}'s dependency install`, run.refused(), a.log));
      if (s.exitCode !== 0) throw new Error(`--deps install (${plan.deps.install.argv.join(' ')}) failed (${s.stoppedBy ?? `exit ${s.exitCode}`}): ${s.outputTail.split('\n').slice(-3).join(' ').trim()}`);
    }
    if (plan.setup) {
      // The setup keeps the network (it installs dependencies, creates databases); its files are fenced.
      const run = fenced({ argv: [plan.setup], shell: true, cwd: p.dir, env, logFile: a.log, timeoutMs: SETUP_TIMEOUT_MS, confine, ...(signal ? { signal } : {}) }, fence, true);
      const s = await runProcess(run.options).done;
      stragglers('setup command', s);
      if (run.refused() > 0) race.warnings.push(refusalWarning(`${a.name}'s setup`, run.refused(), a.log));
      if (s.exitCode !== 0) throw new Error(`setup command failed (${s.stoppedBy ?? `exit ${s.exitCode}`}): ${s.outputTail.split('\n').slice(-3).join(' ').trim()}`);
    }
  } catch (err) {
    return failedAt('setup', err);
  }
  const attemptRepo = await openRepo(p.dir);
  a.ref = attemptRepo.ref;
  const trailers = (round: number): Record<string, string> => ({ [TRAILER.race]: race.id, [TRAILER.attempt]: a.name, [TRAILER.round]: String(round) });
  // The base through the daemon that will watch the attempt, when there is one: its full read of the worktree is
  // then this one, not one more behind the agent's first hook (benchmarks/daemon.mjs --race-only; watch/daemon-watch.ts).
  const baseInput = { kind: 'base', force: true, agent: p.agent, message: `base of race ${race.id}`, extra: trailers(1) } as const;
  try {
    if (!(await snapshotThroughDaemon(p.dir, baseInput, plan.ckptBin))) await takeBaseItself(attemptRepo, baseInput, race.id, a.name);
  } catch (err) {
    // As a failed setup: this attempt failed, the others race on (LOCKED, REF_RACE, GIT_FAILED).
    return failedAt('base', err);
  }
  a.rounds = [];
  let followUp: string | null = null;
  let feedback: string | null = null;
  /** What the feedback is: the failed check's output, or a reviewer's notes. */
  let feedbackFrom: RoundRecord['feedbackFrom'] = null;
  let session: string | null = null;
  for (let round = 1; round <= plan.rounds; round++) {
    const cmd = roundCommand(plan, p, { round, feedback, followUp, session });
    if (round > 1) {
      // The round's first step: where it starts (the previous round's end, check output aside).
      await takeSnapshot(attemptRepo, { kind: 'auto', force: true, agent: p.agent, message: `round ${round} of ${a.name} (${cmd.how})`, extra: trailers(round) }, { waitMs: FINAL_LOCK_WAIT_MS });
      appendFileSync(a.log, `\n[ckpt: round ${round} of ${plan.rounds} (${cmd.how === 'resume' ? `resuming session ${cmd.session}` : 'run again with the follow-up as its task'}); ${feedbackFrom === 'review' ? "the reviewer's notes" : "the check's output tail"}: ${Buffer.byteLength(feedback ?? '')} bytes]\n`);
    }
    const r: RoundRecord = { round, how: cmd.how, command: cmd.argv, session: null, feedbackBytes: Buffer.byteLength(feedback ?? ''), feedbackFrom, startedAt: Date.now(), durationMs: null, exitCode: null, state: 'running', final: null, check: null, tokens: null, costUsd: null };
    a.rounds.push(r);
    currentRound = round;
    const relay = relays[0];
    const ended = await runRound(plan, race, i, { attemptRepo, cmd, round: r, env: { ...env, CKPT_ROUND: String(round) }, agentEnv: relay ? { [HOOK_SOCKET_ENV]: relay.socket } : {}, confine, fence, signal, changed, stragglers, extra: trailers(round), started: (proc) => (current = proc) });
    const more = round < plan.rounds && (a.state as AttemptState) === 'done';
    session = r.session ?? session;
    if (ended.checkFailed && more) {
      feedback = logTail(ended.checkLog);
      feedbackFrom = 'check';
      followUp = followUpPrompt({ task: plan.task, round: round + 1, rounds: plan.rounds, check: a.check!, feedback });
      continue;
    }
    if (!plan.reviewBy || (a.state as AttemptState) !== 'done') break;
    // The attempt finished: its reviewer; "request changes" with rounds left is one more round.
    let verdict: string | null = null;
    try {
      const review = await reviewAttempt({ repo, ckptBin: plan.ckptBin, ...(signal ? { signal } : {}) }, race, a.name, plan.reviewBy);
      verdict = review.verdict;
      if (review.kept) race.warnings.push(`kept the scratch worktree of ${a.name}'s review: ${review.kept}`);
      changed();
      if (verdict === 'request-changes' && more) {
        feedback = review.notes;
        feedbackFrom = 'review';
        followUp = reviewFollowUp({ task: plan.task, round: round + 1, rounds: plan.rounds, by: plan.reviewBy, notes: review.notes });
        continue;
      }
    } catch (err) {
      race.warnings.push(`${a.name}: its review by ${plan.reviewBy} failed: ${(err as Error).message}`);
      changed();
    }
    break;
  }
}

/** What one round needs besides the plan and the record. */
interface RoundContext {
  attemptRepo: Repo;
  cmd: RoundCommand;
  round: RoundRecord;
  env: Record<string, string | undefined>;
  confine: NonNullable<ProcessOptions['confine']>;
  /** The attempt's sandbox (`--sandbox`), or null. */
  fence: Fence | null;
  /** Variables for the agent alone (not its check): the hook relay's socket. */
  agentEnv: Record<string, string>;
  /** Told the agent's process once it started. */
  started: (proc: { touch(): void }) => void;
  signal: AbortSignal | undefined;
  changed: () => void;
  stragglers: (what: string, res: Pick<ProcessResult, 'stragglers' | 'stragglersOutside'>) => void;
  /** Trailers of the round's snapshots. */
  extra: Record<string, string>;
}

/**
 * One round of attempt `i`: its agent (watched), the final snapshot, the
 * check. Sets the attempt's state, counts, sums and check, and `round`'s own
 * fields.
 *
 * @returns whether the check ran and failed, and its log file.
 */
async function runRound(plan: RacePlan, race: RaceRecord, i: number, c: RoundContext): Promise<{ checkFailed: boolean; checkLog: string }> {
  const p = plan.attempts[i]!;
  const a = race.attempts[i]!;
  const { repo } = plan;
  const r = c.round;
  const { changed, signal } = c;
  let proc: ReturnType<typeof runProcess> | null = null;
  // The repository's one daemon watches every attempt when it is wanted (a step per settled burst); else a watcher of the attempt's own.
  const { watching } = await watchWorktree(
    p.dir,
    {
      agent: p.agent,
      extra: c.extra,
      initialSnapshot: false,
      onSnapshot: (_r, res) => {
        proc?.touch();
        if (res.created) {
          a.steps = res.snapshot.step - 1;
          changed();
        }
      },
    },
    plan.ckptBin,
  );
  a.state = 'running';
  if (r.round === 1) a.startedAt = Date.now();
  changed();
  const checkLog = path.join(raceDir(repo, race.id), 'checks', r.round === 1 ? `${a.name}.log` : `${a.name}.round${r.round}.log`);
  if (signal?.aborted) {
    await watching.close();
    a.state = 'interrupted';
    r.state = 'interrupted';
    a.endedAt = Date.now();
    changed();
    return { checkFailed: false, checkLog };
  }
  const network = plan.sandbox?.network ?? true;
  const run = fenced(
    {
      argv: c.cmd.argv,
      cwd: p.dir,
      env: { ...c.env, ...c.agentEnv },
      ...(c.cmd.stdin !== undefined ? { stdin: c.cmd.stdin } : {}),
      logFile: a.log,
      timeoutMs: p.timeoutMs,
      idleTimeoutMs: plan.idleTimeoutMs,
      confine: c.confine,
      ...(signal ? { signal } : {}),
      onLine: (line) => {
        const t = line.trim();
        if (t) a.lastLine = t.length > 200 ? t.slice(0, 199) + '…' : t;
      },
    },
    c.fence,
    network,
  );
  proc = runProcess(run.options);
  c.started(proc);
  const res = await proc.done;
  c.stragglers('agent', res);
  if (run.refused() > 0) race.warnings.push(refusalWarning(plan.rounds > 1 ? `${a.name} (round ${r.round})` : a.name, run.refused(), a.log));
  await watching.close();
  a.endedAt = Date.now();
  r.durationMs = res.durationMs;
  r.exitCode = res.exitCode;
  a.durationMs = r.round === 1 ? res.durationMs : (a.durationMs ?? 0) + res.durationMs;
  a.exitCode = res.exitCode;
  a.signal = res.signal;
  a.outputBytes += res.outputBytes;
  const parsed = parseOutput(p.preset.output, res.stdoutTail);
  r.tokens = parsed.tokens;
  r.costUsd = parsed.costUsd;
  r.session = parsed.sessionId;
  a.tokens = sumTokens(a.rounds ?? [r]);
  a.costUsd = sumCost(a.rounds ?? [r]);
  a.resultText = parsed.resultText ? parsed.resultText.slice(0, 2000) : null;
  // The outcome is assigned only once the final snapshot and its counts are in,
  // so a live view never shows an ended attempt with stale files and steps.
  const { state, error } = attemptOutcome(res, parsed, { timeoutMs: p.timeoutMs, idleTimeoutMs: plan.idleTimeoutMs });
  // The final state of the attempt, whatever the watcher saw.
  // A hook that the agent's end killed inside its PID namespace can leave the worktree lock
  // held by a process ckpt cannot judge from outside that namespace: wait until it is stale.
  let finalError: string | null = null;
  finishingAttempt(a, true);
  try {
    const fin = await takeSnapshot(c.attemptRepo, { kind: 'auto', agent: p.agent, message: `end of ${a.name}${plan.rounds > 1 ? ` round ${r.round}` : ''} (${state})`, extra: c.extra }, { waitMs: FINAL_LOCK_WAIT_MS });
    a.final = fin.snapshot.id;
    r.final = fin.snapshot.id;
    a.steps = fin.snapshot.step - 1;
    await countChanges(repo, race, a, fin.snapshot.tree);
  } catch (err) {
    // The worktree still holds the attempt; its chain's tip is what pick and diff read.
    finalError = `its final snapshot failed (the worktree is kept as it is): ${(err as Error).message}`;
  }
  // With a check to run the attempt goes from running to checking, and has its outcome once the check ran:
  // it ends once (a progress line said "done" before its check and again after it).
  const check = state === 'interrupted' ? null : plan.check;
  a.state = check !== null ? 'checking' : state;
  r.state = state;
  finishingAttempt(a, false);
  a.error = error !== null || finalError !== null ? [error, finalError].filter(Boolean).join('; ') : null;
  changed();
  if (check === null) return { checkFailed: false, checkLog };
  const checkRun = fenced({ argv: [check], shell: true, cwd: p.dir, env: c.env, logFile: checkLog, timeoutMs: plan.checkTimeoutMs, confine: c.confine, ...(signal ? { signal } : {}) }, c.fence, network);
  const ch = await runProcess(checkRun.options).done;
  c.stragglers('check', ch);
  if (checkRun.refused() > 0) race.warnings.push(refusalWarning(`${a.name}'s check${plan.rounds > 1 ? ` (round ${r.round})` : ''}`, checkRun.refused(), checkLog));
  a.check = {
    command: check,
    exitCode: ch.exitCode,
    passed: ch.exitCode === 0 && !ch.stoppedBy,
    durationMs: ch.durationMs,
    tail: ch.outputTail,
    timedOut: ch.stoppedBy === 'timeout',
  };
  r.check = a.check;
  a.state = ch.stoppedBy === 'abort' ? 'interrupted' : state;
  // A check that wrote files (build output is usually ignored) is not the agent's work:
  // the attempt's final snapshot stays the one taken before the check.
  changed();
  return { checkFailed: !a.check.passed && ch.stoppedBy !== 'abort', checkLog };
}

/** Tokens of all rounds added up (null when no round reported any). */
function sumTokens(rounds: RoundRecord[]): Tokens | null {
  const seen = rounds.filter((x) => x.tokens);
  if (seen.length === 0) return null;
  const cached = seen.reduce((s, x) => s + (x.tokens!.cached ?? 0), 0);
  return { input: seen.reduce((s, x) => s + x.tokens!.input, 0), output: seen.reduce((s, x) => s + x.tokens!.output, 0), ...(cached ? { cached } : {}) };
}

/** Cost of all rounds added up, USD (null when no round reported one). */
function sumCost(rounds: RoundRecord[]): number | null {
  const seen = rounds.filter((x) => x.costUsd !== null);
  return seen.length === 0 ? null : seen.reduce((s, x) => s + x.costUsd!, 0);
}

/**
 * An attempt's base taken in process, when no daemon answered for it
 * (watch/daemon-watch.ts `snapshotThroughDaemon` returned null). Null is also
 * a reply lost or timed out after the daemon recorded the base: a tip that is
 * already this attempt's base (kind `base`, trailers `Race` = `raceId` and
 * `Attempt` = `attempt`) is that base, not taken twice. The daemon never
 * serves a request whose client gave up later (watch/daemon.ts `live`); one it
 * was already taking when the client gave up holds the worktree's lock, so
 * this waits for the lock ({@link FINAL_LOCK_WAIT_MS}) and, on a chain with no
 * tip before, takes the base only if the worktree changed since the tip it
 * then finds (a fresh attempt's worktree has no chain before its base).
 *
 * @returns the base (the tip already there, or the new snapshot) and whether
 *   this call recorded it (`created`).
 * @throws CkptError `LOCKED` (the lock not had in {@link FINAL_LOCK_WAIT_MS}),
 *   `REF_RACE`, `GIT_FAILED`, as `takeSnapshot` and `readTip` throw them.
 */
export async function takeBaseItself(attemptRepo: Repo, input: SnapshotInput, raceId: string, attempt: string): Promise<{ snapshot: Snapshot; created: boolean }> {
  const { tip } = await readTip(attemptRepo);
  if (tip && isBaseOf(tip, raceId, attempt)) return { snapshot: tip, created: false };
  const r = await takeSnapshot(attemptRepo, { ...input, force: tip !== null }, { waitMs: FINAL_LOCK_WAIT_MS });
  return { snapshot: r.snapshot, created: r.created };
}

/** Whether `tip` is the base of attempt `attempt` of race `raceId`. */
function isBaseOf(tip: Snapshot, raceId: string, attempt: string): boolean {
  return tip.kind === 'base' && tip.extra[TRAILER.race] === raceId && tip.extra[TRAILER.attempt] === attempt;
}
