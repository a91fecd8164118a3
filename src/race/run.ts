/**
 * The race: several agents on one task, each in its own worktree with its own
 * checkpoints, env and ports; checked; recorded; ranked.
 *
 * `planRace` (plan.ts) validates everything and creates nothing; `runRace`
 * then takes the base, runs the attempts at once (up to `maxParallel`; each
 * attempt's course is attempt.ts), polls their progress (progress.ts), ranks
 * them (score.ts), warns when the user's own worktree changed
 * (checkout-changes.ts) and, with `clean`, removes the worktrees. The record
 * is saved at every change (store.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { claudeHookCommand, claudeHookSettings } from '../agents/claude.js';
import { openCodeHooks, openCodePluginSource } from '../agents/opencode.js';
import { writeSystemFile } from '../agents/gemini.js';
import { runAttempt } from './attempt.js';
import { snapshotBase } from './base.js';
import { adoptBorrowedReport, verifyChainsReport } from '../snapshot/chains.js';
import { mainCheckoutChanges } from './checkout-changes.js';
import { geminiHookSettingsText, type RaceOptions, type RacePlan } from './plan.js';
import { refreshLive } from './progress.js';
import { newRaceRecord } from './record.js';
import { judgeAttempts } from './review.js';
import { scoreAttempts } from './score.js';
import { claimRaceDir, raceDir, saveRace } from './store.js';
import type { RaceRecord } from './types.js';
import { removeAttemptWorktree } from './remove-worktree.js';

/** How often the running attempts' progress is read from their chains, ms. */
const LIVE_POLL_MS = 1500;

/**
 * Runs a planned race to the end (or until `signal` aborts it) and returns
 * the final record. Never throws for an attempt's failure: that is recorded
 * in the attempt.
 *
 * @throws CkptError only for failures before any attempt starts: `RACE_ID_TAKEN` (store.ts `claimRaceDir`), the base snapshot's, the record's.
 */
export async function runRace(plan: RacePlan, o: Pick<RaceOptions, 'signal' | 'onUpdate' | 'clean' | 'ckptBin'>): Promise<RaceRecord> {
  const { repo } = plan;
  claimRaceDir(repo, plan.id);
  // The base: the worktree as the user sees it now, uncommitted work included.
  const base = plan.base.resolved ?? (await snapshotBase(repo, plan.id));
  mkdirSync(path.join(raceDir(repo, plan.id), 'logs'), { recursive: true });
  mkdirSync(path.join(raceDir(repo, plan.id), 'checks'), { recursive: true });
  writeFileSync(plan.claudeSettings, JSON.stringify(claudeHookSettings(claudeHookCommand(path.resolve(o.ckptBin))), null, 2));
  const geminiFile = plan.geminiSettings;
  if (geminiFile && plan.attempts.some((a) => a.preset.hooks === 'gemini' && a.env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH === geminiFile)) {
    const text = geminiHookSettingsText(o.ckptBin, process.env);
    if (text !== null) writeSystemFile(geminiFile, text);
  }
  if (plan.attempts.some((a) => a.preset.hooks === 'opencode')) writeFileSync(plan.openCodePlugin, openCodePluginSource(openCodeHooks.command(path.resolve(o.ckptBin))));
  const race = newRaceRecord(plan, base);
  const changed = (): void => {
    saveRace(repo, race);
    o.onUpdate?.(race);
  };
  changed();

  // Live progress: steps and files so far, from each running attempt's chain.
  const live = setInterval(() => void refreshLive(repo, race, plan).then(() => o.onUpdate?.(race), () => undefined), LIVE_POLL_MS);
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plan.attempts.length) {
        const i = next++;
        if (o.signal?.aborted) {
          race.attempts[i]!.state = 'interrupted';
          changed();
          continue;
        }
        await runAttempt(plan, race, i, base, o.signal, changed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.maxParallel, plan.attempts.length) }, worker));
  } finally {
    clearInterval(live);
    // Gemini's settings outside the race's directory (ckpt's state dir) go with the race's end.
    if (geminiFile && !geminiFile.startsWith(raceDir(repo, plan.id) + path.sep)) rmSync(path.dirname(geminiFile), { recursive: true, force: true });
  }
  scoreAttempts(race);
  if (plan.judge && !o.signal?.aborted) {
    try {
      const j = await judgeAttempts({ repo, ckptBin: plan.ckptBin, ...(o.signal ? { signal: o.signal } : {}) }, race, plan.judge);
      if (j.kept) race.warnings.push(`kept the scratch worktree of the judge: ${j.kept}`);
    } catch (err) {
      race.warnings.push(`the judge ${plan.judge} could not rank the attempts: ${(err as Error).message}`);
    }
    changed();
  }
  if (!plan.base.resolved) race.warnings.push(...(await mainCheckoutChanges(repo, base.tree)));
  // An agent may have deleted or rewound chains (docs/reliability.md R43): put them back, say so.
  race.warnings.push(...(await verifyChainsReport(repo)), ...(await adoptBorrowedReport(repo)));
  if (o.clean) {
    const removals = [];
    for (const a of race.attempts) removals.push(await removeAttemptWorktree(repo, race, a, { adoptAsFinal: false, teardown: true }));
    for (const x of removals) if (!x.removed) race.warnings.push(`kept the worktree ${x.dir} of ${x.attempt}: ${x.reason}`);
    race.cleaned = removals.every((x) => x.removed);
  }
  race.state = o.signal?.aborted ? 'interrupted' : 'finished';
  race.endedAt = Date.now();
  changed();
  return race;
}
