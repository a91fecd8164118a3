/**
 * `race --sandbox`: an agent under bubblewrap (Debian package `bubblewrap`)
 * where the whole file system is read-only (`--ro-bind / /`) except what is
 * bound writable: its worktree, the git directories that worktree needs, its
 * own agent state (`~/.claude`, `~/.codex`…, `CLAUDE_CONFIG_DIR`,
 * `CODEX_HOME`), and a private `/tmp` (`--tmpfs /tmp`; the agent's program
 * and scripts, and ckpt's own install (race/fence.ts), when they lie under /tmp, are
 * bound back read-only). It runs in its own
 * PID namespace and dies with ckpt (`--unshare-pid --die-with-parent`, and
 * confine.ts's lifeline, certain even when ckpt is killed just after
 * starting it: the caller gives it the pipe at fd 3); the
 * network stays on unless asked (`--unshare-net`). A write anywhere else gets
 * EROFS ("Read-only file system"). See docs/race.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import which from 'which';
import { withLifeline } from './confine.js';

/** What a sandboxed agent may write, and whether it has a network. */
export interface SandboxSpec {
  /** Paths bound read-only over the private /tmp (the user's checkout may live under /tmp: it stays visible, read-only). */
  readonly: string[];
  /** Paths bound writable, over those (those that do not exist are skipped). */
  writable: string[];
  network: boolean;
}

let probed: boolean | null = null;

/** Whether bubblewrap is installed and allowed to make a read-only sandbox here (probed once, cached). */
export function sandboxWorks(): boolean {
  if (probed !== null) return probed;
  const bwrap = which.sync('bwrap', { nothrow: true });
  probed = !!bwrap && spawnSync(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-pid', '--die-with-parent', '--', 'sh', '-c', 'exit 0'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
  return probed;
}

/** The agents' own state directories under the home directory and in their env (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`). */
export function agentStateDirs(env: Record<string, string | undefined>): string[] {
  const home = env.HOME || os.homedir();
  // Not ~/.cache: the attempts' worktrees live there by default, and one attempt must not write into another's.
  const dirs = ['.claude', '.claude.json', '.codex', '.gemini', '.config/opencode', '.local/share/opencode', '.npm', '.aider', '.cursor'].map((p) => path.join(home, p));
  for (const k of ['CLAUDE_CONFIG_DIR', 'CODEX_HOME', 'GEMINI_CLI_HOME']) if (env[k]) dirs.push(env[k]!);
  return dirs;
}

/** The argv running `argv` in the sandbox `spec` (bwrap must be installed: see {@link sandboxWorks}). */
export function sandboxArgv(argv: readonly string[], spec: SandboxSpec): string[] {
  const bwrap = which.sync('bwrap', { nothrow: true }) ?? 'bwrap';
  const binds: string[] = [];
  const add = (flag: string, paths: string[]): void => {
    const seen = new Set<string>();
    for (const p of paths) {
      if (!existsSync(p)) continue;
      for (const x of new Set([p, realpathSync(p)])) {
        if (seen.has(x)) continue;
        seen.add(x);
        binds.push(flag, x, x);
      }
    }
  };
  add('--ro-bind', [...spec.readonly, ...programDirsUnderTmp(argv)]);
  add('--bind', spec.writable);
  return [bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', ...binds, '--unshare-pid', '--die-with-parent', ...(spec.network ? [] : ['--unshare-net']), '--', ...withLifeline(argv)];
}

/**
 * The directories of the program and scripts an agent's argv names that lie
 * under `/tmp`, which the sandbox replaces with a private one: bound back
 * read-only, or the agent could not even start (`node /tmp/…/agent.mjs`).
 * A shell command (`sh -c '<command>'`: a check, a setup) names them inside
 * its one string: its words (split at blanks, quotes and shell operators)
 * are looked at too.
 */
function programDirsUnderTmp(argv: readonly string[]): string[] {
  const out: string[] = [];
  const words = argv[0] === 'sh' && argv[1] === '-c' && argv[2] !== undefined ? [...argv, ...argv[2].split(/[\s'"`;&|()<>]+/)] : argv;
  for (const arg of words) {
    if (!path.isAbsolute(arg) || !existsSync(arg)) continue;
    const real = realpathSync(arg);
    if (real === '/tmp' || !real.startsWith('/tmp/')) continue;
    out.push(statSync(real).isDirectory() ? real : path.dirname(real));
  }
  return out;
}

/**
 * ckpt's own install, where it lies under `/tmp` (hidden by the private one):
 * its package directory (the nearest one above this module holding a
 * `package.json`), the `node_modules` it sits in when installed as a
 * dependency (its dependencies are hoisted there), the directory of `ckptBin`
 * (the bin the agents' hooks call, maybe a symlink in a `bin/` elsewhere) and
 * the Node.js install running it (`<prefix>` of `<prefix>/bin/node`). Bound
 * back read-only, or a hook run in the sandbox (`node <ckpt>/bin/ckpt-hook.cjs claude`, beside the real file of `ckptBin`)
 * could not even load ckpt.
 */
export function ckptInstallPaths(ckptBin?: string): string[] {
  const out: string[] = [];
  let pkg = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(pkg, 'package.json')) && path.dirname(pkg) !== pkg) pkg = path.dirname(pkg);
  out.push(pkg);
  const parent = path.dirname(pkg);
  const hoisted = path.basename(parent).startsWith('@') ? path.dirname(parent) : parent;
  if (path.basename(hoisted) === 'node_modules') out.push(hoisted);
  if (ckptBin && path.isAbsolute(ckptBin)) out.push(path.dirname(ckptBin));
  const node = path.dirname(process.execPath);
  out.push(path.basename(node) === 'bin' ? path.dirname(node) : node);
  return tmpPathsNamedBy(Object.fromEntries(out.map((p, k) => [String(k), p])));
}

/**
 * The existing paths under `/tmp` that the values of `vars` name (a value
 * that is an absolute path, or a `:`-separated list of them; `PGHOST=/tmp/pg`
 * say): the private /tmp would hide them, so they are bound back read-only
 * (a unix socket there can still be connected to: connect(2) needs no write
 * access to the file system).
 */
export function tmpPathsNamedBy(vars: Record<string, string>): string[] {
  const out: string[] = [];
  for (const v of Object.values(vars)) {
    for (const p of v.split(':')) {
      if (!path.isAbsolute(p) || !existsSync(p)) continue;
      const real = realpathSync(p);
      if (real !== '/tmp' && real.startsWith('/tmp/')) out.push(real);
    }
  }
  return out;
}

/** Whether an output line reports a write the sandbox refused. */
export function isReadOnlyRefusal(line: string): boolean {
  return /Read-only file system|EROFS/.test(line);
}
