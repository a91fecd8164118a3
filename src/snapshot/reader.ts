/**
 * How a restore reads the worktree when something other than git's full
 * read can answer: a long-lived process that knows every path changed since
 * the chain's tip was read (the daemon, watch/daemon-reader.ts). The
 * snapshot core defines the shape; the caller passes one in
 * (`RollbackOptions.reader`). Whenever a reader cannot answer, the restore
 * reads with git, as it does without one.
 */
import type { Snapshot } from '../core/types.js';
import type { TreeChange } from '../git/tree-diff.js';
import type { Capture } from './capture.js';

/** Reads the worktree on top of the chain's tip, from the paths changed since it was read. */
export interface WorktreeReader {
  /** Who reads, as {@link RestoreResult.readBy} names it (`daemon`). */
  readonly name: string;
  /**
   * Without `only`: the worktree's tree now, `tip`'s tree with every path
   * changed since it was read read again. With `only`: `tip`'s tree with
   * exactly those paths read again, each read and hashed whatever its stat
   * data says, and nothing else (as `git add -A -- PATHS` over an index
   * holding `tip`). Writes the blobs and trees (with `only` it may leave
   * them queued in the capture's `writer`, for the snapshot that records it:
   * snapshot/take.ts writes them with its commit), records nothing. The caller
   * holds the worktree lock.
   *
   * @param tip the chain's tip (its tree and what it left out).
   * @param only worktree-relative paths (raw bytes).
   * @returns the capture, or null when the reader cannot be sure or cannot
   *   be reached (the caller then reads the whole worktree with git). Never throws.
   */
  read(tip: Snapshot, only?: readonly Buffer[]): Promise<Capture | null>;
  /**
   * The paths that differ between trees `from` and `to`, as `diffTrees`
   * gives them (git/tree-diff.ts), from the reader's own trees: a restore's
   * plan without a git process. Null when it cannot answer (the caller asks
   * git). Never throws.
   */
  diff?(from: string, to: string): Promise<TreeChange[] | null>;
}
