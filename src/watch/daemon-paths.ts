/**
 * Where the daemon of a repository lives, and the wire protocol's version:
 * shared by the daemon and its tiny client (`ckpt hook`), so this module
 * imports nothing but Node's `path`, `os` and `fs` (the hook's start-up
 * budget, docs/architecture.md).
 *
 * ```
 * <common-dir>/ckpt/daemon/sock        the unix socket (or a hashed name in the temp dir when that path is too long)
 * <common-dir>/ckpt/daemon/daemon.json pid, version, socket, start time (written once listening)
 * <common-dir>/ckpt/daemon/lock        held for the daemon's life (core/owned-lock.ts: a file naming it): a second daemon cannot start
 * <common-dir>/ckpt/daemon/log         what the daemon did (appended)
 * ```
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/** Bumped whenever a request or reply changes shape; a client and a daemon of different protocols or versions do not talk (the client falls back). */
export const DAEMON_PROTOCOL = 1;

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
  let uid = 'u';
  try {
    uid = String(userInfo().uid);
  } catch {
    // no user entry: one shared name
  }
  return path.join(tmpdir(), `ckpt-${uid}`, `${fnv1a(commonDir)}.sock`);
}

/** 64-bit FNV-1a of the text, hex (a name, not a security boundary: the socket's directory is the user's own). */
function fnv1a(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
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
 * Whether hooks should use the daemon of the repository at `commonDir`:
 * `CKPT_NO_DAEMON=1` says no, `CKPT_DAEMON=1` yes, else `ckpt.daemon` in the
 * repository's own config file (`git config ckpt.daemon true`; read as text,
 * without includes or the global config, so no git runs). Off by default.
 */
export function daemonWanted(commonDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CKPT_NO_DAEMON === '1') return false;
  if (env.CKPT_DAEMON === '1') return true;
  if (env.CKPT_DAEMON === '0') return false;
  try {
    let section = '';
    let on = false;
    for (const raw of readFileSync(path.join(commonDir, 'config'), 'utf8').split('\n')) {
      const line = raw.replace(/[#;].*$/, '').trim();
      const sec = /^\[\s*([A-Za-z0-9.-]+)\s*\]$/.exec(line);
      if (sec) section = sec[1]!.toLowerCase();
      else if (section === 'ckpt') {
        const kv = /^daemon\s*(?:=\s*(.*))?$/i.exec(line);
        if (kv) on = kv[1] === undefined || /^(true|yes|on|1)$/i.test(kv[1].trim());
      }
    }
    return on;
  } catch {
    return false;
  }
}
