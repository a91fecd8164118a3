/**
 * `.ckpt/config.json` at the repository root: custom agents and overrides of
 * the presets, and the race's environment settings. Validated with zod; every
 * problem is reported with its JSON path.
 *
 * ```json
 * {
 *   "agents": {
 *     "mybot": { "command": ["mybot", "--yes", ["--model", "{model}"], "{task}"], "env": {"K": "V"}, "timeout": "20m" },
 *     "claude": { "env": { "ANTHROPIC_BASE_URL": "http://127.0.0.1:8080" } }
 *   },
 *   "race": {
 *     "worktreeDir": "~/.cache/ckpt/worktrees",
 *     "setup": "npm ci",
 *     "copy": [".env*", "config/local.json"],
 *     "deps": "auto",
 *     "ports": { "base": 41000, "perAttempt": 10 },
 *     "timeout": "30m",
 *     "idleTimeout": "10m",
 *     "check": "npm test",
 *     "rounds": 3,
 *     "env": { "DATABASE_URL": "postgres://localhost/app_{index}" },
 *     "teardown": "dropdb --if-exists app_$CKPT_ATTEMPT_INDEX"
 *   }
 * }
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as z from '../core/zod.js';
import { CkptError } from '../core/errors.js';
import { durationText } from '../core/duration-schema.js';
import { PRESETS, type AgentPreset, type ArgTemplate } from '../agents/presets.js';
import { DEPS_STRATEGIES } from './deps.js';

/** The most rounds an attempt may have (`--rounds`, `race.rounds`). */
export const MAX_ROUNDS = 20;

// The command line's rule: a unit is required ("90s", "20m", "2h"), zero is refused.
const duration = durationText;

const argTemplate = z.union([z.string(), z.array(z.string()).min(1)]);

const agentSchema = z
  .object({
    command: z.array(argTemplate).min(1).optional().describe('argv template; {task}, {model}, {dir}, {round}, {feedback} placeholders; inner arrays are optional groups'),
    resume: z.array(argTemplate).min(1).optional().describe('argv template continuing its own session in a later round: {session} and {task} (the follow-up)'),
    env: z.record(z.string(), z.string()).optional().describe('extra environment for the agent'),
    timeout: duration.optional().describe('wall-clock limit for this agent'),
    stdin: z.boolean().optional().describe('send the task on stdin instead of argv'),
    install: z.string().optional().describe('how to install it (shown when it is missing)'),
    output: z.enum(['claude-json', 'codex-jsonl', 'gemini-jsonl', 'opencode-jsonl', 'none']).optional().describe('which parser reads tokens and cost from its output'),
  })
  .strict();

const raceSchema = z
  .object({
    worktreeDir: z.string().optional().describe('where attempt worktrees go (default ~/.cache/ckpt/worktrees)'),
    setup: z.string().optional().describe('command run in each attempt before the agent (e.g. "npm ci")'),
    copy: z.array(z.string()).optional().describe('gitignore-style patterns of ignored files copied into each attempt (besides .env* and .worktreeinclude)'),
    symlink: z.array(z.string()).optional().describe('patterns of ignored files or directories linked instead of copied (an attempt then writes into your files: needs unsafeDeps)'),
    deps: z.enum(DEPS_STRATEGIES).optional().describe('how each attempt gets the dependency directories: auto (default: reflink where the file system clones, else copy), reflink, copy, install, hardlink, symlink (both need unsafeDeps), none'),
    depsPaths: z.array(z.string()).optional().describe('gitignore-style patterns of the dependency directories (default ["node_modules"])'),
    peerConfigs: z.boolean().optional().describe('read peers\' worktree configs (.worktreeinclude, conductor.json, .superset/config.json, .cursor/worktrees.json) for setup, teardown, env and copies (default true; ckpt\'s own settings win)'),
    unsafeDeps: z.boolean().optional().describe('accept deps strategies (hardlink, symlink) and race.symlink through which an attempt can change your own files'),
    ports: z.object({ base: z.number().int().min(1024).max(65000), perAttempt: z.number().int().min(1).max(1000) }).strict().optional(),
    timeout: duration.optional(),
    idleTimeout: duration.optional(),
    check: z.string().optional().describe('default --check command'),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names: letters, digits, _'), z.string()).optional().describe('environment of each attempt (setup, agent, check, teardown); {attempt}, {index}, {port}, {raceId}, {dir} placeholders'),
    sandbox: z.boolean().optional().describe('run each agent under bubblewrap: only its worktree, its git dirs, its state and a private /tmp are writable'),
    teardown: z.string().optional().describe('command run in each attempt by race clean and --clean before its worktree goes (e.g. "dropdb --if-exists $PGDATABASE")'),
    rounds: z.number().int().min(1).max(MAX_ROUNDS).optional().describe('rounds per attempt: a failed check goes back to the agent, up to this many runs in all (default 1)'),
    checkTimeout: duration.optional(),
  })
  .strict();

// Read by snapshot/left-out.ts (the snapshot layer reads its own key); declared here so the strict schema accepts it.
const snapshotSchema = z.object({ maxFileSize: z.string().optional().describe('untracked files above this size are left out of snapshots (e.g. "100MiB", "off")') }).strict();

// Read by `ckpt agents --watch` (cli/commands/agents.ts).
const notifySchema = z
  .object({
    bell: z.boolean().optional().describe('ring the terminal bell when an agent starts waiting for input (default true)'),
    desktop: z.boolean().optional().describe('send a desktop notification (notify-send) when an agent starts waiting for input (default true)'),
  })
  .strict();

const configSchema = z.object({ snapshot: snapshotSchema.optional(), notify: notifySchema.optional(), agents: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'agent names: letters, digits, . _ -'), agentSchema).optional(), race: raceSchema.optional() }).strict();

/** The parsed config. */
export type CkptConfig = z.infer<typeof configSchema>;
/** The `race` section. */
export type RaceConfig = NonNullable<CkptConfig['race']>;

/**
 * Reads `<worktree>/.ckpt/config.json`; `{}` when absent.
 *
 * @throws CkptError `CONFIG_INVALID` with every problem and its JSON path.
 */
export function loadConfig(worktree: string): CkptConfig {
  const file = path.join(worktree, '.ckpt', 'config.json');
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CkptError('CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { hint: 'Fix the file and run again.', data: { file } });
  }
  const res = configSchema.safeParse(raw);
  if (!res.success) {
    const problems = res.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    const hints = [...new Set(res.error.issues.map((i) => (i as { params?: { hint?: string } }).params?.hint).filter((h): h is string => !!h))];
    throw new CkptError('CONFIG_INVALID', `${file} is not a valid ckpt config:\n  ${problems.join('\n  ')}`, {
      hint: [...hints, 'See docs/race.md for the format.'].join(' '),
      data: { file, problems },
    });
  }
  return res.data;
}

/**
 * The agent named `name`: a built-in preset, overridden or extended by the
 * config's entry of the same name, or a custom agent from the config.
 *
 * @throws CkptError `INVALID_ARGUMENT` for an unknown agent, `CONFIG_INVALID`
 *   for a custom agent without a command.
 */
export function resolveAgent(name: string, config: CkptConfig): AgentPreset {
  const preset = PRESETS[name];
  const custom = config.agents?.[name];
  if (!preset && !custom) {
    throw new CkptError('INVALID_ARGUMENT', `unknown agent ${JSON.stringify(name)}`, {
      hint: `Built in: ${Object.keys(PRESETS).join(', ')}. Others can be defined in .ckpt/config.json under "agents".`,
      data: { agent: name },
    });
  }
  if (!preset) {
    if (!custom!.command) throw new CkptError('CONFIG_INVALID', `agents.${name}: a custom agent needs a "command"`, { hint: 'e.g. "command": ["mybot", "{task}"]' });
    return {
      name,
      command: custom!.command as ArgTemplate[],
      stdin: custom!.stdin ?? false,
      env: custom!.env ?? {},
      timeout: custom!.timeout ?? null,
      install: custom!.install ?? `install ${String(custom!.command[0])} and make sure it is on PATH`,
      output: custom!.output ?? 'none',
      hooks: null,
      resume: (custom!.resume as ArgTemplate[] | undefined) ?? null,
    };
  }
  if (!custom) return preset;
  return {
    ...preset,
    command: (custom.command as ArgTemplate[] | undefined) ?? preset.command,
    stdin: custom.stdin ?? preset.stdin,
    env: { ...preset.env, ...(custom.env ?? {}) },
    timeout: custom.timeout ?? preset.timeout,
    install: custom.install ?? preset.install,
    output: custom.output ?? preset.output,
    // A preset's resume goes with its command: a replaced command without its own resume runs afresh.
    resume: (custom.resume as ArgTemplate[] | undefined) ?? (custom.command ? null : preset.resume),
  };
}

/** Attempts asked for by `--models`. */
export interface AttemptSpec {
  name: string;
  agent: string;
  model: string | null;
}

/**
 * Parses `--models`: comma-separated `AGENT[@MODEL][:COUNT]`, e.g.
 * `claude,codex`, `claude@opus,claude@sonnet`, `claude:3`. Attempts are
 * named after their agent, with `-2`, `-3` for repeats.
 *
 * @throws CkptError `INVALID_ARGUMENT`.
 */
export function parseModels(list: string): AttemptSpec[] {
  const items = list.split(',').map((s) => s.trim());
  if (items.every((s) => s === '')) throw new CkptError('INVALID_ARGUMENT', '--models is empty', { hint: 'e.g. --models claude,codex or --models claude:3' });
  if (items.includes('')) {
    throw new CkptError('INVALID_ARGUMENT', `--models has an empty entry: ${JSON.stringify(list)}`, { hint: 'Separate agents with single commas: --models claude,codex.', data: { models: list } });
  }
  const out: AttemptSpec[] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:@([^:]+))?(?::(\d+))?$/.exec(item);
    if (!m) throw new CkptError('INVALID_ARGUMENT', `bad --models entry ${JSON.stringify(item)}`, { hint: 'Use AGENT, AGENT@MODEL, AGENT:COUNT or AGENT@MODEL:COUNT.' });
    const count = m[3] ? Number(m[3]) : 1;
    if (count < 1 || count > 20) throw new CkptError('INVALID_ARGUMENT', `count out of range in ${JSON.stringify(item)} (1–20)`);
    for (let i = 0; i < count; i++) {
      const n = (seen.get(m[1]!) ?? 0) + 1;
      seen.set(m[1]!, n);
      out.push({ name: n === 1 ? m[1]! : `${m[1]}-${n}`, agent: m[1]!, model: m[2] ?? null });
    }
  }
  return out;
}
