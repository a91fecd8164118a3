/**
 * Counting what attempts changed: per attempt, files, insertions and
 * deletions of a tree against the race's base; while the race runs, steps and
 * counts from each running attempt's chain tip (polled).
 */
import { existsSync } from 'node:fs';
import { openRepo, type Repo } from '../git/repo.js';
import { diffTreesText } from '../snapshot/diff.js';
import { readTip } from '../snapshot/tip.js';
import { agentStatus, agentStatusText, readAgentState } from '../agents/state.js';
import type { RacePlan } from './plan.js';
import type { Attempt, RaceRecord } from './types.js';

/** Sets `a.files`, `a.insertions`, `a.deletions` from `tree` against the race's base. */
export async function countChanges(repo: Repo, race: RaceRecord, a: Attempt, tree: string): Promise<void> {
  const d = await diffTreesText(repo, race.base.tree, tree, { statOnly: true });
  a.files = d.files.length;
  a.insertions = d.files.reduce((s, f) => s + f.insertions, 0);
  a.deletions = d.files.reduce((s, f) => s + f.deletions, 0);
}

/** Steps, last tool, counts and the agent's state (from its hooks, agents/state.ts) of every running attempt, from its chain tip. */
export async function refreshLive(repo: Repo, race: RaceRecord, plan: RacePlan): Promise<void> {
  for (const [i, a] of race.attempts.entries()) {
    if (a.state !== 'running' || !existsSync(plan.attempts[i]!.dir)) continue;
    const r = await openRepo(plan.attempts[i]!.dir);
    const st = readAgentState(r);
    // Only this run's state: one older than the attempt's start is a previous round's or a leftover.
    if (st && (a.startedAt === null || st.at >= a.startedAt)) {
      const status = agentStatus(st);
      a.agentState = { status, text: agentStatusText(st, status), waitingSince: st.waitingSince };
    } else a.agentState = null;
    const { tip } = await readTip(r);
    if (!tip) continue;
    const d = await diffTreesText(repo, race.base.tree, tip.tree, { statOnly: true });
    // Read before the attempt's final snapshot began, these would overwrite its final counts: not used.
    if (a.state !== 'running' || finishing.has(a)) continue;
    a.steps = tip.step - 1;
    if (tip.tool) a.lastLine = `${tip.tool}${tip.target ? ` ${tip.target}` : ''}`;
    a.files = d.files.length;
    a.insertions = d.files.reduce((s, f) => s + f.insertions, 0);
    a.deletions = d.files.reduce((s, f) => s + f.deletions, 0);
  }
}

/** Attempts whose final snapshot and counts are being taken: a live refresh leaves their steps and counts alone. */
const finishing = new WeakSet<Attempt>();

/**
 * Marks attempt `a` as taking its final snapshot (`on`), or done with it: a
 * live refresh ({@link refreshLive}) that read the chain's tip before then
 * never writes its older steps and counts over the final ones (seen under
 * load: an attempt with 2 files changed reported 0).
 */
export function finishingAttempt(a: Attempt, on: boolean): void {
  if (on) finishing.add(a);
  else finishing.delete(a);
}
