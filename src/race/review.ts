/**
 * One model reviewing another's attempt (`race review ATTEMPT --by AGENT`,
 * `race … --review-by AGENT`), and one judging them all (`race … --judge
 * AGENT`). The reviewer or judge runs like an attempt's agent (confined, its
 * output logged, tokens and cost read) but in a scratch worktree: at the
 * attempt's final snapshot for a review, at the race's base for a judge. What
 * it changes there is recorded in a snapshot of that scratch worktree and then
 * the worktree is removed (remove-worktree.ts: only once its live state is in
 * that snapshot); nothing of it is ever applied. The contract of its answer
 * is in docs/race.md ("Review").
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { claudeHookCommand, claudeHookSettings } from '../agents/claude.js';
import { openCodeHooks, openCodePluginSource } from '../agents/opencode.js';
import { detectConfinement } from '../agents/confine.js';
import { runProcess, type ProcessResult } from '../agents/process.js';
import { parseOutput, type ParsedOutput } from '../agents/presets.js';
import { parseDuration } from '../core/duration.js';
import { CkptError } from '../core/errors.js';
import { counted } from '../core/plural.js';
import { openRepo, type Repo } from '../git/repo.js';
import { TRAILER } from '../snapshot/format.js';
import { takeSnapshot } from '../snapshot/take.js';
import { diffTrees } from '../git/tree-diff.js';
import { attemptDiffs, attemptSnapshot, findAttempt } from './compare.js';
import { loadConfig, parseModels, resolveAgent } from './config.js';
import { agentArgv, agentHookEnv } from './plan.js';
import { fenced, refusalWarning, requireSandbox, worktreeFence } from './fence.js';
import { HOOK_SOCKET_ENV, startHookRelay } from './hook-relay.js';
import { removeAttemptWorktree } from './remove-worktree.js';
import { attemptSweep } from './sweep-target.js';
import { raceDir } from './store.js';
import type { Attempt, JudgeRecord, RaceRecord, ReviewRecord, ScratchRun, Verdict } from './types.js';
import { createAttemptWorktree } from './worktree.js';

/** The most of an attempt's diff put in a reviewer's or judge's prompt, bytes (per attempt). */
export const REVIEW_DIFF_MAX_BYTES = 64 * 1024;

/** What running a reviewer needs to know about its surroundings. */
export interface ReviewContext {
  repo: Repo;
  /** Path of ckpt's bin script, for the hooks passed to Claude Code. */
  ckptBin: string;
  signal?: AbortSignal;
  /** Wall-clock limit of the reviewer, ms (default 20 min). */
  timeoutMs?: number;
}

/**
 * Reviews attempt `name` of `race` with `by` (`AGENT` or `AGENT@MODEL`): the
 * prompt holds the task, the attempt's diff against the base (at most
 * {@link REVIEW_DIFF_MAX_BYTES}) and its check result. Appends the review to
 * `race.reviews` (the caller saves the record) and returns it. A reviewer that
 * fails is recorded with its error and no verdict.
 *
 * @throws CkptError `ATTEMPT_NOT_FOUND`, `INVALID_ARGUMENT` (bad `by`, unknown
 *   agent, an attempt without a snapshot), `AGENT_NOT_INSTALLED`, `CONFIG_INVALID`.
 */
export async function reviewAttempt(ctx: ReviewContext, race: RaceRecord, name: string, by: string): Promise<ReviewRecord> {
  const a = findAttempt(race, name);
  const snap = await attemptSnapshot(ctx.repo, a);
  if (!snap) throw new CkptError('INVALID_ARGUMENT', `attempt ${name} has no snapshot to review`, { hint: 'Only an attempt that started can be reviewed.' });
  const [diff] = await attemptDiffs(ctx.repo, race, [a.name]);
  const prompt = reviewPrompt(race, a, diff!.patch, diff!.files.length);
  const n = (race.reviews ?? []).filter((r) => r.attempt === a.name).length + 1;
  const run = await runScratch(ctx, race, { by, tree: snap.tree, prompt, label: `review-${a.name}-${n}` });
  const answer = parseVerdict(run.text);
  const review: ReviewRecord = { ...run.record, attempt: a.name, round: a.rounds?.length ?? 1, verdict: run.record.state === 'done' ? answer.verdict : null, notes: answer.notes };
  (race.reviews ??= []).push(review);
  return review;
}

/**
 * Has `by` rank every finished attempt (state `done`) of `race` from their
 * diffs and check results; sets `race.judge` (the caller saves the record)
 * and returns it. Its ranking is shown beside ckpt's own score, never in its
 * place.
 *
 * @throws CkptError `INVALID_ARGUMENT` (bad `by`, no finished attempt), `AGENT_NOT_INSTALLED`, `CONFIG_INVALID`.
 */
export async function judgeAttempts(ctx: ReviewContext, race: RaceRecord, by: string): Promise<JudgeRecord> {
  const finished = race.attempts.filter((a) => a.state === 'done' && a.final);
  if (finished.length === 0) throw new CkptError('INVALID_ARGUMENT', 'no attempt finished: there is nothing to judge');
  const diffs = await attemptDiffs(ctx.repo, race, finished.map((a) => a.name));
  const parts = finished.map((a, i) => attemptSection(a, diffs[i]!.patch, diffs[i]!.files.length));
  const prompt = [
    'You are judging several attempts by other agents at the same task. Do not change any file: your changes are discarded.',
    '',
    'The task:',
    race.task,
    '',
    ...parts,
    'Rank the attempts, best first, with a reason for each. Answer with a JSON block:',
    '```json',
    `{"ranking": [{"attempt": "${finished[0]!.name}", "reason": "why"}], "notes": "anything else"}`,
    '```',
    `Attempt names: ${finished.map((a) => a.name).join(', ')}.`,
  ].join('\n');
  const run = await runScratch(ctx, race, { by, tree: race.base.tree, prompt, label: 'judge' });
  const parsed = parseRanking(run.text, finished.map((a) => a.name));
  race.judge = { ...run.record, ranking: run.record.state === 'done' ? parsed.ranking : [], notes: parsed.notes };
  return race.judge;
}

/** The reviewer's prompt: the task, the attempt's diff and check, and the answer's contract. */
function reviewPrompt(race: RaceRecord, a: Attempt, patch: string, files: number): string {
  return [
    "You are reviewing another agent's attempt at a task. Do not change any file: your changes are discarded.",
    '',
    'The task:',
    race.task,
    '',
    attemptSection(a, patch, files),
    'Answer with a JSON block:',
    '```json',
    '{"verdict": "approve" or "request-changes", "notes": "what is wrong or missing and what to change"}',
    '```',
    'or begin your answer with a line that is APPROVE or REQUEST CHANGES, followed by your notes.',
  ].join('\n');
}

/** One attempt as a reviewer or judge sees it: its diff (bounded) and its check. */
function attemptSection(a: Attempt, patch: string, files: number): string {
  const bytes = Buffer.byteLength(patch);
  const shown = bytes > REVIEW_DIFF_MAX_BYTES ? Buffer.from(patch).subarray(0, REVIEW_DIFF_MAX_BYTES).toString('utf8') : patch;
  const check = a.check
    ? `Its check \`${a.check.command}\` ${a.check.passed ? 'passed' : a.check.timedOut ? 'ran out of time' : `failed (exit ${a.check.exitCode})`}${a.rounds && a.rounds.length > 1 ? ` in round ${a.rounds.length}` : ''}. The end of its output:\n<check-output>\n${a.check.tail.trimEnd()}\n</check-output>`
    : 'It had no check.';
  return [
    `=== attempt ${a.name} (${a.agent}${a.model ? `@${a.model}` : ''}): ${counted(files, 'file')} changed against the base`,
    '<diff>',
    shown.trimEnd(),
    ...(bytes > REVIEW_DIFF_MAX_BYTES ? [`[ckpt: the diff is ${bytes} bytes; only its first ${REVIEW_DIFF_MAX_BYTES} are shown]`] : []),
    '</diff>',
    check,
    '',
  ].join('\n');
}

/** The result of {@link runScratch}. */
interface ScratchResult {
  record: ScratchRun;
  /** Its answer: the closing message its output parser found, else the end of its output. */
  text: string;
}

/**
 * Runs agent `o.by` with `o.prompt` as its task in a scratch worktree holding
 * `o.tree`, records the worktree's end state in a snapshot, then removes it.
 */
async function runScratch(ctx: ReviewContext, race: RaceRecord, o: { by: string; tree: string; prompt: string; label: string }): Promise<ScratchResult> {
  requireSandbox(race.sandbox);
  const specs = parseModels(o.by);
  if (specs.length !== 1) throw new CkptError('INVALID_ARGUMENT', `give one reviewer, not ${JSON.stringify(o.by)}`, { hint: 'e.g. --by codex or --by claude@opus' });
  const spec = specs[0]!;
  const { repo } = ctx;
  const config = loadConfig(repo.worktree);
  const preset = resolveAgent(spec.agent, config);
  // The clock and random digits: two reviews of one attempt in the same ms get two names (createAttemptWorktree claims the directory).
  const name = `${o.label}-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const dir = path.join(path.dirname(race.attempts[0]!.dir), name);
  const branch = `ckpt/race/${race.id}/${name}`;
  const claudeSettings = path.join(raceDir(repo, race.id), 'claude-settings.json');
  if (preset.hooks === 'claude' && !existsSync(claudeSettings)) writeFileSync(claudeSettings, JSON.stringify(claudeHookSettings(claudeHookCommand(path.resolve(ctx.ckptBin))), null, 2));
  const openCodePlugin = path.join(raceDir(repo, race.id), 'opencode-plugin.js');
  if (preset.hooks === 'opencode' && !existsSync(openCodePlugin)) writeFileSync(openCodePlugin, openCodePluginSource(openCodeHooks.command(path.resolve(ctx.ckptBin))));
  const argv = agentArgv(preset.command, preset, { task: preset.stdin ? null : o.prompt, model: spec.model, dir, round: '1', feedback: null, session: null }, claudeSettings, ctx.ckptBin);
  const logs = path.join(raceDir(repo, race.id), 'logs');
  mkdirSync(logs, { recursive: true });
  const log = path.join(logs, `${o.label}.log`);
  const startedAt = Date.now();
  await createAttemptWorktree(repo, { tree: o.tree, head: race.base.head, indexTree: null }, dir, branch);
  const scratch = await openRepo(dir);
  const marker = { CKPT_RACE_ID: race.id, CKPT_ATTEMPT: o.label };
  const extra = { [TRAILER.race]: race.id, [TRAILER.attempt]: o.label };
  const first = await takeSnapshot(scratch, { kind: 'base', force: true, agent: spec.agent, message: `${o.label} of race ${race.id}`, extra });
  const env: Record<string, string | undefined> = { ...process.env, ...preset.env, ...agentHookEnv(preset, openCodePlugin, { ...process.env, ...preset.env }), ...marker, GIT_DIR: undefined, GIT_WORK_TREE: undefined, GIT_INDEX_FILE: undefined };
  // A fenced race's reviewers and judge are fenced as its agents are.
  // Its hooks record through a relay (the store is read-only in the sandbox): race/hook-relay.ts.
  const relay = race.sandbox && preset.hooks ? await startHookRelay(scratch, { agent: preset.hooks, env: () => marker }) : null;
  const fence = race.sandbox ? await worktreeFence(repo, race.id, dir, preset.env, env, relay ? [relay.dir] : [], ctx.ckptBin) : null;
  const run = fenced(
    {
      argv,
      cwd: dir,
      env: relay ? { ...env, [HOOK_SOCKET_ENV]: relay.socket } : env,
      ...(preset.stdin ? { stdin: o.prompt } : {}),
      logFile: log,
      timeoutMs: ctx.timeoutMs ?? (preset.timeout ? parseDuration(preset.timeout) : parseDuration('20m')),
      confine: { mechanism: detectConfinement(), sweep: attemptSweep(repo.commonDir, dir, marker, startedAt) },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    },
    fence,
    race.sandbox?.network ?? true,
  );
  let res: ProcessResult;
  try {
    res = await runProcess(run.options).done;
  } finally {
    await relay?.close();
  }
  if (run.refused() > 0) race.warnings.push(refusalWarning(o.label, run.refused(), log));
  const parsed: ParsedOutput = parseOutput(preset.output, res.stdoutTail);
  const state: ScratchRun['state'] = res.stoppedBy === 'abort' ? 'interrupted' : res.stoppedBy ? 'timeout' : res.spawnError || res.exitCode !== 0 || parsed.isError ? 'failed' : 'done';
  const error = state === 'done' ? null : (res.spawnError ?? parsed.resultText ?? (res.outputTail.trim().split('\n').at(-1) || `exited with ${res.exitCode ?? res.signal}`));
  // Its changes: recorded, then the scratch worktree goes (only once its live state is in that snapshot).
  const pseudo: Attempt = { ...race.attempts[0]!, name: o.label, agent: spec.agent, dir, branch, ref: scratch.ref, final: null, startedAt };
  const removal = await removeAttemptWorktree(repo, race, pseudo, { adoptAsFinal: false });
  const changed = removal.tree ? (await diffTrees(repo, first.snapshot.tree, removal.tree)).map((e) => e.path) : [];
  const text = parsed.resultText ?? res.stdoutTail.slice(-16 * 1024);
  return {
    text,
    record: {
      by: spec.agent,
      model: spec.model,
      state,
      error,
      startedAt,
      durationMs: res.durationMs,
      exitCode: res.exitCode,
      tokens: parsed.tokens,
      costUsd: parsed.costUsd,
      log,
      snapshot: removal.snapshot,
      changed,
      kept: removal.removed ? null : `${dir}: ${removal.reason}`,
    },
  };
}

/** The JSON object of an answer: the last ```json block, else the last `{…}` that parses and has `key`. */
function answerObject(text: string, key: string): Record<string, unknown> | null {
  const blocks = [...text.matchAll(/```(?:json)?\s*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  for (const b of blocks.reverse()) {
    try {
      const o = JSON.parse(b) as unknown;
      if (o && typeof o === 'object' && key in o) return o as Record<string, unknown>;
    } catch {
      // not JSON
    }
  }
  for (let start = text.lastIndexOf('{'); start >= 0; start = text.lastIndexOf('{', start - 1)) {
    const end = text.lastIndexOf('}');
    try {
      const o = JSON.parse(text.slice(start, end + 1)) as unknown;
      if (o && typeof o === 'object' && key in o) return o as Record<string, unknown>;
    } catch {
      // keep looking
    }
    if (start === 0) break;
  }
  return null;
}

/**
 * Reads a reviewer's answer (docs/race.md, "Review"): a JSON object with
 * `verdict` (`approve`, or `request-changes` / `request_changes` /
 * `changes`) and `notes`, in a fenced block or bare; else a first non-empty
 * line beginning APPROVE (or LGTM) or REQUEST CHANGES, the rest being the
 * notes. Anything else: no verdict, the text as notes. Notes are cut at 4000 characters.
 */
export function parseVerdict(text: string): { verdict: Verdict | null; notes: string } {
  const norm = (v: unknown): Verdict | null => {
    const s = String(v ?? '').toLowerCase().replace(/[\s_]+/g, '-');
    if (/^(approve|approved|lgtm|accept)$/.test(s)) return 'approve';
    if (/^(request-changes|changes-requested|changes|reject|rejected)$/.test(s)) return 'request-changes';
    return null;
  };
  const o = answerObject(text, 'verdict');
  if (o) return { verdict: norm(o.verdict), notes: String(o.notes ?? '').slice(0, 4000) };
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trim() !== '');
  if (i >= 0) {
    const m = /^\s*\**\s*(approve[d]?|lgtm|request[ _-]changes|changes requested)\b[\s:.*—-]*(.*)$/i.exec(lines[i]!);
    if (m) return { verdict: norm(m[1]), notes: [m[2], ...lines.slice(i + 1)].join('\n').trim().slice(0, 4000) };
  }
  return { verdict: null, notes: text.trim().slice(0, 4000) };
}

/** Reads a judge's ranking: `ranking` entries naming attempts it was shown (others dropped, repeats kept once). */
export function parseRanking(text: string, names: string[]): { ranking: { attempt: string; reason: string }[]; notes: string } {
  const o = answerObject(text, 'ranking');
  if (!o || !Array.isArray(o.ranking)) return { ranking: [], notes: text.trim().slice(0, 4000) };
  const seen = new Set<string>();
  const ranking: { attempt: string; reason: string }[] = [];
  for (const e of o.ranking as unknown[]) {
    const name = typeof e === 'string' ? e : e && typeof e === 'object' ? String((e as Record<string, unknown>).attempt ?? '') : '';
    if (!names.includes(name) || seen.has(name)) continue;
    seen.add(name);
    ranking.push({ attempt: name, reason: e && typeof e === 'object' ? String((e as Record<string, unknown>).reason ?? '').slice(0, 2000) : '' });
  }
  return { ranking, notes: String(o.notes ?? '').slice(0, 4000) };
}
