/**
 * The `rollback` request between `ckpt rollback`'s tiny client
 * (cli/rollback-client.ts) and the daemon that runs it
 * (cli/daemon-rollback.ts): what the client sends of its environment. No
 * import: the client is bundled alone (dist/rollback.cjs).
 *
 * The conversation, one JSON line each (watch/daemon.ts hands the socket to
 * the daemon's side after the first):
 *
 * 1. client → `{v, version, cmd: 'rollback', cwd, argv, env, outEnv, tty, umask}`
 * 2. daemon → `{ok: true, ready: true}`, or a refusal `{ok: false, code}`
 *    (the client then runs the rollback itself, as it does when no daemon
 *    answers in time);
 * 3. client → `{go: true}`: from here the client never runs the rollback
 *    itself (the daemon may have begun it), unless the daemon answers
 *    `{ok: false, code: 'GONE'}` (the go-ahead came after its bound: it
 *    began nothing); without it the daemon changes nothing;
 * 4. daemon → `{ok: true, exit, stdout, stderr}`: the command's exit code
 *    and output, which the client writes as they are.
 */

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
