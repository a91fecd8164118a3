/**
 * The race: several agents on one task, each in its own worktree with its own
 * checkpoints, env and ports; checked; recorded; ranked.
 *
 * `planRace` validates everything (agents installed, config, base) and
 * creates nothing; `runRace` then makes the worktrees, runs the agents at
 * once (up to `maxParallel`), snapshots every step (watcher, plus Claude
 * Code's hooks passed with `--settings`), runs `--check` in each attempt,
 * and ranks them. The record is saved at every change (store.ts).
 */
import { existsSync, mkdirSync, writeFileSync, statSync, accessSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import which from 'which';
import { CkptError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { gitText, git } from '../git/exec.js';
import { openRepo, type Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { readObjects } from '../git/objects.js';
import { withWorktreeLock } from '../snapshot/lock.js';
import { diffTrees } from '../snapshot/rollback.js';
import { resolveSnapshot } from '../snapshot/store.js';
import { captureTree, readTip, takeSnapshot } from '../snapshot/take.js';
import { diffTreesText } from '../snapshot/diff.js';
import { startWatching } from '../watch/watcher.js';
import { claudeHookCommand, claudeHookSettings } from '../agents/claude.js';
import { runProcess } from './agent-process.js';
import { loadConfig, parseModels, resolveAgent, type CkptConfig } from './config.js';
import { expandArgv, parseOutput, type AgentPreset } from './presets.js';
import { scoreAttempts } from './score.js';
import { raceDir, saveRace } from './store.js';
import type { Attempt, RaceRecord } from './types.js';
import { copyIgnoredFiles, createAttemptWorktree, defaultWorktreeRoot, expandHome, removeAttemptWorktree, type Base } from './worktree.js';
import { pseudoSnapshot } from './compare.js';

/** Options for {@link planRace} / {@link runRace}. */
export interface RaceOptions {
  /** A directory in the user's worktree. */
  cwd: string;
  task: string;
  /** `--models`: `claude,codex`, `claude@opus`, `claude:3`. */
  models: string;
  /** Command run (through the shell) in each attempt when its agent ends. */
  check?: string | null;
  /** Start from this snapshot (step, id) or git revision instead of the worktree now. */
  base?: string | null;
  /** Wall-clock limit per agent (`30m`). */
  timeout?: string | null;
  /** Kill an agent silent (no output, no file change) this long (`10m`). */
  idleTimeout?: string | null;
  checkTimeout?: string | null;
  maxParallel?: number | null;
  /** Command run in each attempt before the agent (`npm ci`). */
  setup?: string | null;
  /** Parent directory of the attempt worktrees. */
  worktreeDir?: string | null;
  /** Remove the worktrees when the race ends (snapshots stay). */
  clean?: boolean;
  /** Path of ckpt's bin script, for the hooks passed to Claude Code. */
  ckptBin: string;
  signal?: AbortSignal;
  /** Called whenever the record changes (state, steps, output line). */
  onUpdate?: (race: RaceRecord) => void;
}

/** One attempt as planned. */
export interface PlannedAttempt {
  name: string;
  agent: string;
  model: string | null;
  argv: string[];
  stdin: boolean;
  dir: string;
  branch: string;
  port: number;
  /** Variables ckpt adds (the rest of the environment is inherited). */
  env: Record<string, string>;
  preset: AgentPreset;
  timeoutMs: number;
}

/** Everything decided before anything is created. */
export interface RacePlan {
  id: string;
  repo: Repo;
  config: CkptConfig;
  task: string;
  base: { spec: string | null; resolved: (Base & { snapshot: string }) | null };
  check: string | null;
  checkTimeoutMs: number;
  idleTimeoutMs: number;
  maxParallel: number;
  setup: string | null;
  attempts: PlannedAttempt[];
  claudeSettings: string;
}

/**
 * Validates the race and decides every attempt's command, directory,
 * branch, port and environment. Creates nothing.
 *
 * @throws CkptError `INVALID_ARGUMENT` (bad --models, empty task, unknown
 *   agent), `CONFIG_INVALID`, `AGENT_NOT_INSTALLED` (names the package),
 *   `SNAPSHOT_NOT_FOUND` (bad --base), `NOT_A_REPO`.
 */
export async function planRace(o: RaceOptions): Promise<RacePlan> {
  if (!o.task || !o.task.trim()) throw new CkptError('INVALID_ARGUMENT', 'the task is empty', { hint: 'race "describe the task" --models claude,codex' });
  const repo = await openRepo(o.cwd);
  const config = loadConfig(repo.worktree);
  const rc = config.race ?? {};
  const specs = parseModels(o.models);
  const id = raceId();
  const root = path.resolve(expandHome(o.worktreeDir ?? rc.worktreeDir ?? defaultWorktreeRoot()));
  if (root === repo.worktree || root.startsWith(repo.worktree + path.sep)) {
    throw new CkptError('INVALID_ARGUMENT', `the worktree directory ${root} is inside your checkout`, { hint: 'Choose a place outside it (race.worktreeDir in .ckpt/config.json).' });
  }
  const ports = rc.ports ?? { base: 41000, perAttempt: 10 };
  const timeoutDefault = parseDuration(o.timeout ?? rc.timeout ?? '30m');
  const claudeSettings = path.join(raceDir(repo, id), 'claude-settings.json');
  const attempts: PlannedAttempt[] = [];
  const missing: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const preset = resolveAgent(spec.agent, config);
    const dir = path.join(root, repo.id, id, spec.name);
    let argv = expandArgv(preset.command, { task: preset.stdin ? null : o.task, model: spec.model, dir });
    if (preset.hooks === 'claude') argv = [argv[0]!, '--settings', claudeSettings, ...argv.slice(1)];
    if (!isInstalled(argv[0]!, repo.worktree)) missing.push(`${spec.agent} (${argv[0]}): ${preset.install}`);
    const port = ports.base + i * ports.perAttempt;
    attempts.push({
      name: spec.name,
      agent: spec.agent,
      model: spec.model,
      argv,
      stdin: preset.stdin,
      dir,
      branch: `ckpt/race/${id}/${spec.name}`,
      port,
      env: {
        ...preset.env,
        CKPT_RACE_ID: id,
        CKPT_ATTEMPT: spec.name,
        CKPT_ATTEMPT_INDEX: String(i + 1),
        PORT: String(port),
        CKPT_PORT_RANGE: `${port}-${port + ports.perAttempt - 1}`,
      },
      preset,
      timeoutMs: preset.timeout ? parseDuration(preset.timeout) : timeoutDefault,
    });
  }
  if (missing.length > 0) {
    throw new CkptError('AGENT_NOT_INSTALLED', `not installed: ${missing.map((m) => m.split(':')[0]).join(', ')}`, {
      hint: `Install first (nothing was created):\n  ${missing.join('\n  ')}`,
      data: { missing },
    });
  }
  let resolved: RacePlan['base']['resolved'] = null;
  if (o.base) resolved = await resolveBase(repo, o.base);
  return {
    id,
    repo,
    config,
    task: o.task,
    base: { spec: o.base ?? null, resolved },
    check: o.check ?? rc.check ?? null,
    checkTimeoutMs: parseDuration(o.checkTimeout ?? rc.checkTimeout ?? '15m'),
    idleTimeoutMs: parseDuration(o.idleTimeout ?? rc.idleTimeout ?? '10m'),
    maxParallel: Math.max(1, o.maxParallel ?? specs.length),
    setup: o.setup ?? rc.setup ?? null,
    attempts,
    claudeSettings,
  };
}

function isInstalled(program: string, cwd: string): boolean {
  if (program.includes('/')) {
    const p = path.resolve(cwd, program);
    try {
      accessSync(p, fsc.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  }
  return which.sync(program, { nothrow: true }) !== null;
}

async function resolveBase(repo: Repo, spec: string): Promise<Base & { snapshot: string }> {
  try {
    const s = await resolveSnapshot(repo, spec);
    return { tree: s.tree, head: s.head, indexTree: s.indexTree, snapshot: s.id };
  } catch (err) {
    // Not a snapshot: a git revision.
    const name = `${spec}^{commit}`;
    const obj = spec.startsWith('-') ? null : (await readObjects([name], { cwd: repo.worktree, env: realEnv(repo) })).get(name);
    if (!obj) throw err;
    const tree = await gitText(['rev-parse', `${obj.oid}^{tree}`], { cwd: repo.worktree, env: realEnv(repo) });
    return { tree, head: obj.oid, indexTree: tree, snapshot: obj.oid };
  }
}

function raceId(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${randomBytes(2).toString('hex')}`;
}

/**
 * Runs a planned race to the end (or until `signal` aborts it) and returns
 * the final record. Never throws for an attempt's failure: that is recorded
 * in the attempt.
 *
 * @throws CkptError only for failures before any attempt starts (base snapshot, record).
 */
export async function runRace(plan: RacePlan, o: Pick<RaceOptions, 'signal' | 'onUpdate' | 'clean' | 'ckptBin'>): Promise<RaceRecord> {
  const { repo } = plan;
  // The base: the worktree as the user sees it now, uncommitted work included.
  let base = plan.base.resolved;
  if (!base) {
    const taken = await takeSnapshot(repo, { kind: 'manual', agent: 'race', message: `base of race ${plan.id}` });
    base = { tree: taken.snapshot.tree, head: taken.snapshot.head, indexTree: taken.snapshot.indexTree, snapshot: taken.snapshot.id };
  }
  mkdirSync(path.join(raceDir(repo, plan.id), 'logs'), { recursive: true });
  mkdirSync(path.join(raceDir(repo, plan.id), 'checks'), { recursive: true });
  writeFileSync(plan.claudeSettings, JSON.stringify(claudeHookSettings(claudeHookCommand(path.resolve(o.ckptBin))), null, 2));
  const race: RaceRecord = {
    version: 1,
    id: plan.id,
    task: plan.task,
    worktree: repo.worktree,
    base: { snapshot: base.snapshot, tree: base.tree, head: base.head, indexTree: base.indexTree, spec: plan.base.spec },
    check: plan.check,
    createdAt: Date.now(),
    endedAt: null,
    state: 'running',
    pid: process.pid,
    attempts: plan.attempts.map((p, i) => ({
      name: p.name,
      index: i + 1,
      agent: p.agent,
      model: p.model,
      command: p.argv,
      taskViaStdin: p.stdin,
      dir: p.dir,
      branch: p.branch,
      ref: '',
      port: p.port,
      state: 'pending',
      exitCode: null,
      signal: null,
      startedAt: null,
      endedAt: null,
      durationMs: null,
      steps: 0,
      files: 0,
      insertions: 0,
      deletions: 0,
      final: null,
      tokens: null,
      costUsd: null,
      resultText: null,
      lastLine: null,
      log: path.join(raceDir(repo, plan.id), 'logs', `${p.name}.log`),
      outputBytes: 0,
      check: null,
      error: null,
      score: null,
    })),
    best: null,
    picked: null,
    cleaned: false,
    warnings: [],
  };
  const changed = (): void => {
    saveRace(repo, race);
    o.onUpdate?.(race);
  };
  changed();

  // Live progress: steps and files so far, from each running attempt's chain.
  const live = setInterval(() => void refreshLive(repo, race, plan).then(() => o.onUpdate?.(race), () => undefined), 1500);
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plan.attempts.length) {
        const i = next++;
        if (o.signal?.aborted) {
          race.attempts[i]!.state = 'interrupted';
          changed();
          continue;
        }
        await runAttempt(plan, race, i, base!, o.signal, changed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.maxParallel, plan.attempts.length) }, worker));
  } finally {
    clearInterval(live);
  }
  scoreAttempts(race);
  if (!plan.base.resolved) race.warnings.push(...(await mainCheckoutChanges(repo, base.tree)));
  if (o.clean) {
    for (const a of race.attempts) await removeAttemptWorktree(repo, a.dir, a.branch).catch((err: Error) => race.warnings.push(`could not remove ${a.dir}: ${err.message}`));
    race.cleaned = true;
  }
  race.state = o.signal?.aborted ? 'interrupted' : 'finished';
  race.endedAt = Date.now();
  changed();
  return race;
}

async function runAttempt(plan: RacePlan, race: RaceRecord, i: number, base: Base & { snapshot: string }, signal: AbortSignal | undefined, changed: () => void): Promise<void> {
  const p = plan.attempts[i]!;
  const a = race.attempts[i]!;
  const { repo } = plan;
  a.state = 'setup';
  a.startedAt = Date.now();
  changed();
  const env: Record<string, string | undefined> = { ...process.env, ...p.env };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) env[k] = undefined;
  try {
    await createAttemptWorktree(repo, base, p.dir, p.branch);
    const rc = plan.config.race ?? {};
    await copyIgnoredFiles(repo, p.dir, { copy: rc.copy ?? [], symlink: rc.symlink ?? [] });
    if (plan.setup) {
      const s = await runProcess({ argv: [plan.setup], shell: true, cwd: p.dir, env, logFile: a.log, timeoutMs: parseDuration('20m'), ...(signal ? { signal } : {}) }).done;
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
    ...(signal ? { signal } : {}),
    onLine: (line) => {
      const t = line.trim();
      if (t) a.lastLine = t.length > 200 ? t.slice(0, 199) + '…' : t;
    },
  });
  const res = await proc.done;
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
  let state: Attempt['state'];
  let error: string | null = null;
  if (res.spawnError) {
    state = 'failed';
    error = res.spawnError;
  } else if (res.stoppedBy === 'abort') {
    state = 'interrupted';
  } else if (res.stoppedBy === 'timeout' || res.stoppedBy === 'idle') {
    state = 'timeout';
    error = res.stoppedBy === 'idle' ? `no output or file change for ${Math.round(plan.idleTimeoutMs / 1000)} s: killed` : `ran longer than ${Math.round(p.timeoutMs / 1000)} s: killed`;
  } else if (res.exitCode === 0 && !parsed.isError) {
    state = 'done';
  } else {
    state = 'failed';
    error = parsed.resultText ?? (lastNonEmpty(res.outputTail) || `exited with ${res.exitCode ?? res.signal}`);
  }
  // The final state of the attempt, whatever the watcher saw.
  const fin = await takeSnapshot(attemptRepo, { kind: 'auto', agent: p.agent, message: `end of ${a.name} (${state})` });
  a.final = fin.snapshot.id;
  a.steps = fin.snapshot.step - 1;
  await countChanges(repo, race, a, fin.snapshot.tree);
  a.state = state;
  if (error !== null) a.error = error;
  changed();
  if (plan.check && a.state !== 'interrupted') {
    const finalState = a.state;
    a.state = 'checking';
    changed();
    const checkLog = path.join(raceDir(repo, race.id), 'checks', `${a.name}.log`);
    const c = await runProcess({ argv: [plan.check], shell: true, cwd: p.dir, env, logFile: checkLog, timeoutMs: plan.checkTimeoutMs, ...(signal ? { signal } : {}) }).done;
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

async function countChanges(repo: Repo, race: RaceRecord, a: Attempt, tree: string): Promise<void> {
  const d = await diffTreesText(repo, pseudoSnapshot(race), null, race.base.tree, tree, { statOnly: true });
  a.files = d.files.length;
  a.insertions = d.files.reduce((s, f) => s + f.insertions, 0);
  a.deletions = d.files.reduce((s, f) => s + f.deletions, 0);
}

async function refreshLive(repo: Repo, race: RaceRecord, plan: RacePlan): Promise<void> {
  for (const [i, a] of race.attempts.entries()) {
    if (a.state !== 'running' || !existsSync(plan.attempts[i]!.dir)) continue;
    const r = await openRepo(plan.attempts[i]!.dir);
    const { tip } = await readTip(r);
    if (!tip) continue;
    a.steps = tip.step - 1;
    if (tip.tool) a.lastLine = `${tip.tool}${tip.target ? ` ${tip.target}` : ''}`;
    await countChanges(repo, race, a, tip.tree);
  }
}

/** Detects changes to the user's own worktree during the race (an attempt escaping its worktree, or the user). */
async function mainCheckoutChanges(repo: Repo, baseTree: string): Promise<string[]> {
  try {
    const now = await withWorktreeLock(repo, () => captureTree(repo));
    if (now === baseTree) return [];
    const d = await diffTrees(repo, baseTree, now, null);
    const shown = d.slice(0, 5).map((e) => e.display).join(', ');
    return [`your worktree ${repo.worktree} changed during the race (${d.length} path(s): ${shown}${d.length > 5 ? ', …' : ''}): by you, or by an agent writing outside its attempt`];
  } catch (err) {
    return [`could not check your worktree after the race: ${(err as Error).message}`];
  }
}

function lastNonEmpty(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1)?.slice(0, 500) ?? '';
}

/** Removes a race's worktrees and branches (snapshots stay until `ckpt gc`). */
export async function cleanRace(repo: Repo, race: RaceRecord): Promise<string[]> {
  const removed: string[] = [];
  for (const a of race.attempts) {
    if (existsSync(a.dir)) {
      // Record the attempt's last state first: nothing in it is lost.
      try {
        const r = await openRepo(a.dir);
        const s = await takeSnapshot(r, { kind: 'auto', agent: a.agent, message: `before race clean` });
        a.final = s.snapshot.id;
      } catch {
        // not a worktree any more
      }
    }
    await removeAttemptWorktree(repo, a.dir, a.branch);
    removed.push(a.dir);
  }
  race.cleaned = true;
  saveRace(repo, race);
  await git(['worktree', 'prune'], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_WORK_TREE: undefined }, okCodes: [0, 128] });
  return removed;
}
