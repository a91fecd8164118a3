/**
 * `ckpt agents`' picture of a repository: every worktree (the user's, linked
 * ones, race attempts), the agent working in each and its state
 * (agents/state.ts), the worktree's last step and the files changed since the
 * agent's session began, newest activity first. Read from files and ckpt's
 * store only; nothing is written.
 */
import type { Snapshot } from '../core/types.js';
import { openRepo, type Repo } from '../git/repo.js';
import { listWorktreesReading } from '../git/worktree-admin.js';
import { diffTrees } from '../git/tree-diff.js';
import { listSteps, readSnapshot } from '../snapshot/store.js';
import { agentStatus, agentStatusText, readAgentState, type AgentState, type AgentStatus } from './state.js';

/** Changed paths listed per worktree (the count is always whole). */
export const CHANGED_LISTED = 20;

/** One worktree in {@link agentsOverview}. Times are ms since the epoch. */
export interface AgentRow {
  /** The worktree's top directory. */
  worktree: string;
  /** ckpt's id of the worktree. */
  id: string;
  /** Whether it is the worktree the overview was asked from. */
  current: boolean;
  /** Its branch (`main`, `ckpt/race/<race>/<attempt>`), null when detached. */
  branch: string | null;
  /** The race and attempt, for an attempt's worktree (from its branch, or from its agent's hooks). */
  race: { id: string; attempt: string } | null;
  /** The agent last reported here, or null when none ever was. */
  agent: string | null;
  /** What its state means now; `none` when no agent reported here. */
  status: AgentStatus | 'none';
  /** {@link agentStatusText}: `running Bash npm test`, `waiting for input (permission: Bash) since 12:04:05`… (`—` for none). */
  statusText: string;
  /** The state as recorded, or null. */
  state: AgentState | null;
  /** The newest snapshot of the worktree, or null. */
  lastStep: Pick<Snapshot, 'id' | 'step' | 'kind' | 'tool' | 'target' | 'time'> | null;
  /** Files that differ between the snapshot the session began at and the last step; null without a session or a step. */
  changed: number | null;
  /** The first {@link CHANGED_LISTED} of them (`A`/`M`/`D`/`T` and path). */
  changedPaths: { status: string; path: string }[];
  /** The newest of the state's last event and the last step (null: nothing yet). */
  activityAt: number | null;
}

/** Diff results kept between calls (`--watch`), keyed by the two trees. */
export type OverviewCache = Map<string, { count: number; paths: { status: string; path: string }[] }>;

/**
 * Every worktree of `repo`'s repository with its agent, newest activity
 * first (worktrees with nothing yet last, in `git worktree list` order).
 *
 * @param opts.cache diff results to reuse across calls (`ckpt agents --watch`).
 * @param opts.time how times are written in `statusText`.
 * @throws CkptError `GIT_FAILED`.
 */
export async function agentsOverview(repo: Repo, opts: { cache?: OverviewCache; time?: (ms: number) => string } = {}): Promise<AgentRow[]> {
  const rows: AgentRow[] = [];
  for (const wt of await listWorktrees(repo)) {
    let r: Repo;
    try {
      r = wt.path === repo.worktree ? repo : await openRepo(wt.path);
    } catch {
      continue; // gone, or not a worktree any more: nothing to show
    }
    rows.push(await rowOf(r, wt.branch, r.worktree === repo.worktree, opts));
  }
  const order = new Map(rows.map((row, i) => [row, i]));
  return rows.sort((a, b) => (b.activityAt ?? -1) - (a.activityAt ?? -1) || order.get(a)! - order.get(b)!);
}

async function rowOf(r: Repo, branch: string | null, current: boolean, opts: { cache?: OverviewCache; time?: (ms: number) => string }): Promise<AgentRow> {
  const state = readAgentState(r);
  const tip = await readSnapshot(r, r.ref).catch(() => null);
  const status = state ? agentStatus(state) : 'none';
  const fromBranch = branch ? /^ckpt\/race\/([^/]+)\/(.+)$/.exec(branch) : null;
  const race = state?.race ?? (fromBranch ? { id: fromBranch[1]!, attempt: fromBranch[2]! } : null);
  let changed: number | null = null;
  let changedPaths: { status: string; path: string }[] = [];
  if (state && tip) {
    const base = await sessionBase(r, state, tip);
    if (base) {
      const key = `${base}..${tip.tree}`;
      let hit = opts.cache?.get(key);
      if (!hit) {
        const changes = await diffTrees(r, base, tip.tree);
        hit = { count: changes.length, paths: changes.slice(0, CHANGED_LISTED).map((c) => ({ status: c.status, path: c.path })) };
        opts.cache?.set(key, hit);
      }
      changed = hit.count;
      changedPaths = hit.paths;
    }
  }
  const times = [state?.at, tip?.time].filter((t): t is number => typeof t === 'number');
  return {
    worktree: r.worktree,
    id: r.id,
    current,
    branch,
    race,
    agent: state?.agent ?? null,
    status,
    statusText: state ? agentStatusText(state, status as AgentStatus, opts.time) : '—',
    state,
    lastStep: tip ? { id: tip.id, step: tip.step, kind: tip.kind, tool: tip.tool, target: tip.target, time: tip.time } : null,
    changed,
    changedPaths,
    activityAt: times.length ? Math.max(...times) : null,
  };
}

/**
 * The tree the session began at: the snapshot that was the chain's tip when
 * ckpt first saw the session, or, when the chain began during the session,
 * its first step.
 */
async function sessionBase(r: Repo, state: AgentState, tip: Snapshot): Promise<string | null> {
  if (state.baseSnapshot) {
    if (state.baseSnapshot === tip.id) return tip.tree;
    return (await readSnapshot(r, state.baseSnapshot).catch(() => null))?.tree ?? null;
  }
  if (tip.step === 1) return tip.tree;
  const steps = await listSteps(r, { stats: false });
  const first = steps.at(-1);
  return first && first.time >= state.sessionStartedAt - 1000 ? first.tree : null;
}

/** The worktrees of the repository (`git worktree list --porcelain -z`), bare and missing ones left out. */
async function listWorktrees(repo: Repo): Promise<{ path: string; branch: string | null }[]> {
  const { stdout } = await listWorktreesReading(repo, true);
  const out: { path: string; branch: string | null }[] = [];
  let cur: { path: string; branch: string | null; skip: boolean } | null = null;
  const flush = (): void => {
    if (cur && !cur.skip) out.push({ path: cur.path, branch: cur.branch });
    cur = null;
  };
  for (const field of stdout.toString('utf8').split('\0')) {
    if (field === '') {
      flush();
      continue;
    }
    if (field.startsWith('worktree ')) {
      flush();
      cur = { path: field.slice(9), branch: null, skip: false };
    } else if (cur && field.startsWith('branch ')) cur.branch = field.slice(7).replace(/^refs\/heads\//, '');
    else if (cur && (field === 'bare' || field.startsWith('prunable'))) cur.skip = true;
  }
  flush();
  return out;
}
