/**
 * Confining an attempt's processes, so that every process of an attempt ends
 * with the attempt, a detached one (`setsid`, SIGTERM ignored) included.
 *
 * - `bwrap`: bubblewrap (Debian package `bubblewrap`) runs the command in a new
 *   PID namespace (`--unshare-pid`) that sees the whole file system as it is
 *   (`--bind / /`, `--dev-bind /dev /dev`, a fresh `--proc /proc`) and dies
 *   with ckpt (`--die-with-parent`). When the agent exits, bubblewrap's init
 *   (PID 1 of the namespace) exits, and the kernel kills everything left in
 *   it (pid_namespaces(7)).
 * - `unshare`: util-linux `unshare --pid --fork --kill-child --mount-proc`
 *   (with `--user --map-current-user` where only an unprivileged user
 *   namespace is allowed), under `setpriv --pdeathsig KILL` so that it dies
 *   with ckpt. A small `sh` is PID 1 of the namespace and the agent its child,
 *   so the agent keeps the usual signal behaviour (PID 1 ignores signals it
 *   has no handler for).
 * - `sweep`: neither works (both can be refused inside containers): when the
 *   command ends, the processes it left behind are found and ended
 *   (sweep.ts). ckpt sweeps in every mode, as a second line.
 *
 * Which one works is probed once per process, by running `sh -c 'echo $$'`
 * through it (it must print a PID of a fresh namespace), and cached.
 */
import { spawnSync } from 'node:child_process';
import which from 'which';
import { CkptError } from '../core/errors.js';

/** How an attempt's processes are made to end with it. */
export type Confinement = 'bwrap' | 'unshare' | 'sweep';

/** The mechanisms in order of preference. */
export const CONFINEMENTS: readonly Confinement[] = ['bwrap', 'unshare', 'sweep'];

/** One line per mechanism, for `race --dry-run` and `race show`. */
export function describeConfinement(c: Confinement): string {
  switch (c) {
    case 'bwrap':
      return 'bwrap: each agent in its own PID namespace (bubblewrap); every process it starts ends with it';
    case 'unshare':
      return 'unshare: each agent in its own PID namespace (util-linux unshare); every process it starts ends with it';
    case 'sweep':
      return 'sweep: no PID namespace available here (bubblewrap or unshare); processes left in the attempt are found by their environment or working directory and ended';
  }
}

/** The argv that runs `argv` under a namespace mechanism (for the probe and for agents). */
type Wrapper = (argv: readonly string[]) => string[];

const SH_INIT = 'exec 3<&0; "$@" <&3 3<&- & wait $!';

function bwrapWrapper(): Wrapper | null {
  const bwrap = which.sync('bwrap', { nothrow: true });
  if (!bwrap) return null;
  return (argv) => [bwrap, '--unshare-pid', '--die-with-parent', '--bind', '/', '/', '--dev-bind', '/dev', '/dev', '--proc', '/proc', '--', ...argv];
}

function unshareWrappers(): Wrapper[] {
  const unshare = which.sync('unshare', { nothrow: true });
  if (!unshare) return [];
  const setpriv = which.sync('setpriv', { nothrow: true });
  const sh = which.sync('sh', { nothrow: true }) ?? '/bin/sh';
  const lead = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : [];
  const flags = ['--pid', '--fork', '--kill-child', '--mount-proc'];
  return [
    (argv) => [...lead, unshare, ...flags, '--', sh, '-c', SH_INIT, 'sh', ...argv],
    (argv) => [...lead, unshare, '--user', '--map-current-user', ...flags, '--', sh, '-c', SH_INIT, 'sh', ...argv],
  ];
}

/** Whether `wrap` really runs a command in a fresh PID namespace here. */
function works(wrap: Wrapper): boolean {
  try {
    const [cmd, ...args] = wrap(['sh', '-c', 'echo $$']);
    const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(r.stdout.trim());
    return r.status === 0 && Number.isInteger(pid) && pid > 0 && pid < 10;
  } catch {
    return false;
  }
}

const probed = new Map<Confinement, Wrapper | null>();

/** The wrapper of `c` when it works on this system (probed once), else null; `sweep` always works. */
function wrapperOf(c: Confinement): Wrapper | null {
  if (c === 'sweep') return (argv) => [...argv];
  if (!probed.has(c)) {
    const candidates = c === 'bwrap' ? [bwrapWrapper()].filter((w): w is Wrapper => w !== null) : unshareWrappers();
    probed.set(c, candidates.find(works) ?? null);
  }
  return probed.get(c) ?? null;
}

/** Whether mechanism `c` works on this system (probed once per process). */
export function confinementWorks(c: Confinement): boolean {
  return wrapperOf(c) !== null;
}

/** The first mechanism that works here, in the order of {@link CONFINEMENTS}. */
export function detectConfinement(): Confinement {
  return CONFINEMENTS.find(confinementWorks) ?? 'sweep';
}

/**
 * `argv` as run under `c`: the agent (or check, or setup command) becomes the
 * namespace's only real process. For `sweep`, `argv` itself.
 *
 * @throws CkptError `INVALID_ARGUMENT` when `c` does not work here.
 */
export function confinedArgv(c: Confinement, argv: readonly string[]): string[] {
  const wrap = wrapperOf(c);
  if (!wrap) throw new CkptError('INVALID_ARGUMENT', `${c} cannot run processes in a PID namespace here`, { hint: `Use one of: ${CONFINEMENTS.filter(confinementWorks).join(', ')}.` });
  return wrap(argv);
}
