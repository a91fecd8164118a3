/**
 * The `rollback` request between `ckpt rollback`'s tiny client
 * (cli/rollback-client.ts) and the daemon that runs it
 * (cli/daemon-rollback.ts): what the client sends of its environment. No
 * import but Node's built-ins: the client is bundled alone (dist/rollback.cjs).
 *
 * The conversation, one JSON line each (watch/daemon.ts hands the socket to
 * the daemon's side after the first):
 *
 * 1. client → `{v, version, cmd: 'rollback', cwd, cwdId, argv, env, outEnv, tty, umask, confined}`
 *    (`confined`: {@link confinement}; `cwdId`: {@link cwdIdentity})
 * 2. daemon → `{ok: true, ready: true}`, or a refusal `{ok: false, code}`
 *    (the client then runs the rollback itself, as it does when no daemon
 *    answers in time);
 * 3. client → `{go: true}`: from here the client never runs the rollback
 *    itself (the daemon may have begun it), unless the daemon answers
 *    `{ok: false, code: 'GONE'}` (the go-ahead came after its bound: it
 *    began nothing); without it the daemon changes nothing;
 * 4. daemon → `{ok: true, exit, output}`: the command's exit code (an
 *    integer 0-255; anything else is taken as a lost answer) and output,
 *    `[[1 or 2, text], …]` in the order written to stdout (1) and stderr
 *    (2), which the client writes so, each to its stream: on one file
 *    (`2>&1`) it reads as the CLI's own output.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';

/**
 * Names of variables that change what a rollback does or prints besides the
 * colour: git's (`GIT_*`: discovery, config, the index), ckpt's own
 * (`CKPT_*`: the size cap, debugging) but those that only say whether and
 * how to use the daemon, where git and its config are found (`PATH`,
 * `HOME`, `XDG_CONFIG_HOME`), the time zone (`--to` with a local time),
 * the temporary directory and the locale. The daemon serves a request only
 * when its own values of these are the client's, every one.
 */
export function behaviourEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^GIT_/.test(k) || (/^CKPT_/.test(k) && !DAEMON_CHOICE.includes(k)) || /^LC_/.test(k) || PLAIN.includes(k)) out[k] = v;
  }
  return out;
}

/** ckpt's variables that choose the daemon, not what a rollback does (the client has decided by them already). */
const DAEMON_CHOICE = ['CKPT_NO_DAEMON', 'CKPT_DAEMON', 'CKPT_DAEMON_AUTOSTART', 'CKPT_DAEMON_IDLE'];
const PLAIN = ['PATH', 'HOME', 'XDG_CONFIG_HOME', 'TZ', 'TMPDIR', 'LANG', 'LANGUAGE'];

/** The variables the output's colour decision reads (cli/output.ts decideColor), sent for the daemon's Output. */
export const OUTPUT_ENV = ['NO_COLOR', 'FORCE_COLOR', 'TERM'] as const;

/** The first name whose value differs between the two environments (as {@link behaviourEnv} takes them), or null when none does. */
export function envDifference(a: Record<string, string>, b: Record<string, string>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[k] !== b[k]) return k;
  return null;
}

/**
 * What confines this process, as far as Linux shows it cheaply (three
 * readlinks and one small read of /proc/self): its mount, user and pid
 * namespaces, its user and groups (real and effective), whether it runs
 * with no_new_privs (which Landlock requires of an unprivileged process)
 * and under seccomp. The daemon serves a rollback only when the client's
 * are its own, every one (cli/daemon-rollback.ts): a client in a sandbox
 * (read-only bind mounts in its own mount namespace, another user, a
 * seccomp filter) would otherwise get its worktree written by a process
 * that is not confined, where the CLI's own path would have failed
 * (EROFS, EACCES). A value Linux does not give (another system, no /proc)
 * is null on both sides alike.
 *
 * Not seen: a Landlock domain or an LSM label without no_new_privs, a
 * chroot (the cwd's identity is compared apart: {@link cwdIdentity}).
 */
export function confinement(): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const ns of ['mnt', 'user', 'pid']) {
    try {
      out[`ns.${ns}`] = readlinkSync(`/proc/self/ns/${ns}`);
    } catch {
      out[`ns.${ns}`] = null;
    }
  }
  const ids = (f: (() => number) | undefined): string | null => (f ? String(f()) : null);
  out.uid = ids(process.getuid);
  out.euid = ids(process.geteuid);
  out.gid = ids(process.getgid);
  out.egid = ids(process.getegid);
  out.groups = process.getgroups ? [...new Set(process.getgroups())].sort((a, b) => a - b).join(',') : null;
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: null below
  }
  for (const k of ['NoNewPrivs', 'Seccomp']) out[k] = new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? null;
  return out;
}

/** The device and inode of `dir` ("dev:ino"), or null: the daemon's view of the client's cwd must be the client's own (not a chroot's or another mount's path). */
export function cwdIdentity(dir: string): string | null {
  try {
    const s = statSync(dir);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/** The first name whose value differs between two {@link confinement}s (a missing one differs), or null. */
export function confinementDifference(a: unknown, b: Record<string, string | null>): string | null {
  if (!a || typeof a !== 'object' || Array.isArray(a)) return 'confinement';
  const given = a as Record<string, unknown>;
  for (const k of new Set([...Object.keys(given), ...Object.keys(b)])) if (given[k] !== b[k]) return k;
  return null;
}
