/**
 * The daemon's environment: what it is started with (daemon-control.ts) and
 * what its own children (git) get back from it.
 */

/**
 * Variables never handed to the daemon: a race attempt's marker and relay
 * (the sweep of an attempt's processes reads the marker in
 * `/proc/<pid>/environ`: agents/sweep.ts), its round, and
 * `NODE_EXTRA_CA_CERTS` (Node parses the whole bundle at start; the daemon
 * opens no TLS connection).
 */
const NOT_FOR_THE_DAEMON = ['CKPT_RACE_ID', 'CKPT_ATTEMPT', 'CKPT_ROUND', 'CKPT_HOOK_SOCKET', 'NODE_EXTRA_CA_CERTS'];

/** Set by {@link daemonEnv} when it set `MALLOC_ARENA_MAX` (the user had not): {@link giveChildrenTheUserEnv} unsets both. */
const ARENA_SET_FOR_THE_DAEMON = 'CKPT_DAEMON_SET_MALLOC_ARENA_MAX';

/**
 * The environment the daemon is started with: this process's, without
 * {@link NOT_FOR_THE_DAEMON}, and glibc's malloc held to one arena
 * (`MALLOC_ARENA_MAX=1`, mallopt(3); unless the environment sets it): each
 * of the daemon's threads (libuv's pool, V8's workers) otherwise grows an
 * arena of its own whose touched pages stay, ~4.5 MB of its USS at 100k
 * files (benchmarks/daemon-mem.mjs: 24.8 against 28.5 MB when ready, 34.7
 * against 39.9 MB quiet after 20 hooks), and those threads allocate little.
 * The daemon's git children do not keep it ({@link giveChildrenTheUserEnv}).
 */
export function daemonEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of NOT_FOR_THE_DAEMON) delete out[k];
  delete out[ARENA_SET_FOR_THE_DAEMON];
  if (out.MALLOC_ARENA_MAX === undefined) {
    out.MALLOC_ARENA_MAX = '1';
    out[ARENA_SET_FOR_THE_DAEMON] = '1';
  }
  return out;
}

/**
 * Run once at the daemon's start, in its own process: removes what
 * {@link daemonEnv} added for the daemon alone from `env` (this process's),
 * so that every child it spawns (git's, through git/exec.ts, which starts
 * from `process.env`) runs with the user's environment. `MALLOC_ARENA_MAX=1`
 * is for the daemon's threads, which allocate little; git's multi-threaded
 * `pack-objects` and `index-pack` (the store's pack fold) are not held to
 * one arena unless the user set it. The daemon's own malloc keeps it: glibc
 * reads it once, when the process starts (probe on Node 20: a process
 * started with it and unset at once kept one arena through 16 gzips on
 * libuv's threads, 5 extra arenas without it).
 */
export function giveChildrenTheUserEnv(env: NodeJS.ProcessEnv = process.env): void {
  if (env[ARENA_SET_FOR_THE_DAEMON] !== '1') return;
  delete env.MALLOC_ARENA_MAX;
  delete env[ARENA_SET_FOR_THE_DAEMON];
}
