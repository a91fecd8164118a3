/** The race record as it starts: every attempt `pending`, nothing measured yet. */
import path from 'node:path';
import type { ResolvedBase } from './base.js';
import type { RacePlan } from './plan.js';
import { processStartTime } from '../core/process-alive.js';
import { raceDir } from './store.js';
import type { RaceRecord } from './types.js';

/** A new `running` record of `plan` from `base`, owned by this process (its pid). */
export function newRaceRecord(plan: RacePlan, base: ResolvedBase): RaceRecord {
  const { repo } = plan;
  return {
    version: 1,
    id: plan.id,
    task: plan.task,
    worktree: repo.worktree,
    base: { snapshot: base.snapshot, tree: base.tree, head: base.head, indexTree: base.indexTree, spec: plan.base.spec },
    check: plan.check,
    rounds: plan.rounds,
    teardown: plan.teardown,
    createdAt: Date.now(),
    endedAt: null,
    state: 'running',
    pid: process.pid,
    pidStart: processStartTime('self'),
    attempts: plan.attempts.map((p, i) => ({
      name: p.name,
      index: i + 1,
      agent: p.agent,
      model: p.model,
      command: p.argv,
      taskViaStdin: p.stdin,
      dir: p.dir,
      branch: p.branch,
      ref: '',
      port: p.port,
      // The agent's own env (its preset or config entry, keys maybe) stays in the config, not in the record.
      env: Object.fromEntries(Object.entries(p.env).filter(([k]) => !(k in p.preset.env) || k.startsWith('CKPT_') || k === 'PORT')),
      state: 'pending',
      exitCode: null,
      signal: null,
      startedAt: null,
      endedAt: null,
      durationMs: null,
      steps: 0,
      files: 0,
      insertions: 0,
      deletions: 0,
      final: null,
      tokens: null,
      costUsd: null,
      resultText: null,
      lastLine: null,
      log: path.join(raceDir(repo, plan.id), 'logs', `${p.name}.log`),
      outputBytes: 0,
      check: null,
      rounds: [],
      error: null,
      score: null,
    })),
    best: null,
    picked: null,
    cleaned: false,
    warnings: [...plan.deps.warnings],
    confinement: plan.confinement,
    sandbox: plan.sandbox,
    deps: { requested: plan.deps.requested, strategy: plan.deps.strategy, reason: plan.deps.reason, dirs: plan.deps.dirs, install: plan.deps.install?.argv ?? null },
  };
}
