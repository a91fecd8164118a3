/**
 * Where the daemon of a repository lives, and the wire protocol's version:
 * shared by the daemon and its tiny client (`ckpt hook`), so this module
 * imports nothing but Node's `path` and `fs`, and loads `os` (for a socket
 * path too long to use as is) and `child_process` (for the rare config git
 * must read itself) only when it needs them (the hook's start-up budget,
 * docs/architecture.md).
 *
 * ```
 * <common-dir>/ckpt/daemon/sock        the unix socket (or a hashed name in the temp dir when that path is too long)
 * <common-dir>/ckpt/daemon/daemon.json pid, version, socket, start time (written once listening)
 * <common-dir>/ckpt/daemon/lock        held for the daemon's life (core/owned-lock.ts: a file naming it): a second daemon cannot start
 * <common-dir>/ckpt/daemon/log         what the daemon did (appended)
 * ```
 */
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Bumped whenever a request or reply changes shape; a client and a daemon of different protocols or versions do not talk (the client falls back).
 * 2: a `hook` request names its `agent` (every agent's hooks; a daemon of protocol 1 would read any payload as Claude Code's).
 * 3: a `rollback` request sends the client's confinement and cwd's identity; its final reply is `output` in order, not `stdout` and `stderr`
 *    (a daemon of protocol 2 would serve a sandboxed client, and its reply would read as lost).
 */
export const DAEMON_PROTOCOL = 3;

declare const CKPT_VERSION: string | undefined;
/** This build's ckpt version, as the daemon and its clients compare it. */
export const DAEMON_VERSION = `${typeof CKPT_VERSION === 'string' ? CKPT_VERSION : '0.1.0'}+p${DAEMON_PROTOCOL}`;

/** Longest unix socket path used as is (sockaddr_un holds 108 bytes on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = 100;

/** The daemon's directory under the common git dir. */
export function daemonDir(commonDir: string): string {
  return path.join(commonDir, 'ckpt', 'daemon');
}

/** The daemon's unix socket for the repository whose common git dir is `commonDir`. */
export function socketPath(commonDir: string): string {
  const p = path.join(daemonDir(commonDir), 'sock');
  if (Buffer.byteLength(p) <= MAX_SOCKET_PATH) return p;
  // Loaded only here: a hook with the usual socket path never pays for `os` (~0.4 ms of CPU to load; process.getBuiltinModule, as for child_process below).
  const { tmpdir, userInfo } = process.getBuiltinModule('node:os');
  let uid = 'u';
  try {
    uid = String(userInfo().uid);
  } catch {
    // no user entry: one shared name
  }
  return path.join(tmpdir(), `ckpt-${uid}`, `${fnv1a(commonDir)}.sock`);
}

/**
 * {@link socketPath} when it may be trusted, else null: a socket in the
 * repository's own daemon directory always; one in the shared temporary
 * directory (a long path: `ckpt-<uid>/`) only while that directory is a
 * real directory (not a link) owned by this user, with no permission for
 * group or others (0700). Another user could otherwise make that directory
 * first and listen there: a client would send it its `GIT_*` variables
 * (GIT_CONFIG_PARAMETERS can carry tokens) and its hooks. Null: the client
 * does without the daemon (its direct path), the daemon does not start.
 * A directory that does not exist yet is not trusted either (a client has
 * no daemon to reach then; the daemon makes it 0700 first).
 */
export function trustedSocketPath(commonDir: string): string | null {
  const sock = socketPath(commonDir);
  const dir = path.dirname(sock);
  if (dir === daemonDir(commonDir)) return sock;
  return sharedDirProblem(dir) === null ? sock : null;
}

/** What makes the shared socket directory `dir` untrusted ("owned by uid 1001", "mode 0775", "not a directory"), or null when it is this user's own 0700 directory. */
export function sharedDirProblem(dir: string): string | null {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) return 'not a directory';
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return `owned by uid ${st.uid}`;
    if ((st.mode & 0o077) !== 0) return `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}`;
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'unreadable';
  }
}

/** 64-bit FNV-1a of the text, hex (a name, not a security boundary: the socket's directory is the user's own, checked by trustedSocketPath). */
function fnv1a(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/**
 * The pid of the daemon of the repository at `commonDir` when it runs on
 * this host: the one its `daemon.json` names, if that process is alive and
 * is a `… daemon run` (its `/proc/<pid>/cmdline`; Linux). Null otherwise
 * (none, a stale record, a pid reused by another program, no `/proc`).
 */
export function runningDaemonPid(commonDir: string): number | null {
  try {
    const rec = JSON.parse(readFileSync(path.join(daemonDir(commonDir), 'daemon.json'), 'utf8')) as { pid?: unknown };
    const pid = rec.pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf('daemon');
    return at >= 0 && argv[at + 1] === 'run' ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The common git dir of the worktree containing `dir`, found without git: a
 * walk up to `.git` (a directory, or a file naming a linked worktree's git
 * dir and its `commondir`). Null when unsure (`GIT_DIR` and friends set,
 * nothing found, an unreadable file): the caller then does without the daemon.
 */
export function findCommonDir(dir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.GIT_DIR || env.GIT_WORK_TREE || env.GIT_COMMON_DIR || env.GIT_CEILING_DIRECTORIES) return null;
  try {
    for (let d = path.resolve(dir); ; ) {
      const candidate = path.join(d, '.git');
      if (existsSync(candidate)) {
        if (statSync(candidate).isDirectory()) return candidate;
        const m = /^gitdir: (.*)$/m.exec(readFileSync(candidate, 'utf8'));
        if (!m) return null;
        const gitDir = path.resolve(d, m[1]!.trim());
        try {
          return path.resolve(gitDir, readFileSync(path.join(gitDir, 'commondir'), 'utf8').trim());
        } catch {
          return gitDir;
        }
      }
      const up = path.dirname(d);
      if (up === d) return null;
      d = up;
    }
  } catch {
    return null;
  }
}

/**
 * Whether hooks, watches, rollbacks and races should use (and start) the
 * daemon of the repository at `commonDir`: `CKPT_NO_DAEMON=1` says no,
 * `CKPT_DAEMON=1` yes (`0` no), else git's `ckpt.daemon` (git-config(1):
 * system, global, then the repository's own file; the last one set wins).
 * **On by default**: with nothing set, the daemon is wanted; every caller
 * falls back to the direct path whenever it cannot be reached.
 *
 * The config files are read as text, without running git (a hook's
 * start-up budget); when one of them includes others (`[include]`,
 * `[includeIf]`), per-worktree config is on, or config comes from the
 * environment (`GIT_CONFIG_COUNT`, `GIT_CONFIG_PARAMETERS`), git itself
 * answers (`git config --get --type=bool ckpt.daemon`), so the answer is
 * always git's.
 */
export function daemonWanted(commonDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CKPT_NO_DAEMON === '1') return false;
  if (env.CKPT_DAEMON === '1') return true;
  if (env.CKPT_DAEMON === '0') return false;
  const home = env.HOME ?? '';
  const files: string[] = [];
  if (!env.GIT_CONFIG_NOSYSTEM || /^(0|false|no|off)$/i.test(env.GIT_CONFIG_NOSYSTEM)) files.push(env.GIT_CONFIG_SYSTEM ?? '/etc/gitconfig');
  if (env.GIT_CONFIG_GLOBAL !== undefined) files.push(env.GIT_CONFIG_GLOBAL);
  else files.push(path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'git', 'config'), path.join(home, '.gitconfig'));
  files.push(path.join(commonDir, 'config'));
  let on = true;
  let needGit = !!(env.GIT_CONFIG_COUNT || env.GIT_CONFIG_PARAMETERS);
  for (const f of files) {
    if (needGit || !f) break;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // absent: sets nothing
    }
    const got = configBool(text, 'ckpt', 'daemon');
    if (got.includes || (f === files.at(-1) && /^\s*worktreeconfig\s*=\s*(true|yes|on|1)?\s*$/im.test(text))) needGit = true;
    else if (got.value !== null) on = got.value;
  }
  if (!needGit) return on;
  const dir = path.dirname(commonDir);
  // Loaded only here: the hook's usual path never pays for child_process
  // (process.getBuiltinModule, not an import: this module is also bundled as CommonJS, dist/hook.cjs).
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  const r = spawnSync('git', ['config', '--get', '--type=bool', 'ckpt.daemon'], { cwd: existsSync(dir) ? dir : commonDir, env, encoding: 'utf8', timeout: 5000 });
  // Exit 1: not set (the default, on); a value: git's reading of it; anything else (git failed): the default.
  return !(r.status === 0 && r.stdout.trim() === 'false');
}

/**
 * The last value of `section.key` in one config file's text, as a boolean
 * (git's spellings; a key without `=` is true), and whether the file
 * includes others (then only git can answer).
 */
function configBool(text: string, section: string, key: string): { value: boolean | null; includes: boolean } {
  let sec = '';
  let value: boolean | null = null;
  let includes = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)[#;].*$/, '').trim();
    const head = /^\[\s*([A-Za-z0-9.-]+)(\s+"[^"]*")?\s*\](.*)$/.exec(line);
    let body = line;
    if (head) {
      sec = (head[1]!.toLowerCase() + (head[2] ? ' sub' : ''));
      if (sec === 'include' || sec === 'includeif sub') includes = true;
      body = head[3]!.trim();
      if (!body) continue;
    }
    if (sec !== section) continue;
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(body);
    if (!kv || kv[1]!.toLowerCase() !== key) continue;
    const v = (kv[2] ?? 'true').replace(/^"(.*)"$/, '$1').trim();
    if (/^(true|yes|on|1)$/i.test(v) || kv[2] === undefined) value = true;
    else if (/^(false|no|off|0|)$/i.test(v)) value = false;
  }
  return { value, includes };
}
