/**
 * The REAL agent clients (Claude Code, Codex CLI, Gemini CLI, OpenCode) for tests, installed into a
 * cache directory (never as project dependencies) and pointed at the local scripted
 * model server (./model-server.ts).
 *
 *   const c = await ensureClient('claude');          // {bin, version} | {skip}
 *   const srv = await startModelServer(loadScript('write-edit-bash'));
 *   const { env, cleanup } = await claudeEnv({ url: srv.url });
 *   const r = await runClient(c.bin, claudeArgv({ task, settings }), { cwd: repo, env });
 *
 * Cache: `${CKPT_TEST_CACHE:-$HOME/.cache/ckpt-test}/clients/<pkg>@<version>`, made by
 * `npm install --prefix <tmp> <pkg>@<version>` then an atomic rename; a lock directory
 * keeps concurrent test files (and processes) from installing the same client twice.
 * Versions are pinned below; `CKPT_TEST_<CLAUDE|CODEX|GEMINI|OPENCODE>_VERSION` overrides one.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { TestContext } from 'vitest';

export type ClientName = 'claude' | 'codex' | 'gemini' | 'opencode';

export const CLIENTS: Record<ClientName, { pkg: string; version: string; bin: string }> = {
  claude: { pkg: '@anthropic-ai/claude-code', version: '2.1.330', bin: 'claude' },
  codex: { pkg: '@openai/codex', version: '0.169.0', bin: 'codex' },
  gemini: { pkg: '@google/gemini-cli', version: '0.61.0', bin: 'gemini' },
  // bin/opencode.exe: the native (Bun-compiled) binary, from optional dep opencode-linux-x64.
  opencode: { pkg: 'opencode-ai', version: '1.18.33', bin: 'opencode' },
};

/** Model names that work with the pinned clients against the scripted server. */
export const TEST_MODELS: Record<ClientName, string> = {
  // Known to Claude Code's price table, so total_cost_usd is non-zero.
  claude: 'claude-sonnet-4-5',
  // Known to Codex's model metadata: it then declares the apply_patch tool (an unknown
  // model gets a "Model metadata not found" warning and only exec_command).
  codex: 'gpt-5.5',
  gemini: 'gemini-2.5-flash',
  // `<provider>/<model>` of the provider opencodeEnv defines (any name: the server ignores it).
  opencode: 'ckpttest/test-model',
};

export type EnsureResult = { bin: string; version: string; dir: string } | { skip: string };
/** An {@link EnsureResult} whose client is installed. */
export type Installed = Extract<EnsureResult, { bin: string }>;

/** Skips the running test (with the install's reason) unless the client `c` is installed. */
export function needClient(ctx: TestContext, c: EnsureResult | undefined): asserts c is Installed {
  if (!c) ctx.skip('client not installed');
  else if ('skip' in c) ctx.skip(c.skip);
}

/** A process's exit code and the last 4000 characters of its stdout and stderr: the message of a failed expectation on it. */
export function explainRun(r: { exitCode?: number | undefined; stdout: string; stderr: string }): string {
  return `exit ${r.exitCode}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

export function cacheDir(): string {
  return process.env.CKPT_TEST_CACHE || path.join(os.homedir(), '.cache', 'ckpt-test');
}

export function clientVersion(name: ClientName): string {
  return process.env[`CKPT_TEST_${name.toUpperCase()}_VERSION`] || CLIENTS[name].version;
}

const inProcess = new Map<string, Promise<EnsureResult>>();

/**
 * Install (once) and locate a client. Resolves `{skip}` with a clear message only when the
 * install is impossible (npm fails, or the installed binary does not run).
 */
export function ensureClient(name: ClientName): Promise<EnsureResult> {
  const version = clientVersion(name);
  const key = `${name}@${version}`;
  let p = inProcess.get(key);
  if (!p) {
    p = install(name, version);
    inProcess.set(key, p);
  }
  return p;
}

const OK_MARKER = '.ckpt-installed';
const LOCK_STALE_MS = 15 * 60_000;

async function install(name: ClientName, version: string): Promise<EnsureResult> {
  const { pkg, bin } = CLIENTS[name];
  const dir = path.join(cacheDir(), 'clients', `${pkg}@${version}`);
  const binPath = path.join(dir, 'node_modules', '.bin', bin);
  const ready = (): boolean => fs.existsSync(path.join(dir, OK_MARKER)) && fs.existsSync(binPath);
  if (ready()) return { bin: binPath, version, dir };

  await fsp.mkdir(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    if (ready()) return { bin: binPath, version, dir };
    try {
      await fsp.mkdir(lock);
      break; // we hold the lock
    } catch (err: any) {
      if (err?.code !== 'EEXIST') return { skip: `cannot create ${lock}: ${String(err)}` };
      const st = await fsp.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) await fsp.rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (ready()) return { bin: binPath, version, dir };
    const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    const npm = await execa('npm', ['install', '--prefix', tmp, '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${version}`], {
      reject: false,
      stdin: 'ignore',
      timeout: 10 * 60_000,
      env: { npm_config_update_notifier: 'false' },
    });
    if (npm.exitCode !== 0) {
      await fsp.rm(tmp, { recursive: true, force: true });
      return { skip: `cannot install ${pkg}@${version} (npm exit ${npm.exitCode}): ${tail(npm.stderr || npm.stdout)}` };
    }
    const tmpBin = path.join(tmp, 'node_modules', '.bin', bin);
    let check = await runVersion(tmpBin);
    if (!check.ok && name === 'claude') {
      // Claude Code's postinstall copies the native binary over bin/claude.exe; if npm
      // skipped install scripts, run it ourselves.
      await execa('node', ['install.cjs'], { cwd: path.join(tmp, 'node_modules', pkg), reject: false, stdin: 'ignore' });
      check = await runVersion(tmpBin);
    }
    if (!check.ok) {
      await fsp.rm(tmp, { recursive: true, force: true });
      return { skip: `${pkg}@${version} installed but \`${bin} --version\` failed: ${tail(check.out)}` };
    }
    await fsp.writeFile(path.join(tmp, OK_MARKER), `${pkg}@${version}\n${check.out}\n`);
    try {
      await fsp.rename(tmp, dir);
    } catch {
      // Someone else finished first (or a broken leftover is in the way).
      if (!ready()) {
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.rename(tmp, dir);
      } else {
        await fsp.rm(tmp, { recursive: true, force: true });
      }
    }
    return { bin: binPath, version, dir };
  } finally {
    await fsp.rm(lock, { recursive: true, force: true });
  }
}

async function runVersion(bin: string): Promise<{ ok: boolean; out: string }> {
  const r = await execa(bin, ['--version'], { reject: false, stdin: 'ignore', timeout: 60_000, env: { HOME: os.tmpdir() } });
  return { ok: r.exitCode === 0, out: `${r.stdout}\n${r.stderr}`.trim() };
}

function tail(s: string, n = 800): string {
  const t = s.trim();
  return t.length > n ? `...${t.slice(-n)}` : t;
}

// ------------------------------------------------------------------ environments

/** process.env without anything that could point a client at a real account or config. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ANTHROPIC_|CLAUDE|OPENAI_|CODEX_|GEMINI_|GOOGLE_|AWS_BEARER|VERTEX|NPM_CONFIG_|OPENCODE)/i.test(k)) continue;
    if (/^(http_proxy|https_proxy|all_proxy)$/i.test(k)) continue;
    env[k] = v;
  }
  env.NO_PROXY = '127.0.0.1,localhost';
  env.no_proxy = '127.0.0.1,localhost';
  return env;
}

export interface ClientEnv {
  env: NodeJS.ProcessEnv;
  /** Temp HOME given to the client. */
  home: string;
  /** Remove the temp home(s). */
  cleanup(): Promise<void>;
}

export interface ClaudeEnvOptions {
  /** Model server base URL (no /v1). */
  url: string;
  /** Use this directory as HOME instead of a new temp one (not removed by cleanup). */
  home?: string;
  /** CLAUDE_CODE_MAX_RETRIES; default 0 so API errors surface at once. */
  maxRetries?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Environment for `claude` against the scripted server: temp HOME and CLAUDE_CONFIG_DIR
 * (the user's config, credentials and hooks are never read), API key auth, no telemetry,
 * auto-update or other non-essential traffic.
 */
export async function claudeEnv(opts: ClaudeEnvOptions): Promise<ClientEnv> {
  const own = !opts.home;
  const home = opts.home ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-claude-home-')));
  const configDir = path.join(home, '.claude');
  await fsp.mkdir(configDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    HOME: home,
    CLAUDE_CONFIG_DIR: configDir,
    ANTHROPIC_BASE_URL: opts.url,
    ANTHROPIC_API_KEY: 'test',
    CLAUDE_CODE_MAX_RETRIES: String(opts.maxRetries ?? 0),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: '1',
    CLAUDE_CODE_DISABLE_TERMINAL_TITLE: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_BUG_COMMAND: '1',
    DISABLE_COST_WARNINGS: '1',
    ...opts.env,
  };
  return { env, home, cleanup: () => (own ? fsp.rm(home, { recursive: true, force: true }) : Promise.resolve()) };
}

/** A Claude Code settings file with PreToolUse/PostToolUse command hooks for every tool. */
export function claudeHookSettings(command: string, events: string[] = ['PreToolUse', 'PostToolUse']): object {
  const hooks: Record<string, unknown> = {};
  for (const e of events) hooks[e] = [{ matcher: '*', hooks: [{ type: 'command', command }] }];
  return { hooks };
}

export interface CodexEnvOptions {
  /** Model server base URL (no /v1). */
  url: string;
  /** Default model written to config.toml (the preset passes -m anyway). */
  model?: string;
  /** request_max_retries / stream_max_retries for the provider; default 0. */
  maxRetries?: number;
  /**
   * Command hooks (inline [[hooks.X]] tables in config.toml, matcher ".*").
   * They only run with `--dangerously-bypass-hook-trust` (or persisted trust).
   */
  hooks?: Partial<Record<'PreToolUse' | 'PostToolUse' | 'SessionStart' | 'Stop' | 'UserPromptSubmit', string>>;
  /** Extra TOML appended to config.toml. */
  extraToml?: string;
  env?: NodeJS.ProcessEnv;
}

export interface CodexEnv extends ClientEnv {
  codexHome: string;
  configPath: string;
}

const tomlStr = (s: string): string => JSON.stringify(s);

/**
 * Environment for `codex` against the scripted server: temp HOME, temp CODEX_HOME with a
 * config.toml that defines provider `ckpttest` (Responses API at `${url}/v1`, key from
 * env CKPT_TEST_KEY). CODEX_HOME lives under the cache dir, not /tmp: Codex refuses to
 * create its helper PATH aliases (apply_patch, sandbox) under a temp dir.
 */
export async function codexEnv(opts: CodexEnvOptions): Promise<CodexEnv> {
  const homes = path.join(cacheDir(), 'homes');
  await fsp.mkdir(homes, { recursive: true });
  const root = await fsp.mkdtemp(path.join(homes, 'codex-'));
  const home = path.join(root, 'home');
  const codexHome = path.join(root, 'codex-home');
  await fsp.mkdir(home, { recursive: true });
  await fsp.mkdir(codexHome, { recursive: true });
  const retries = opts.maxRetries ?? 0;
  const lines = [
    'model_provider = "ckpttest"',
    ...(opts.model ? [`model = ${tomlStr(opts.model)}`] : []),
    'check_for_update_on_startup = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[model_providers.ckpttest]',
    'name = "ckpt test"',
    `base_url = ${tomlStr(`${opts.url.replace(/\/$/, '')}/v1`)}`,
    'wire_api = "responses"',
    'env_key = "CKPT_TEST_KEY"',
    `request_max_retries = ${retries}`,
    `stream_max_retries = ${retries}`,
    '',
  ];
  for (const [event, command] of Object.entries(opts.hooks ?? {})) {
    if (!command) continue;
    lines.push(`[[hooks.${event}]]`, 'matcher = ".*"', `[[hooks.${event}.hooks]]`, 'type = "command"', `command = ${tomlStr(command)}`, '');
  }
  if (opts.extraToml) lines.push(opts.extraToml, '');
  const configPath = path.join(codexHome, 'config.toml');
  await fsp.writeFile(configPath, lines.join('\n'));
  const env: NodeJS.ProcessEnv = { ...baseEnv(), HOME: home, CODEX_HOME: codexHome, CKPT_TEST_KEY: 'test', ...opts.env };
  return { env, home, codexHome, configPath, cleanup: () => fsp.rm(root, { recursive: true, force: true }) };
}

export interface OpenCodeEnvOptions {
  /** Model server base URL (no /v1). */
  url: string;
  /** More config merged into OPENCODE_CONFIG_CONTENT (e.g. `plugin`). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export interface OpenCodeEnv extends ClientEnv {
  /** The config given in OPENCODE_CONFIG_CONTENT. */
  config: Record<string, unknown>;
}

/** The `.gitignore` OpenCode writes into each of its config directories (1.18.33). */
export const OPENCODE_DIR_GITIGNORE = ['node_modules', 'package.json', 'package-lock.json', 'bun.lock', '.gitignore'].join('\n');

/**
 * Makes `dir` (an OpenCode config directory: `~/.config/opencode`, a project's
 * `.opencode`) look as if OpenCode had already installed its plugin SDK there. At
 * start-up OpenCode 1.18.33 runs `npm install @opencode-ai/plugin` in the background
 * into every config directory whose `node_modules` is missing or whose
 * `package-lock.json` does not list it (network; not needed by ckpt's plugin, which
 * imports nothing of it). Also writes the `.gitignore` it would write.
 */
export async function seedOpenCodeDir(dir: string, version = clientVersion('opencode')): Promise<void> {
  await fsp.mkdir(path.join(dir, 'node_modules'), { recursive: true });
  const deps = { '@opencode-ai/plugin': version };
  await fsp.writeFile(path.join(dir, 'package.json'), JSON.stringify({ dependencies: deps }, null, 2));
  await fsp.writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: deps } } }, null, 2));
  await fsp.writeFile(path.join(dir, '.gitignore'), OPENCODE_DIR_GITIGNORE);
}

/**
 * Environment for `opencode run` against the scripted server: temp HOME and XDG dirs
 * (no user config, auth, sessions or plugins are read), the global config dir seeded
 * (seedOpenCodeDir: no npm install at start-up), and OPENCODE_CONFIG_CONTENT defining
 * provider `ckpttest` (`@ai-sdk/openai-compatible`, bundled in the binary: Chat
 * Completions at `${url}/v1`, API key `test`) and its model `test-model`. No models.dev
 * fetch, no auto-update, no sharing.
 */
export async function opencodeEnv(opts: OpenCodeEnvOptions): Promise<OpenCodeEnv> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-opencode-home-'));
  const xdg = { XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local', 'share'), XDG_CACHE_HOME: path.join(home, '.cache'), XDG_STATE_HOME: path.join(home, '.local', 'state') };
  await seedOpenCodeDir(path.join(xdg.XDG_CONFIG_HOME, 'opencode'));
  const config: Record<string, unknown> = {
    $schema: 'https://opencode.ai/config.json',
    provider: {
      ckpttest: {
        npm: '@ai-sdk/openai-compatible',
        name: 'ckpt test',
        options: { baseURL: `${opts.url.replace(/\/$/, '')}/v1`, apiKey: 'test' },
        models: { 'test-model': { name: 'ckpt test model', tool_call: true } },
      },
    },
    model: TEST_MODELS.opencode,
    autoupdate: false,
    share: 'disabled',
    ...opts.config,
  };
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    HOME: home,
    ...xdg,
    OPENCODE_CONFIG_CONTENT: JSON.stringify(config),
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    ...opts.env,
  };
  return { env, home, config, cleanup: () => fsp.rm(home, { recursive: true, force: true }) };
}

export interface GeminiEnvOptions {
  /** Model server base URL (no /v1beta). */
  url: string;
  /** Extra settings merged into the temp ~/.gemini/settings.json (e.g. `hooks`). */
  settings?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Environment for `gemini` against the scripted server: temp HOME (and TMPDIR inside it:
 * Gemini CLI keeps its project temp dirs there) with a ~/.gemini/settings.json choosing
 * API-key auth and turning off auto-update and usage statistics; GEMINI_API_KEY,
 * GOOGLE_GEMINI_BASE_URL, and the workspace trusted (as the race preset does).
 */
export async function geminiEnv(opts: GeminiEnvOptions): Promise<ClientEnv & { settingsPath: string }> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-gemini-home-'));
  const settingsPath = path.join(home, '.gemini', 'settings.json');
  await fsp.mkdir(path.dirname(settingsPath), { recursive: true });
  const settings = {
    security: { auth: { selectedType: 'gemini-api-key' } },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    privacy: { usageStatisticsEnabled: false },
    ...opts.settings,
  };
  await fsp.writeFile(settingsPath, JSON.stringify(settings, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    HOME: home,
    TMPDIR: home,
    GEMINI_API_KEY: 'test',
    GOOGLE_GEMINI_BASE_URL: opts.url,
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
    ...opts.env,
  };
  return { env, home, settingsPath, cleanup: () => fsp.rm(home, { recursive: true, force: true }) };
}

// ------------------------------------------------------------------ preset argv

export function claudeArgv(o: { task: string; settings?: string; model?: string; outputFormat?: 'json' | 'stream-json' | 'text' }): string[] {
  const argv = ['-p', o.task, '--output-format', o.outputFormat ?? 'json', '--permission-mode', 'acceptEdits', '--allowedTools', 'Bash Write Edit'];
  if (o.outputFormat === 'stream-json') argv.push('--verbose'); // claude requires --verbose with -p + stream-json
  if (o.settings) argv.push('--settings', o.settings);
  if (o.model) argv.push('--model', o.model);
  return argv;
}

export function codexArgv(o: { task: string; dir: string; model: string; sandbox?: 'workspace-write' | 'read-only' | 'danger-full-access'; bypassHookTrust?: boolean }): string[] {
  const argv = ['exec', o.task, '--json', '--sandbox', o.sandbox ?? 'workspace-write', '-m', o.model, '-C', o.dir, '--skip-git-repo-check'];
  if (o.bypassHookTrust) argv.push('--dangerously-bypass-hook-trust');
  return argv;
}

export function geminiArgv(o: { task: string; model: string }): string[] {
  return ['-p', o.task, '--approval-mode=yolo', '--output-format', 'stream-json', '-m', o.model];
}

/** `opencode run` as the preset runs it (prompt after `--`). */
export function opencodeArgv(o: { task: string; model?: string; session?: string }): string[] {
  return ['run', ...(o.model ? ['--model', o.model] : []), ...(o.session ? ['--session', o.session] : []), '--format', 'json', '--', o.task];
}

// ------------------------------------------------------------------ running

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Run a client with stdin from /dev/null, never rejecting. */
export async function runClient(bin: string, argv: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  const t0 = Date.now();
  const r = await execa(bin, argv, {
    cwd: o.cwd,
    // As a shell sets it: OpenCode takes PWD (not its cwd) as the project directory.
    env: { ...o.env, PWD: o.cwd },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: o.timeoutMs ?? 180_000,
    killSignal: 'SIGKILL',
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: !!r.timedOut, durationMs: Date.now() - t0 };
}

/** Claude `--output-format json` result object. */
export function parseClaudeResult(stdout: string): any {
  const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`no JSON in claude output: ${stdout.slice(0, 500)}`);
  return JSON.parse(line);
}

/** Codex `exec --json` JSON lines. */
export function parseJsonLines(stdout: string): any[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}
