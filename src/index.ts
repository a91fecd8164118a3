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
// NUL-separated git records (`-z`, `--stdin -z`): for tools and benchmarks that drive git beside ckpt.
export { splitNul, joinNul } from './git/exec.js';
export type { Repo } from './git/repo.js';
export { takeSnapshot, captureTree } from './snapshot/take.js';
export type { TakeResult } from './snapshot/take.js';
export { listSteps, resolveSnapshot, resolveTime } from './snapshot/store.js';
// The daemon's snapshot of known changed paths, for other long-lived processes.
export { IncrementalContext, treeWithChanges } from './snapshot/incremental.js';
export type { IncrementalBase, IncrementalTree, Unsure } from './snapshot/incremental.js';
export { takeSnapshotOfChanges, takeSnapshotOfChangesLocked } from './snapshot/take-changes.js';
export { TempPool } from './git/temp-pool.js';
export { foldPacks, storePacks, type FoldResult } from './git/pack-fold.js';
export type { ChangesResult } from './snapshot/take-changes.js';
export { rollback } from './snapshot/rollback.js';
export type { RollbackOptions, RollbackResult, FileChange } from './snapshot/rollback.js';
export { diff } from './snapshot/diff.js';
export type { DiffOptions, DiffResult, FileDiff } from './snapshot/diff.js';
export { gc, status } from './snapshot/gc.js';
export type { GcOptions, GcResult, ChainStatus } from './snapshot/gc.js';
export { startWatching } from './watch/watcher.js';
export { daemonArgv, daemonEnv, daemonStatus, DAEMON_NODE_OPTIONS } from './watch/daemon-control.js';
export type { WatchOptions, Watching } from './watch/watcher.js';
export { recordHookStep, HOOK_AGENT_NAMES } from './agents/hooks.js';
export type { AgentHooks, HookAgentName, HookStep, HookState, ParsedHook, HookInstallOptions, HookInstallResult } from './agents/hooks.js';
export { loadAgentHooks } from './agents/hook-registry.js';
export { handleClaudeHook, installClaudeHooks, uninstallClaudeHooks, claudeHookSettings, claudeHookCommand } from './agents/claude.js';
export { planRace } from './race/plan.js';
export { runRace } from './race/run.js';
export { cleanRace } from './race/clean.js';
export type { RaceOptions, RacePlan, PlannedAttempt } from './race/plan.js';
export { pickAttempt } from './race/pick.js';
export type { PickMode, PickResult } from './race/pick.js';
export { attemptDiffs, fileVersions } from './race/compare.js';
export { resolveRace, listRaces, loadRace } from './race/store.js';
export { loadConfig, parseModels, resolveAgent } from './race/config.js';
export { DEPS_STRATEGIES, planDeps, provideDeps, dependencyDirs } from './race/deps.js';
export type { DepsPlan, DepsProvided, DepsStrategy, ResolvedDeps } from './race/deps.js';
export { readPeerConfigs } from './race/peers.js';
export type { PeerConfigs } from './race/peers.js';
export { PRESETS, expandArgv, parseOutput } from './agents/presets.js';
export type { Attempt, AttemptState, RaceRecord, CheckResult, Tokens } from './race/types.js';
export { startViewer } from './view/server.js';
export { writeReport } from './view/report.js';
