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
 * Under `bwrap` and `unshare` the command runs under {@link withLifeline}: a
 * small `sh` that ends (and with it the namespace) when ckpt is gone, read
 * from a pipe only ckpt holds open (fd 3, see process.ts). The parent-death
 * signals alone (`--die-with-parent`, `setpriv --pdeathsig`) were not
 * certain: each is set by the child after fork(2), and a ckpt killed before
 * that moment left the whole namespace running for good (the CI failure of
 * race-cli.test.ts: bwrap and the agent still alive after the race process
 * was SIGKILLed just after starting them). The end of the pipe is certain:
 * the kernel closes ckpt's end however ckpt dies.
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

/** The file descriptor of the lifeline in a command run under {@link withLifeline}. */
export const LIFELINE_FD = 3;

/**
 * The lifeline's `sh`: runs `"$@"` (its stdin kept: a background job's would
 * be /dev/null) and waits for it, ending with its status. When fd 3 is open
 * (tested with `true`: a redirection error on `:`, a special built-in, would
 * end the shell), a reader waits for its end of file, that is for every
 * process holding its other end, ckpt alone, to be gone; then it kills every
 * process of the namespace (`kill -KILL -1`, only when this shell is PID 1
 * or 2, so in a namespace of its own: `unshare` makes it the init, bubblewrap
 * its init's only child) and ends the shell (SIGUSR1, trapped: never
 * SIGTERM, which ckpt sends the whole group to give the agent its grace
 * period). bubblewrap's init waits for every child, not only the first, so
 * ending this shell alone would not end an init whose own parent-death signal
 * came too late; with nothing left in it, it ends, and the namespace with it.
 */
const LIFELINE_INIT = [
  "trap 'exit 129' USR1",
  'exec 4<&0',
  '"$@" <&4 4<&- 3<&- &',
  'a=$!',
  'exec 4<&-',
  'if { true <&3; } 2>/dev/null; then { read -r _ <&3; [ "$$" -le 2 ] && kill -KILL -1 2>/dev/null; kill -USR1 $$; } </dev/null & fi',
  'exec 3<&-',
  'wait "$a"',
].join('\n');

/** `argv` under the lifeline's `sh` ({@link LIFELINE_INIT}); give it a pipe at {@link LIFELINE_FD} that only ckpt holds. */
export function withLifeline(argv: readonly string[]): string[] {
  const sh = which.sync('sh', { nothrow: true }) ?? '/bin/sh';
  return [sh, '-c', LIFELINE_INIT, 'sh', ...argv];
}

function bwrapWrapper(): Wrapper | null {
  const bwrap = which.sync('bwrap', { nothrow: true });
  if (!bwrap) return null;
  return (argv) => [bwrap, '--unshare-pid', '--die-with-parent', '--bind', '/', '/', '--dev-bind', '/dev', '/dev', '--proc', '/proc', '--', ...withLifeline(argv)];
}

function unshareWrappers(): Wrapper[] {
  const unshare = which.sync('unshare', { nothrow: true });
  if (!unshare) return [];
  const setpriv = which.sync('setpriv', { nothrow: true });
  const lead = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : [];
  const flags = ['--pid', '--fork', '--kill-child', '--mount-proc'];
  return [
    (argv) => [...lead, unshare, ...flags, '--', ...withLifeline(argv)],
    (argv) => [...lead, unshare, '--user', '--map-current-user', ...flags, '--', ...withLifeline(argv)],
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
 * namespace's only real process, under {@link withLifeline} (the caller gives
 * it the pipe at fd 3: process.ts does). For `sweep`, `argv` itself.
 *
 * @throws CkptError `INVALID_ARGUMENT` when `c` does not work here.
 */
export function confinedArgv(c: Confinement, argv: readonly string[]): string[] {
  const wrap = wrapperOf(c);
  if (!wrap) throw new CkptError('INVALID_ARGUMENT', `${c} cannot run processes in a PID namespace here`, { hint: `Use one of: ${CONFINEMENTS.filter(confinementWorks).join(', ')}.` });
  return wrap(argv);
}
