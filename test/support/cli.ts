/**
 * The CLI run as a user runs it: `node bin/ckpt.js ARGS` in a directory, as
 * a child process, its output captured. One runner for the test files, each
 * keeping its own short name and defaults (NO_COLOR, the daemon off, …) in
 * a line over it.
 */
import { spawnSync } from 'node:child_process';
import { CLI } from './repo.js';

/** What a run gave: its exit status (-1 when killed, by a signal or {@link CliOptions.timeoutMs}), stdout and stderr. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run it. */
export interface CliOptions {
  /** Variables over the test process's environment; one set to undefined is removed. */
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin (else stdin is empty). */
  input?: string;
  /** Killed after this many ms (default 60 000), so a hung command fails its test instead of stalling the file. */
  timeoutMs?: number;
}

/** Runs `ckpt ARGS` in `cwd` and waits for it. */
export function runCli(cwd: string, args: readonly string[], opts: CliOptions = {}): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env, input: opts.input, timeout: opts.timeoutMs ?? 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
