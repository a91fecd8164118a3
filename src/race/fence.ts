/**
 * The fence of `race --sandbox` around everything a race runs in a worktree
 * of its own: an attempt's setup, agent, check and teardown, and a
 * reviewer's or judge's agent in its scratch worktree. One bubblewrap
 * profile for all of them (agents/sandbox.ts): writable are that worktree,
 * its git dir (`.git/worktrees/<name>`), the repository's `objects/`, the
 * directory of the race's branches (`refs/heads/ckpt/race/<id>/` and its
 * reflogs), the agents' own state and a private `/tmp`; the user's checkout,
 * ckpt's store and everything else are read-only. See docs/race.md, "Fences".
 */
import path from 'node:path';
import { agentStateDirs, ckptInstallPaths, isReadOnlyRefusal, sandboxArgv, sandboxWorks, tmpPathsNamedBy } from '../agents/sandbox.js';
import type { ProcessOptions } from '../agents/process.js';
import { CkptError } from '../core/errors.js';
import { gitText } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { counted } from '../core/plural.js';

/** How a race is fenced (`race --sandbox`): the record's and the plan's `sandbox`. */
export interface SandboxSetting {
  /** Whether the agent, the check and reviewers keep the network (`--no-network`: false). */
  network: boolean;
}

/** What a fenced process may reach, for one worktree. */
export interface Fence {
  /** `argv` run under bubblewrap; `network: false` adds `--unshare-net`. */
  wrap(argv: readonly string[], o: { network: boolean }): string[];
}

/**
 * The fence of worktree `dir` of race `raceId` in `repo`.
 *
 * @param vars the variables the race sets for what runs there (`race.env`,
 *   `--env`, the agent's own `env`): a value naming an existing path under
 *   `/tmp` (a database's unix socket directory, say) is bound back read-only
 *   over the private `/tmp`, so it stays reachable.
 * @param env the environment it runs with (for the agents' state directories:
 *   `HOME`, `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`).
 * @param visible more paths bound read-only (the hook relay's socket directory, race/hook-relay.ts).
 * @param ckptBin the bin the agents' hooks call: with ckpt's own install and
 *   Node.js, bound back read-only when under `/tmp` (agents/sandbox.ts {@link ckptInstallPaths}).
 * @throws CkptError `GIT_FAILED` when `dir` is not a git worktree.
 */
export async function worktreeFence(repo: Repo, raceId: string, dir: string, vars: Record<string, string>, env: Record<string, string | undefined>, visible: string[] = [], ckptBin?: string): Promise<Fence> {
  const gitDir = (await gitText(['rev-parse', '--absolute-git-dir'], { cwd: dir, env: { GIT_DIR: undefined, GIT_WORK_TREE: undefined } })).trim();
  const common = repo.commonDir;
  const writable = [dir, gitDir, path.join(common, 'objects'), path.join(common, 'refs', 'heads', 'ckpt', 'race', raceId), path.join(common, 'logs', 'refs', 'heads', 'ckpt', 'race', raceId), ...agentStateDirs(env)];
  const readonly = [repo.worktree, common, ...tmpPathsNamedBy(vars), ...visible, ...ckptInstallPaths(ckptBin && path.resolve(ckptBin))];
  return { wrap: (argv, o) => sandboxArgv(argv, { readonly, writable, network: o.network }) };
}

/**
 * Process options for running under `fence` (or `o` as it is when `fence` is
 * null): the argv (a shell command too) wrapped, `TMPDIR=/tmp` (the private
 * one), the namespace left to bubblewrap (its `--unshare-pid`; the sweep stays
 * as a second line), and every output line reporting a refused write counted.
 *
 * @returns the options and `refused()`, the number of such lines so far.
 */
export function fenced(o: ProcessOptions, fence: Fence | null, network: boolean): { options: ProcessOptions; refused: () => number } {
  if (!fence) return { options: o, refused: () => 0 };
  let refused = 0;
  const argv = o.shell ? ['sh', '-c', o.argv.join(' ')] : o.argv;
  const options: ProcessOptions = {
    ...o,
    argv: fence.wrap(argv, { network }),
    shell: false,
    env: { ...o.env, TMPDIR: '/tmp' },
    ...(o.confine ? { confine: { ...o.confine, mechanism: 'sweep' } } : {}),
    // The sandbox's argv ends with ckpt through its lifeline (agents/sandbox.ts).
    lifeline: true,
    onLine: (line, stream) => {
      if (isReadOnlyRefusal(line)) refused++;
      o.onLine?.(line, stream);
    },
  };
  return { options, refused: () => refused };
}

/** One line for `race --dry-run` and `race show`: what the sandbox fences and leaves writable. */
export function describeSandbox(s: SandboxSetting): string {
  return `sandbox: bubblewrap around each attempt's setup, agent, check and teardown, and reviewers; writable: its worktree, its git dirs, the agent's own state, a private /tmp; network ${s.network ? 'on' : 'off (agent, check, reviewers)'}`;
}

/** The warning for `n` refused writes of `who` (`claude-2`, `claude-2's check`), naming its log. */
export function refusalWarning(who: string, n: number, log: string): string {
  return `${who}: the sandbox refused ${counted(n, 'write')} outside its worktree (read-only file system; see its log ${log})`;
}

/**
 * Throws when `sandbox` is set and bubblewrap cannot run here: a fenced
 * race's reviewer or teardown never runs unfenced.
 *
 * @throws CkptError `SANDBOX_UNAVAILABLE` naming the package.
 */
export function requireSandbox(sandbox: SandboxSetting | null | undefined): void {
  if (sandbox && !sandboxWorks()) {
    throw new CkptError('SANDBOX_UNAVAILABLE', 'bubblewrap cannot run a sandbox here (not installed, or not permitted)', { hint: 'Install it (Debian: apt-get install bubblewrap) or run without --sandbox; nothing was created and nothing runs unfenced.' });
  }
}
