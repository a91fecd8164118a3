// Paths, the hermetic git environment and the small helpers every part of
// the benchmark uses: running git and Node, timing, a seeded random source.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The repository root (the parent of benchmarks/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Generated repositories, the frozen code under test and raw results (git-ignored). */
export const WORK = path.join(ROOT, 'benchmarks', '.work');

/**
 * Hermetic git for everything: this process (ckpt in-process), its children,
 * and the alternatives. No user/system config, fixed identity.
 */
export const HERMETIC = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@localhost',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@localhost',
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C',
};

/** Puts this process's environment (inherited by every child) into the hermetic state. */
export function useHermeticGit() {
  Object.assign(process.env, HERMETIC);
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES']) delete process.env[k];
}

/** Runs `cmd` synchronously; returns stdout (a Buffer). Throws unless it exits with one of `ok`. */
export function run(cmd, args, { cwd, env, input, ok = [0] } = {}) {
  const r = spawnSync(cmd, args, { cwd, env: env ? { ...process.env, ...env } : process.env, input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (!ok.includes(r.status)) {
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(0, 500)}`);
  }
  return r.stdout;
}
/** git in `cwd`, stdout as a Buffer. */
export const g = (cwd, args, opts = {}) => run('git', args, { cwd, ...opts });
/** git in `cwd`, stdout as trimmed text. */
export const gText = (cwd, args, opts = {}) => g(cwd, args, opts).toString('utf8').trim();

/**
 * Spawns Node with `args` (or `/bin/sh -c shell`) and waits; `ms` is the
 * wall-clock time from spawn to exit. Variables set to `undefined` in `env`
 * are removed. Throws unless it exits 0.
 */
export function spawnTimed(args, { cwd, input, env, shell }) {
  const t0 = performance.now();
  const fullEnv = env ? { ...process.env, ...env } : { ...process.env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const r = shell ? spawnSync('/bin/sh', ['-c', shell], { cwd, input, env: fullEnv, maxBuffer: 1 << 26 }) : spawnSync(process.execPath, args, { cwd, input, env: fullEnv, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${shell ?? `node ${args.join(' ')}`} exited ${r.status}: ${String(r.stderr).slice(0, 300)}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `fn`; resolves to `{ ms, value }`. */
export async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** A seeded 32-bit random source (mulberry32): numbers in [0, 1). */
export function rng32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function log(...args) {
  console.log(...args);
}
/** One progress line of the run. */
export function step(msg) {
  process.stdout.write(`  · ${msg}\n`);
}
