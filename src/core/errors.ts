/**
 * Typed errors. Every error ckpt raises on purpose is a {@link CkptError} with
 * a stable `code` (part of the public contract: scripts match on it), a
 * human `message`, a `hint` that says what to do next, optional JSON-safe
 * `data` and the underlying `cause`. The library never prints or exits; the CLI
 * maps {@link CkptError.kind} to an exit code (see docs/cli.md).
 */

/** What sort of failure it is; decides the CLI exit code. */
export type ErrorKind = 'user' | 'conflict' | 'environment' | 'internal';

/** Every stable error code, with its kind. */
export const ERROR_CODES = {
  /** The directory is not inside a git worktree. */
  NOT_A_REPO: 'user',
  /** The repository is bare: there is no worktree to snapshot. */
  BARE_REPO: 'user',
  /** A snapshot, step or time given by the user matches nothing. */
  SNAPSHOT_NOT_FOUND: 'user',
  /** The worktree has no snapshots yet. */
  NO_SNAPSHOTS: 'user',
  /** `rollback --undo` found no rollback to undo. */
  NOTHING_TO_UNDO: 'user',
  /** Bad command-line input or option value, or a bad parameter of a web viewer request. */
  INVALID_ARGUMENT: 'user',
  /** A duration or time expression could not be parsed. */
  INVALID_DURATION: 'user',
  /** A pathspec matched no path in either tree. */
  PATH_NOT_FOUND: 'user',
  /** A snapshot tree holds an entry that must never be written (`..`, `.git`). */
  HOSTILE_TREE: 'conflict',
  /** A rollback would overwrite or delete something it cannot restore (an ignored file, say). */
  ROLLBACK_WOULD_CLOBBER: 'conflict',
  /** Another ckpt process holds this worktree's lock for too long. */
  LOCKED: 'conflict',
  /** The snapshot ref moved under us (another process wrote it); retry. */
  REF_RACE: 'conflict',
  /** Configuration file invalid. */
  CONFIG_INVALID: 'user',
  /** An agent's settings file (`.claude/settings.local.json`) is not JSON or not the shape the agent reads; nothing was changed. */
  AGENT_SETTINGS_INVALID: 'user',
  /** `hooks install` was asked to write a project settings file git tracks (the project's, not the user's own); nothing was changed. */
  AGENT_SETTINGS_TRACKED: 'user',
  /** An agent program is not installed. */
  AGENT_NOT_INSTALLED: 'environment',
  /** `race --sandbox`: bubblewrap is missing or not permitted here; nothing was run. */
  SANDBOX_UNAVAILABLE: 'environment',
  /** `race --deps hardlink|symlink` (or `race.symlink`) without `--unsafe-deps`: an attempt could change the user's own bytes; nothing was created. */
  DEPS_UNSAFE: 'user',
  /** `race --deps reflink` where the file system cannot clone, or `--deps install` without a lockfile or its package manager; nothing was created. */
  DEPS_UNAVAILABLE: 'environment',
  /** A peer tool's config file (`conductor.json`, `.superset/config.json`, `.cursor/worktrees.json`) is not JSON or not the shape that tool documents; nothing was run. */
  PEER_CONFIG_INVALID: 'user',
  /** Race bookkeeping: unknown race or attempt. */
  RACE_NOT_FOUND: 'user',
  /** Another race process of the repository claimed the race id this one planned (same second, same random digits); nothing was created. */
  RACE_ID_TAKEN: 'conflict',
  ATTEMPT_NOT_FOUND: 'user',
  /** `race clean` kept a worktree whose live state it could not record in a snapshot. */
  WORKTREE_KEPT: 'conflict',
  /** Applying a winner would overwrite the user's newer work. */
  PICK_WOULD_CLOBBER: 'conflict',
  /** git is missing, too old, or failed in a way we did not expect. */
  GIT_FAILED: 'environment',
  GIT_NOT_FOUND: 'environment',
  /** A file-system operation failed (permissions, disk full, read-only). */
  FS_FAILED: 'environment',
  /** The web viewer refused a request: missing or wrong token, wrong `Host` or `Origin`, or a cross-site request (HTTP 403). */
  FORBIDDEN: 'user',
  /** The web viewer has no such page or API route, or none in this mode (a race route on `ckpt view`) (HTTP 404). */
  NOT_FOUND: 'user',
  /** The web viewer's route does not take this HTTP method (HTTP 405). */
  METHOD_NOT_ALLOWED: 'user',
  /** A request body the web viewer does not read: not `Content-Type: application/json` (HTTP 415). */
  UNSUPPORTED_MEDIA_TYPE: 'user',
  /** A request body over the web viewer's limit (HTTP 413). */
  BODY_TOO_LARGE: 'user',
  /** `ckpt daemon start`: a daemon already runs for this repository. */
  DAEMON_RUNNING: 'conflict',
  /** `ckpt daemon stop` or `status`: no daemon runs for this repository. */
  DAEMON_NOT_RUNNING: 'user',
  /** The daemon did not start, or does not answer (its log says why). */
  DAEMON_FAILED: 'environment',
  /** A bug in ckpt. */
  INTERNAL: 'internal',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link CkptError}. */
export interface CkptErrorOptions {
  /** What the user can do about it (one sentence, may name a command). */
  hint?: string;
  /** JSON-serialisable details (paths, ids) for `--json` output. */
  data?: Record<string, unknown>;
  /** The error that caused this one. */
  cause?: unknown;
}

/** The one error class of ckpt; see {@link ERROR_CODES} for the codes. */
export class CkptError extends Error {
  override readonly name = 'CkptError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CkptErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }

  /** The kind decides the CLI exit code. */
  get kind(): ErrorKind {
    return ERROR_CODES[this.code];
  }

  /** The JSON shape printed by `--json` on failure. */
  toJSON(): { code: ErrorCode; message: string; hint?: string; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), data: this.data };
  }
}

/** True when `err` is a {@link CkptError}, optionally with the given code. */
export function isCkptError(err: unknown, code?: ErrorCode): err is CkptError {
  return err instanceof CkptError && (code === undefined || err.code === code);
}

/**
 * The `FS_FAILED` error for a file-system call that threw (`err`, a Node
 * errno error): `what` says what ckpt was doing (`write state.json`), `file`
 * where; data carries the errno (`ENOSPC`, `EACCES`, `EROFS`, …).
 */
export function fsFailure(err: unknown, what: string, file: string): CkptError {
  // Not NodeJS.ErrnoException: this module is also type-checked with the browser client (no Node types).
  const code = (err as { code?: unknown } | null)?.code;
  const errno = typeof code === 'string' ? code : null;
  const full = errno === 'ENOSPC' || errno === 'EDQUOT';
  return new CkptError('FS_FAILED', `could not ${what} (${file}): ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    hint: full ? 'Free some disk space, then run the command again.' : 'Check permissions and free space, then run the command again.',
    data: { file, errno },
  });
}
