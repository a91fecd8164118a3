/**
 * The race record: plain JSON, written to `<git-common-dir>/ckpt/races/<id>/race.json`
 * at every state change. `race show --json` prints it, and the web viewer
 * reads the same shape.
 */

/** Lifecycle of one attempt. */
export type AttemptState =
  | 'pending' // not started yet (waiting for --max-parallel)
  | 'setup' // worktree being made, env copied, setup command running
  | 'running' // the agent runs
  | 'checking' // the --check command runs
  | 'done' // the agent exited 0
  | 'failed' // the agent exited non-zero, or setup failed
  | 'timeout' // wall-clock or idle timeout; the process group was killed
  | 'interrupted'; // Ctrl-C, or the race process died

import type { Tokens } from '../agents/presets.js';
import type { AgentStatus } from '../agents/state.js';

export type { Tokens };

/** The result of `--check` in one attempt. */
export interface CheckResult {
  command: string;
  exitCode: number | null;
  passed: boolean;
  durationMs: number;
  /** The last lines of its output (at most 40 lines / 4 KiB). */
  tail: string;
  timedOut: boolean;
}

/**
 * One run of an attempt's agent and the check after it (race `--rounds`):
 * round 1 runs the task; each later round follows a failed check, with the
 * task and the tail of that check's output.
 */
export interface RoundRecord {
  /** 1-based. */
  round: number;
  /** `start` (round 1), `resume` (the agent's own session continued), `fresh` (run again with the follow-up as its task). */
  how: 'start' | 'resume' | 'fresh';
  /** The argv run. */
  command: string[];
  /** The agent's own session id, as its output reported it (null: none seen). */
  session: string | null;
  /** Bytes of feedback given to this round: the failed check's output or the reviewer's notes (0 in round 1). */
  feedbackBytes: number;
  /** What that feedback was: the failed check's output, or a reviewer's notes ("request changes"); null in round 1 (absent in older records). */
  feedbackFrom?: 'check' | 'review' | null;
  startedAt: number;
  /** The agent's run, ms. */
  durationMs: number | null;
  exitCode: number | null;
  /** How the agent's run ended. */
  state: AttemptState;
  /** The snapshot at the end of this round's agent run (id). */
  final: string | null;
  check: CheckResult | null;
  tokens: Tokens | null;
  costUsd: number | null;
}

/** A reviewer's verdict. */
export type Verdict = 'approve' | 'request-changes';

/** What a reviewer or judge run left behind: common to both records. */
export interface ScratchRun {
  /** The agent (`codex`) and model it ran with. */
  by: string;
  model: string | null;
  /** How its process ended: `done` (exit 0, no error reported), `failed`, `timeout`, `interrupted`. */
  state: 'done' | 'failed' | 'timeout' | 'interrupted';
  error: string | null;
  startedAt: number;
  /** ms */
  durationMs: number;
  exitCode: number | null;
  tokens: Tokens | null;
  costUsd: number | null;
  /** Its output log. */
  log: string;
  /** The snapshot of its scratch worktree at its end (what it changed there, never applied), null when none was taken. */
  snapshot: string | null;
  /** Paths it changed in its scratch worktree. */
  changed: string[];
  /** Why its scratch worktree was kept (null: removed). */
  kept: string | null;
}

/** A review of one attempt, as stored in the race record (`reviews`). */
export interface ReviewRecord extends ScratchRun {
  attempt: string;
  /** The attempt's round reviewed (its last at the time). */
  round: number;
  /** Null when the answer named none (see docs/race.md for the contract). */
  verdict: Verdict | null;
  notes: string;
}

/** A judge's ranking of the finished attempts, as stored in the race record (`judge`). */
export interface JudgeRecord extends ScratchRun {
  /** Best first; only names of attempts it was shown. */
  ranking: { attempt: string; reason: string }[];
  notes: string;
}

/** One attempt of a race. */
export interface Attempt {
  /** `claude`, `claude-2`, `codex`… */
  name: string;
  /** 1-based position, also `CKPT_ATTEMPT_INDEX`. */
  index: number;
  /** Agent (preset or configured) name. */
  agent: string;
  model: string | null;
  /** The argv run (task included), for the record. */
  command: string[];
  /** Whether the task went in through stdin instead of argv. */
  taskViaStdin: boolean;
  /** The attempt's linked worktree. */
  dir: string;
  /** Its branch, `ckpt/race/<race>/<attempt>`. */
  branch: string;
  /** Its snapshot chain ref. */
  ref: string;
  /** First port of its range (`PORT`). */
  port: number;
  /** The variables ckpt set for it (`race.env`/`--env` expanded, `CKPT_*`, `PORT`), which its teardown gets too; absent in older records. */
  env?: Record<string, string>;
  state: AttemptState;
  exitCode: number | null;
  signal: string | null;
  startedAt: number | null;
  endedAt: number | null;
  durationMs: number | null;
  /** Snapshots taken in the attempt (its steps). */
  steps: number;
  /** Changes of the final state against the base. */
  files: number;
  insertions: number;
  deletions: number;
  /** The final snapshot of the attempt (id), once finished. */
  final: string | null;
  tokens: Tokens | null;
  costUsd: number | null;
  /** The agent's closing message or error, where it reports one. */
  resultText: string | null;
  /** Last tool used (from hooks) or last output line. */
  lastLine: string | null;
  /**
   * The agent's state from its hooks while it runs (agents/state.ts:
   * `running`, `waiting` for input since when, `idle`, `stale`), read with the
   * live progress; absent when its hooks report none (and in older records).
   */
  agentState?: { status: AgentStatus; text: string; waitingSince: number | null } | null;
  /** Output log file (capped). */
  log: string;
  /** Bytes the agent wrote to stdout/stderr, including what the cap dropped. */
  outputBytes: number;
  /** The check of the last round. */
  check: CheckResult | null;
  /**
   * Every round run so far, oldest first (`--rounds`); tokens and cost of the
   * attempt are their sums, `durationMs` the sum of the agents' runs. Absent
   * in records of older versions (one round).
   */
  rounds?: RoundRecord[];
  /** Why it failed, when ckpt knows (setup error, timeout, not installed…). */
  error: string | null;
  /** Score used to rank attempts (higher is better); see score.ts. */
  score: number | null;
}

/** A race as recorded. Times are ms since the epoch. */
export interface RaceRecord {
  version: 1;
  id: string;
  task: string;
  /** The user's worktree the race started from (and where `pick` applies). */
  worktree: string;
  /** The base every attempt starts from. */
  base: {
    /** Snapshot id in the user's chain (or of `--base`). */
    snapshot: string;
    tree: string;
    /** HEAD commit at the base (null: no commits). */
    head: string | null;
    /** The user's index tree at the base, if known. */
    indexTree: string | null;
    /** What the user gave as --base, or null for "the worktree now". */
    spec: string | null;
  };
  check: string | null;
  /** Run in each attempt by `race clean` and `--clean` before its worktree goes (`race.teardown`), or null. */
  teardown?: string | null;
  /** Rounds allowed per attempt (`--rounds`); absent in records of older versions (1). */
  rounds?: number;
  createdAt: number;
  endedAt: number | null;
  state: 'running' | 'finished' | 'interrupted';
  /** PID of the race process, to tell a crashed race from a running one. */
  pid: number;
  /** That process's start time (core/process-alive.ts `processStartTime`), so a reused pid does not read as the race running; absent in older records and where unknown. */
  pidStart?: string | null;
  attempts: Attempt[];
  /** Name of the best-scoring attempt once finished. */
  best: string | null;
  /** The attempt picked, once picked. */
  picked: { attempt: string; mode: 'apply' | 'squash' | 'merge' | 'branch'; at: number; preSnapshot: string | null; branch: string | null } | null;
  /** Reviews of attempts (`race review`, `--review-by`), oldest first; absent in records of older versions. */
  reviews?: ReviewRecord[];
  /** The judge's ranking (`--judge`), shown beside ckpt's score; absent when none was asked. */
  judge?: JudgeRecord | null;
  /**
   * How the attempts got their dependency directories (docs/race.md): the
   * strategy asked and the one run, why, the directories, the install
   * command. Absent in records of older versions.
   */
  deps?: { requested: string; strategy: string; reason: string; dirs: string[]; install: string[] | null };
  /** Worktrees removed by `race clean` or `--clean`. */
  cleaned: boolean;
  /** Things noticed that are not any attempt's state (e.g. the main checkout changed during the race). */
  warnings: string[];
  /**
   * How every process of an attempt was made to end with it: `bwrap` or
   * `unshare` (its own PID namespace), or `sweep` (processes left behind found
   * and ended); see docs/race.md. Absent in records of older versions.
   */
  confinement?: 'bwrap' | 'unshare' | 'sweep';
  /**
   * `--sandbox`: everything the race runs in a worktree (setup, agent, check,
   * teardown, reviewers, the judge) under bubblewrap (race/fence.ts), and
   * whether the agents, checks and reviewers keep the network; null or absent: not fenced.
   */
  sandbox?: { network: boolean } | null;
}
