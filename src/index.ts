/**
 * ckpt as a library: snapshots of a worktree in hidden git refs, the step log,
 * diffs, undoable rollback, and races of several agents on one task.
 *
 * The library never prints, exits or reads the user's terminal; the CLI
 * (src/cli) does. Errors are {@link CkptError}s with stable codes.
 */
export { CkptError, isCkptError, ERROR_CODES } from './core/errors.js';
export type { ErrorCode, ErrorKind } from './core/errors.js';
export type { Snapshot, SnapshotInput, SnapshotKind, Step, StepStats } from './core/types.js';
export { parseDuration, parseTimePoint } from './core/duration.js';
export { openRepo } from './git/repo.js';
export type { Repo } from './git/repo.js';
export { takeSnapshot, captureTree } from './snapshot/take.js';
export type { TakeResult } from './snapshot/take.js';
export { listSteps, resolveSnapshot, resolveTime } from './snapshot/store.js';
export { rollback } from './snapshot/rollback.js';
export type { RollbackOptions, RollbackResult, FileChange } from './snapshot/rollback.js';
