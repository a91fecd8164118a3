/**
 * Planning a race: everything is validated (task, config, `--models`, every
 * agent installed, the worktree directory outside the checkout, `--base`) and
 * every attempt's command, directory, branch, port and environment decided,
 * before anything is created.
 */
import { accessSync, constants as fsc, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import which from 'which';
import { CkptError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { openRepo, type Repo } from '../git/repo.js';
import { resolveBase, type ResolvedBase } from './base.js';
import { loadConfig, MAX_ROUNDS, parseModels, resolveAgent, type CkptConfig } from './config.js';
import { CONFINEMENTS, confinementWorks, detectConfinement, type Confinement } from '../agents/confine.js';
import { raceId } from './ids.js';
import { DEFAULT_DEPS_PATHS, planDeps, type DepsPlan, type DepsStrategy } from './deps.js';
import { noPeerConfigs, readPeerConfigs } from './peers.js';
import { sandboxWorks } from '../agents/sandbox.js';
import { openCodeRaceEnv } from '../agents/opencode.js';
import { codexHookArgs, codexHooks } from '../agents/codex.js';
import { geminiAcceptsSystemFile, geminiHooks, geminiRaceSettings, geminiSystemDefaultsPath, readIfThere } from '../agents/gemini.js';
import { expandArgv, type AgentPreset, type ArgTemplate, type Placeholder } from '../agents/presets.js';
import { raceDir } from './store.js';
import type { RaceRecord } from './types.js';
import { defaultWorktreeRoot, expandHome } from './worktree.js';

/** Options for {@link planRace} / `runRace`. */
export interface RaceOptions {
  /** A directory in the user's worktree. */
  cwd: string;
  task: string;
  /** `--models`: `claude,codex`, `claude@opus`, `claude:3`. */
  models: string;
  /** Command run (through the shell) in each attempt when its agent ends; empty or blank: no check (`--check ''` turns off `race.check`). */
  check?: string | null;
  /** Start from this snapshot (step, id) or git revision instead of the worktree now. */
  base?: string | null;
  /** Wall-clock limit per agent (`30m`). */
  timeout?: string | null;
  /** Kill an agent silent (no output, no file change) this long (`10m`). */
  idleTimeout?: string | null;
  checkTimeout?: string | null;
  /** Runs of the agent per attempt in all: a failed check goes back to it until it passes (default `race.rounds`, else 1). */
  rounds?: number | null;
  /** `--env K=V`: templates added to (and overriding) `race.env`; see {@link expandEnvTemplates}. */
  env?: Record<string, string> | null;
  /** Command run in each attempt by `race clean` and `--clean` before its worktree goes (default `race.teardown`). */
  teardown?: string | null;
  /** Run each agent under bubblewrap, read-only but for its worktree, its git dirs, its state and a private /tmp (default `race.sandbox`). */
  sandbox?: boolean | null;
  /** With `sandbox`: keep the network (default true). */
  network?: boolean | null;
  /** `AGENT[@MODEL]` reviewing every attempt that finished; with rounds left, "request changes" is one more round. */
  reviewBy?: string | null;
  /** `AGENT[@MODEL]` ranking the finished attempts at the end (shown beside ckpt's score). */
  judge?: string | null;
  maxParallel?: number | null;
  /** Command run in each attempt before the agent (`npm ci`). */
  setup?: string | null;
  /** How each attempt gets the dependency directories (default `race.deps`, else `auto`); see deps.ts. */
  deps?: DepsStrategy | null;
  /** Accept a deps strategy (or `race.symlink`) through which an attempt can change the user's files (default `race.unsafeDeps`). */
  unsafeDeps?: boolean | null;
  /** Parent directory of the attempt worktrees. */
  worktreeDir?: string | null;
  /** Remove the worktrees when the race ends (snapshots stay). */
  clean?: boolean;
  /** How each attempt's processes are made to end with it (default: the first of bwrap, unshare, sweep that works here). */
  confine?: Confinement | null;
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
  /** Wall-clock limit of the agent, ms. */
  timeoutMs: number;
}

/** Everything decided before anything is created. */
export interface RacePlan {
  id: string;
  repo: Repo;
  config: CkptConfig;
  task: string;
  base: { spec: string | null; resolved: ResolvedBase | null };
  check: string | null;
  /** ms */
  checkTimeoutMs: number;
  /** ms */
  idleTimeoutMs: number;
  /** Runs of the agent per attempt, at most (1: no follow-up round). */
  rounds: number;
  /** Each agent under bubblewrap (agents/sandbox.ts), or null. */
  sandbox: { network: boolean } | null;
  /** Run in each attempt before its worktree is removed, or null. */
  teardown: string | null;
  /** The reviewer of every finished attempt (`AGENT[@MODEL]`), or null. */
  reviewBy: string | null;
  /** The judge of the finished attempts, or null. */
  judge: string | null;
  /** Path of ckpt's bin script (hooks for reviewers too). */
  ckptBin: string;
  maxParallel: number;
  setup: string | null;
  /** The attempts' dependency directories: strategy, directories, install command (deps.ts). */
  deps: DepsPlan;
  /** gitignore patterns of ignored files copied into each attempt besides `.env*`: `.worktreeinclude`'s, then `race.copy`. */
  copy: string[];
  /**
   * Where each setting came from (`--setup`, `.ckpt/config.json race.setup`,
   * `conductor.json scripts.setup`, …): setup, teardown, each variable ckpt
   * sets besides its own, each copy pattern; the peers' files read and what
   * of them was not used (peers.ts).
   */
  sources: { setup: string | null; teardown: string | null; env: Record<string, string>; copy: Record<string, string>; peerFiles: string[]; unused: string[] };
  attempts: PlannedAttempt[];
  /** Where the Claude Code hook settings are written (in the race's directory). */
  claudeSettings: string;
  /** Where ckpt's OpenCode plugin is written (in the race's directory), passed to OpenCode attempts in `OPENCODE_CONFIG_CONTENT`. */
  openCodePlugin: string;
  /**
   * Where Gemini CLI's hook settings are written, named by
   * `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`: the race's directory, else ckpt's
   * state directory, whichever Gemini CLI accepts a system file in
   * (agents/gemini.ts `geminiAcceptsSystemFile`: root only); null when
   * neither (Gemini attempts are then recorded by the watcher alone).
   */
  geminiSettings: string | null;
  /** How every process of an attempt is made to end with it (confine.ts). */
  confinement: Confinement;
}

/**
 * Validates the race and decides every attempt's command, directory,
 * branch, port and environment. Creates nothing.
 *
 * @throws CkptError `INVALID_ARGUMENT` (bad --models, empty task, unknown
 *   agent, rounds out of 1–20 or above 1 without a check, worktree directory inside the checkout, a `confine` mechanism
 *   that does not work here), `CONFIG_INVALID`,
 *   `AGENT_NOT_INSTALLED` (names the package), `SNAPSHOT_NOT_FOUND` (bad
 *   --base), `NOT_A_REPO`, `SANDBOX_UNAVAILABLE` (`sandbox` without a working bubblewrap),
 *   `DEPS_UNSAFE` (`hardlink`, `symlink` or `race.symlink` without `unsafeDeps`),
 *   `DEPS_UNAVAILABLE` (`reflink` where the file system cannot clone, `install` without a lockfile or its tool),
 *   `PEER_CONFIG_INVALID` (a peer's config file, named, is not JSON or not its tool's shape).
 */
export async function planRace(o: RaceOptions): Promise<RacePlan> {
  if (!o.task || !o.task.trim()) throw new CkptError('INVALID_ARGUMENT', 'the task is empty', { hint: 'race "describe the task" --models claude,codex' });
  const repo = await openRepo(o.cwd);
  const config = loadConfig(repo.worktree);
  const rc = config.race ?? {};
  const specs = parseModels(o.models);
  if (o.maxParallel != null && (!Number.isInteger(o.maxParallel) || o.maxParallel < 1)) {
    // The CLI's schema refuses these too; a library caller gets the same answer.
    throw new CkptError('INVALID_ARGUMENT', `maxParallel must be a whole number of at least 1, not ${String(o.maxParallel)}`, { hint: 'race … --max-parallel 2', data: { maxParallel: o.maxParallel } });
  }
  // An id no race has yet (two races of one second may still plan the same one: runRace claims it, store.ts).
  let id = raceId();
  while (existsSync(raceDir(repo, id))) id = raceId();
  const root = path.resolve(expandHome(o.worktreeDir ?? rc.worktreeDir ?? defaultWorktreeRoot()));
  if (root === repo.worktree || root.startsWith(repo.worktree + path.sep)) {
    throw new CkptError('INVALID_ARGUMENT', `the worktree directory ${root} is inside your checkout`, { hint: 'Choose a place outside it (race.worktreeDir in .ckpt/config.json).' });
  }
  const ports = rc.ports ?? { base: 41000, perAttempt: 10 };
  const timeoutDefault = parseDuration(o.timeout ?? rc.timeout ?? '30m');
  const claudeSettings = path.join(raceDir(repo, id), 'claude-settings.json');
  // Peers' files (peers.ts): ckpt's own settings win over them.
  const peers = rc.peerConfigs === false ? noPeerConfigs() : readPeerConfigs(repo.worktree);
  const own = { ...(rc.env ?? {}), ...(o.env ?? {}) };
  const peerEnv = Object.entries(peers.env).filter(([k]) => !(k in own));
  const templates = { ...Object.fromEntries(peerEnv.filter(([, v]) => !v.literal).map(([k, v]) => [k, v.value])), ...own };
  const literals = Object.fromEntries(peerEnv.filter(([, v]) => v.literal).map(([k, v]) => [k, v.value]));
  const ownSetup = o.setup != null ? '--setup' : rc.setup != null ? '.ckpt/config.json race.setup' : null;
  const ownTeardown = o.teardown != null ? '--teardown' : rc.teardown != null ? '.ckpt/config.json race.teardown' : null;
  const unused = [...peers.unused];
  if (ownSetup && peers.setup) unused.push(`${peers.setup.from}: not used, ckpt's own ${ownSetup} wins`);
  if (ownTeardown && peers.teardown) unused.push(`${peers.teardown.from}: not used, ckpt's own ${ownTeardown} wins`);
  const sources: RacePlan['sources'] = {
    setup: ownSetup ?? peers.setup?.from ?? null,
    teardown: ownTeardown ?? peers.teardown?.from ?? null,
    env: { ...Object.fromEntries(peerEnv.map(([k, v]) => [k, v.from])), ...Object.fromEntries(Object.keys(rc.env ?? {}).map((k) => [k, '.ckpt/config.json race.env'])), ...Object.fromEntries(Object.keys(o.env ?? {}).map((k) => [k, '--env'])) },
    copy: { '.env*': 'ckpt (always)', ...Object.fromEntries(peers.include.map((x) => [x, '.worktreeinclude'])), ...Object.fromEntries((rc.copy ?? []).map((x) => [x, '.ckpt/config.json race.copy'])) },
    peerFiles: peers.files,
    unused,
  };
  const openCodePlugin = path.join(raceDir(repo, id), 'opencode-plugin.js');
  const geminiSettings = geminiSettingsPath(raceDir(repo, id), id);
  for (const k of Object.keys(templates)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new CkptError('INVALID_ARGUMENT', `bad environment variable name ${JSON.stringify(k)}`, { hint: '--env NAME=VALUE, NAME of letters, digits and _' });
    if (k.startsWith('CKPT_') || k === 'PORT') throw new CkptError('INVALID_ARGUMENT', `${k} is set by ckpt for each attempt`, { hint: 'Use another name; {port}, {attempt}, {index} give its values.' });
  }
  const attempts: PlannedAttempt[] = [];
  const missing: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const preset = resolveAgent(spec.agent, config);
    const dir = path.join(root, repo.id, id, spec.name);
    const argv = agentArgv(preset.command, preset, { task: preset.stdin ? null : o.task, model: spec.model, dir, round: '1', feedback: null, session: null }, claudeSettings, o.ckptBin);
    if (!isInstalled(argv[0]!, repo.worktree)) missing.push(`${spec.agent} (${argv[0]}): ${preset.install}`);
    const port = ports.base + i * ports.perAttempt;
    const expanded = expandEnvTemplates(templates, { attempt: spec.name, index: String(i + 1), port: String(port), raceId: id, dir });
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
        ...expanded,
        ...literals,
        ...agentHookEnv(preset, openCodePlugin, { ...process.env, ...preset.env, ...expanded, ...literals }, { file: geminiSettings, ckptBin: o.ckptBin }),
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
  const confinement = o.confine ?? detectConfinement();
  if (!confinementWorks(confinement)) {
    throw new CkptError('INVALID_ARGUMENT', `${confinement} cannot run processes in a PID namespace here`, { hint: `Available: ${CONFINEMENTS.filter(confinementWorks).join(', ')}.` });
  }
  const rounds = o.rounds ?? rc.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new CkptError('INVALID_ARGUMENT', `rounds must be a whole number from 1 to ${MAX_ROUNDS}, not ${rounds}`, { hint: '--rounds 3: the agent gets up to two more runs when its check fails.' });
  // A blank check is no check, here once for every reader of the plan (the rounds rule below, attempt.ts, the table): `sh -c ''` would "pass".
  const given = o.check ?? rc.check ?? null;
  const check = given !== null && given.trim() !== '' ? given : null;
  const sandbox = (o.sandbox ?? rc.sandbox ?? false) ? { network: o.network ?? true } : null;
  if (sandbox && !sandboxWorks()) {
    throw new CkptError('SANDBOX_UNAVAILABLE', 'bubblewrap cannot run a sandbox here (not installed, or not permitted)', { hint: 'Install it (Debian: apt-get install bubblewrap) or run without --sandbox; nothing was created and nothing runs unfenced.' });
  }
  const reviewBy = o.reviewBy ?? null;
  const judge = o.judge ?? null;
  if (rounds > 1 && !check && !reviewBy) throw new CkptError('INVALID_ARGUMENT', `--rounds ${rounds} needs a check or a reviewer: a round follows a failed check or a review asking for changes`, { hint: 'Add --check "npm test" (or race.check in .ckpt/config.json), or --review-by AGENT.' });
  for (const [flag, who] of [['--review-by', reviewBy], ['--judge', judge]] as const) {
    if (who === null) continue;
    const s = parseModels(who);
    if (s.length !== 1) throw new CkptError('INVALID_ARGUMENT', `${flag} takes one agent, not ${JSON.stringify(who)}`, { hint: `e.g. ${flag} codex or ${flag} claude@opus` });
    const pr = resolveAgent(s[0]!.agent, config);
    const prog = expandArgv(pr.command, { task: 't', model: s[0]!.model, dir: repo.worktree })[0]!;
    if (!isInstalled(prog, repo.worktree)) missing.push(`${s[0]!.agent} (${prog}): ${pr.install}`);
  }
  if (missing.length > 0) {
    throw new CkptError('AGENT_NOT_INSTALLED', `not installed: ${missing.map((m) => m.split(':')[0]).join(', ')}`, { hint: `Install first (nothing was created):\n  ${missing.join('\n  ')}`, data: { missing } });
  }
  const unsafeDeps = o.unsafeDeps ?? rc.unsafeDeps ?? false;
  if ((rc.symlink ?? []).length > 0 && !unsafeDeps) {
    throw new CkptError('DEPS_UNSAFE', `race.symlink (${rc.symlink!.join(', ')}) links your own files into every attempt: whatever an attempt writes, deletes or adds there happens in yours`, {
      hint: 'Drop race.symlink (node_modules is cloned or copied by default: race.deps), or accept the danger with race.unsafeDeps: true (--unsafe-deps). Nothing was created.',
      data: { symlink: rc.symlink },
    });
  }
  const deps = await planDeps(repo, { strategy: o.deps ?? rc.deps ?? 'auto', paths: rc.depsPaths ?? DEFAULT_DEPS_PATHS, unsafe: unsafeDeps, worktreeRoot: path.join(root, repo.id), attempts: specs.length });
  if ((rc.symlink ?? []).length > 0) deps.warnings.push(`race.symlink (accepted with unsafeDeps): ${rc.symlink!.join(', ')} are links to your own files in every attempt; what an attempt writes, deletes or adds there happens in yours`);
  let resolved: RacePlan['base']['resolved'] = null;
  if (o.base) resolved = await resolveBase(repo, o.base);
  return {
    id,
    repo,
    config,
    task: o.task,
    base: { spec: o.base ?? null, resolved },
    check,
    checkTimeoutMs: parseDuration(o.checkTimeout ?? rc.checkTimeout ?? '15m'),
    idleTimeoutMs: parseDuration(o.idleTimeout ?? rc.idleTimeout ?? '10m'),
    rounds,
    teardown: o.teardown ?? rc.teardown ?? peers.teardown?.command ?? null,
    sandbox,
    reviewBy,
    judge,
    ckptBin: o.ckptBin,
    maxParallel: o.maxParallel ?? specs.length,
    setup: o.setup ?? rc.setup ?? peers.setup?.command ?? null,
    copy: [...peers.include, ...(rc.copy ?? [])],
    sources,
    deps,
    attempts,
    claudeSettings,
    openCodePlugin,
    geminiSettings,
    confinement,
  };
}

/** The placeholders of `race.env` / `--env` values. */
export type EnvPlaceholder = 'attempt' | 'index' | 'port' | 'raceId' | 'dir';

/**
 * Expands environment templates for one attempt: `{attempt}` (its name),
 * `{index}` (1-based), `{port}` (its first port), `{raceId}`, `{dir}` (its
 * worktree). Any other `{name}` is refused (`${name}` is left alone).
 *
 * @throws CkptError `INVALID_ARGUMENT` naming the variable and the placeholder.
 */
export function expandEnvTemplates(templates: Record<string, string>, values: Record<EnvPlaceholder, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(templates)) {
    out[k] = v.replace(/(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
      if (!(name in values)) throw new CkptError('INVALID_ARGUMENT', `${k}=${v}: unknown placeholder ${m}`, { hint: 'Known: {attempt}, {index}, {port}, {raceId}, {dir}.' });
      return values[name as EnvPlaceholder];
    });
  }
  return out;
}

/**
 * An agent's argv from one of its templates (`command`, or `resume` in a
 * later round), with ckpt's hooks passed on the command line: Claude Code's
 * `--settings FILE`; Codex's `-c hooks.PreToolUse=…` / `-c hooks.PostToolUse=…`
 * and `--dangerously-bypass-hook-trust` after `exec` (or `exec resume`), only
 * when `ckptBin` is given (agents/codex.ts {@link codexHookArgs}).
 */
export function agentArgv(template: ArgTemplate[], preset: AgentPreset, values: Partial<Record<Placeholder, string | null>>, claudeSettings: string, ckptBin?: string): string[] {
  const argv = expandArgv(template, values);
  if (preset.hooks === 'claude') return [argv[0]!, '--settings', claudeSettings, ...argv.slice(1)];
  if (preset.hooks === 'codex' && ckptBin && argv[1] === 'exec') {
    const at = argv[2] === 'resume' ? 3 : 2;
    return [...argv.slice(0, at), ...codexHookArgs(codexHooks.command(path.resolve(ckptBin))), ...argv.slice(at)];
  }
  return argv;
}

/**
 * The variables that give an agent ckpt's hooks without touching the user's
 * files, where the agent takes them from the environment: OpenCode's plugin
 * added to `OPENCODE_CONFIG_CONTENT` (agents/opencode.ts `openCodeRaceEnv`;
 * the user's own value is kept and extended); Gemini CLI's
 * `GEMINI_CLI_SYSTEM_DEFAULTS_PATH` naming `gemini.file`, the system
 * defaults it would read with ckpt's hooks added ({@link geminiHookSettingsText}),
 * unless those defaults cannot be read as JSON (then none: the watcher
 * records its steps). None for other agents.
 *
 * @param env the environment the agent would see otherwise.
 */
export function agentHookEnv(preset: AgentPreset, openCodePlugin: string, env: NodeJS.ProcessEnv, gemini?: { file: string | null; ckptBin: string }): Record<string, string> {
  if (preset.hooks === 'opencode') return openCodeRaceEnv(openCodePlugin, env).env;
  if (preset.hooks === 'gemini' && gemini?.file && geminiHookSettingsText(gemini.ckptBin, env) !== null) return { GEMINI_CLI_SYSTEM_DEFAULTS_PATH: gemini.file };
  return {};
}

/**
 * Where a race writes Gemini CLI's hook settings: `<race dir>/gemini-settings.json`,
 * else `$XDG_STATE_HOME/ckpt/races/<id>/gemini-settings.json`
 * (`~/.local/state`), the first Gemini CLI would read; null when neither.
 */
export function geminiSettingsPath(raceDirectory: string, id: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const state = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  for (const file of [path.join(raceDirectory, 'gemini-settings.json'), path.join(state, 'ckpt', 'races', id, 'gemini-settings.json')]) {
    if (geminiAcceptsSystemFile(file)) return file;
  }
  return null;
}

/**
 * The system-defaults document a race gives Gemini CLI (agents/gemini.ts
 * `geminiRaceSettings`): the one it would read from `env`'s
 * `GEMINI_CLI_SYSTEM_DEFAULTS_PATH` or `/etc/gemini-cli/system-defaults.json`,
 * plus ckpt's hooks; null when that file is there but not a JSON object of
 * Gemini's settings shape.
 */
export function geminiHookSettingsText(ckptBin: string, env: NodeJS.ProcessEnv): string | null {
  const doc = geminiRaceSettings(geminiHooks.command(path.resolve(ckptBin)), readIfThere(geminiSystemDefaultsPath(env)));
  return doc ? `${JSON.stringify(doc, null, 2)}\n` : null;
}

/** Whether `program` can be run: a path (relative to `cwd`) to an executable file, or found on PATH. */
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
