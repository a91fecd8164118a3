/**
 * The JSON the viewer's page reads: its boot data and the answers of the
 * local server's API (server.ts). Types only, and importing only types
 * that need neither Node nor the DOM, so both the library (Node lib) and
 * the browser client (src/view/client/, DOM lib) type-check against the
 * same shapes.
 */
import type { ErrorCode } from '../core/errors.js';
import type { Step } from '../core/types.js';
import type { AgentRow } from '../agents/overview.js';
import type { RaceRecord } from '../race/types.js';
import type { NwayComparison, NwayFile, NwayFileSummary } from './nway.js';

/** Everything the page starts from (the `#ckpt-boot` JSON element). */
export interface Boot {
  /** `race`: attempts compared; `worktree`: one worktree's own checkpoints (`ckpt view`). */
  mode: 'race' | 'worktree';
  /** A static report: no server behind it (no pick, no tree browsing). */
  static: boolean;
  /** The server's token (sent as `X-Ckpt-Token`), null in a static report. */
  token: string | null;
  /** The race record as `race show --json` prints it (race mode). */
  race: RaceRecord | null;
  /** The comparison without lines (race mode). */
  index: ComparisonIndex | null;
  /** Static report: every file's model, by path. */
  files: Record<string, NwayFile> | null;
  /** Static report: each attempt's timeline (race mode), or `{"": steps}` (worktree mode). */
  steps: Record<string, Step[]> | null;
  /** Worktree mode: its path. */
  worktree: string | null;
  /** Static worktree report: each listed step's own changes, by step id. */
  stepChanges: Record<string, NwayComparison> | null;
}

/** The comparison without lines: what the page needs to lay out and navigate (`GET /api/compare`). */
export interface ComparisonIndex {
  attempts: string[];
  /** Attempts left out because they have no snapshot yet. */
  missing: string[];
  files: NwayFileSummary[];
  disagreements: NwayComparison['disagreements'];
}

/** One entry of a tree listing. */
export interface TreeEntry {
  path: string;
  mode: string;
  oid: string;
  /** Bytes (null for gitlinks). */
  size: number | null;
  /** How this step changed it against the previous step, if it did. */
  change: 'A' | 'M' | 'D' | null;
}

/** The files at a step (`GET /api/tree`). */
export interface StepTree {
  step: Step;
  /** The entries (deleted-in-this-step ones included, with change `D`), at most `limit`. */
  entries: TreeEntry[];
  /** More entries exist than were listed. */
  truncated: boolean;
}

/** A file's content at a step (`GET /api/blob`). */
export interface StepFile {
  path: string;
  mode: string;
  /** Bytes (null for gitlinks). */
  size: number | null;
  /** The text, or null when binary, too large or a gitlink. */
  text: string | null;
  binary: boolean;
  tooLarge: boolean;
}

/**
 * The answer of `POST /api/pick`: the part of the race layer's `PickResult`
 * the page reads (server.ts checks at compile time that a `PickResult` is one).
 */
export interface PickAnswer {
  race: string;
  attempt: string;
  mode: string;
  /** Files changed in the user's worktree. */
  changes: Array<{ path: string; action: string }>;
  /** The checkpoint recorded before (undo with `ckpt rollback --undo`). */
  preSnapshot: string | null;
}

/** An error as the server sends it: the shape `--json` prints on failure (`CkptError.toJSON()`). */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  hint?: string;
  data: Record<string, unknown>;
}

/** The body of every non-2xx answer. */
export interface ErrorAnswer {
  error: ErrorInfo;
}

/** `GET /api/agents`: every worktree of the repository with its agent and state (`ckpt agents --json`), newest activity first. */
export interface AgentsAnswer {
  agents: AgentRow[];
}
