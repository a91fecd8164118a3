/**
 * What the daemon offers a rollback it runs for a client (a `rollback`
 * request): the types only. The command itself is the CLI's
 * (cli/daemon-rollback.ts), handed to the daemon as
 * `DaemonOptions.rollback` by the process that runs it (cli/daemon-run.ts),
 * since watch/ knows no CLI.
 */
import type { Socket } from 'node:net';
import type { Repo } from '../git/repo.js';
import type { WorktreeReader } from '../snapshot/reader.js';

/** What the daemon gives the rollback server with each request. */
export interface RollbackService {
  /**
   * The request's connection. The server writes its first answer (`ready`
   * or a refusal) and reads the client's go-ahead on it itself; the daemon
   * writes the final reply the server returns, then closes it.
   */
  sock: Socket;
  /** The common git dir of the daemon's repository (a worktree of another repository is refused). */
  commonDir: string;
  /**
   * The reader of `repo`'s worktree in this process (the daemon's dirty set
   * and trees, as the `read` and `diff` requests answer; the worktree
   * watched first if it was not). The caller must hold `repo`'s worktree
   * lock in this process when it reads.
   */
  reader(repo: Repo): Promise<WorktreeReader>;
  /** Appends a line to the daemon's log. */
  log(line: string): void;
}

/**
 * Serves one `rollback` request: returns the final reply (`ok`, and the
 * command's `exit` and `output`), or a refusal (`ok: false`, `code`,
 * `message`, and `reason`: a short key without paths or values, by which
 * the daemon counts refusals in its status) the client takes as "run it
 * yourself" when it was given before the go-ahead.
 */
export type RollbackServer = (msg: Record<string, unknown>, svc: RollbackService) => Promise<Record<string, unknown>>;
