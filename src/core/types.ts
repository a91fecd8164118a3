/**
 * Plain, JSON-serialisable types shared by the library, the CLI's `--json`
 * output and the web viewer.
 */

/**
 * Why a snapshot was taken.
 * - `before` / `after`: around an agent's tool call (agent hooks);
 * - `auto`: the watcher saw a burst of writes settle;
 * - `manual`: `ckpt snap`;
 * - `pre-rollback`: the state a rollback (or pick) replaced, so it can be undone;
 * - `rollback`: the state a rollback produced;
 * - `base`: the starting point of a race attempt.
 */
export type SnapshotKind = 'before' | 'after' | 'auto' | 'manual' | 'pre-rollback' | 'rollback' | 'base';

export const SNAPSHOT_KINDS: readonly SnapshotKind[] = ['before', 'after', 'auto', 'manual', 'pre-rollback', 'rollback', 'base'];

/** At most this many left-out paths are listed in a snapshot's trailers. */
export const NOT_CAPTURED_LISTED = 100;

/** Metadata a caller attaches to a snapshot. */
export interface SnapshotInput {
  kind: SnapshotKind;
  /** One-line message; defaults to a summary built from kind, tool and target. */
  message?: string;
  /** The agent that acted (`claude`, `codex`, …). */
  agent?: string;
  /** The agent's tool (`Edit`, `Bash`, …). */
  tool?: string;
  /** What the tool acted on (a file path, a command), shortened. */
  target?: string;
  /** The agent's id for the tool call, pairing `before` and `after`. */
  toolUseId?: string;
  /** Every tool call this snapshot serves, when it serves several (parallel hooks, snapshot/queue.ts); the first is `toolUseId`. */
  toolUseIds?: string[];
  /** Record a new snapshot even if the tree equals the last one. */
  force?: boolean;
  /** Extra trailers (key → value, single line each). */
  extra?: Record<string, string>;
}

/**
 * A path a snapshot left out on purpose (snapshot/left-out.ts): an untracked
 * file above the size cap, a file ckpt could not read, a FIFO, socket or
 * device. It was left as it is in the worktree.
 */
export interface NotCaptured {
  /** Worktree-relative path. */
  path: string;
  reason: 'too-large' | 'unreadable' | 'special';
  /** Its size in bytes when known (too-large), else null. */
  size: number | null;
}

/** One snapshot as read back from the chain. Times are ms since the epoch. */
export interface Snapshot {
  /** Commit id of the snapshot. */
  id: string;
  /** Step number, 1 for the first snapshot of the worktree. */
  step: number;
  kind: SnapshotKind;
  /** Tree id of the worktree at that moment. */
  tree: string;
  /** The previous snapshot's commit id, or null for the first. */
  parent: string | null;
  /** HEAD commit id at that moment, or null (no commits yet). */
  head: string | null;
  /** Symbolic HEAD (`refs/heads/main`) or null when detached. */
  headRef: string | null;
  /** Tree of the user's index at that moment, or null (unmerged index). */
  indexTree: string | null;
  message: string;
  agent: string | null;
  tool: string | null;
  target: string | null;
  toolUseId: string | null;
  /** Every tool call's id this snapshot recorded (one `Tool-Use-Id` trailer each; several when parallel hooks shared it); `[]` for none. */
  toolUseIds: string[];
  /** Paths left out of this snapshot (one `Not-Captured` trailer each; at most {@link NOT_CAPTURED_LISTED} listed, `notCapturedCount` has the total). */
  notCaptured: NotCaptured[];
  /** How many paths were left out in all (may exceed `notCaptured.length`). */
  notCapturedCount: number;
  /** When it was taken (ms since the epoch). */
  time: number;
  /** Absolute path of the worktree. */
  worktree: string;
  /** Trailers not covered above. */
  extra: Record<string, string>;
}

/** Per-step change counts, for `ckpt log`. */
export interface StepStats {
  files: number;
  insertions: number;
  deletions: number;
}

/** A snapshot with its change counts against the previous one. */
export interface Step extends Snapshot {
  stats: StepStats | null;
}
