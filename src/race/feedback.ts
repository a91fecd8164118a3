/**
 * What a later round gives the agent (race `--rounds`): the follow-up prompt
 * (the task and the tail of the failed check's output, bounded) and the argv
 * that carries it: the agent's own session resumed where its preset or config
 * has a `resume` template and its output named a session, else its command
 * run again with the follow-up as its task.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { PlannedAttempt, RacePlan } from './plan.js';
import { agentArgv } from './plan.js';
import type { CheckResult, RoundRecord } from './types.js';

/** The most of a failed check's output given back to the agent, bytes (its end). */
export const FEEDBACK_MAX_BYTES = 8 * 1024;

/**
 * The last `maxBytes` of a log file as text, starting at a line boundary when
 * it had to be cut (a partial UTF-8 sequence at the cut is dropped with that line).
 * An unreadable file gives ''.
 */
export function logTail(file: string, maxBytes = FEEDBACK_MAX_BYTES): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8');
    if (len === size) return text;
    const nl = text.indexOf('\n');
    return nl >= 0 && nl < text.length - 1 ? text.slice(nl + 1) : text;
  } finally {
    closeSync(fd);
  }
}

/**
 * The follow-up prompt of round `round`: it never begins with `-` (so no
 * client reads it as an option), names the round, the check and its exit,
 * and holds the task and the check's output tail (at most {@link FEEDBACK_MAX_BYTES}).
 */
export function followUpPrompt(o: { task: string; round: number; rounds: number; check: CheckResult; feedback: string }): string {
  const how = o.check.timedOut ? 'ran out of time' : `failed (exit ${o.check.exitCode ?? 'none'})`;
  return [
    `Round ${o.round} of ${o.rounds} of this task. After your last round, the check \`${o.check.command}\` ${how}.`,
    '',
    'The task:',
    o.task,
    '',
    `The end of the check's output:`,
    '<check-output>',
    o.feedback.trimEnd(),
    '</check-output>',
    '',
    'Your changes so far are in this worktree. Fix the cause so that the check passes.',
  ].join('\n');
}

/**
 * The follow-up prompt of a round that follows a review asking for changes
 * (`--rounds N --review-by AGENT`): the reviewer's notes and the task.
 */
export function reviewFollowUp(o: { task: string; round: number; rounds: number; by: string; notes: string }): string {
  return [
    `Round ${o.round} of ${o.rounds} of this task. A reviewer (${o.by}) asked for changes to your work:`,
    '<review>',
    o.notes.trimEnd(),
    '</review>',
    '',
    'The task:',
    o.task,
    '',
    'Your changes so far are in this worktree. Make the changes the review asks for.',
  ].join('\n');
}

/** How round `round` runs the agent: its argv, what goes on stdin, and whether it resumes a session. */
export interface RoundCommand {
  argv: string[];
  /** The text written to its stdin (agents taking the task on stdin), else undefined. */
  stdin: string | undefined;
  how: RoundRecord['how'];
  session: string | null;
}

/**
 * The command of round `round` (1 = the planned one). A later round resumes
 * `session` with the `resume` template where both exist; otherwise it runs
 * the command again. `{task}` is the follow-up prompt, except in a template
 * that takes `{feedback}` itself, where it stays the task; `{round}` is the
 * round, `{feedback}` the check's output tail (absent in round 1).
 */
export function roundCommand(plan: RacePlan, p: PlannedAttempt, o: { round: number; feedback: string | null; followUp: string | null; session: string | null }): RoundCommand {
  if (o.round === 1 || o.followUp === null) return { argv: p.argv, stdin: p.stdin ? plan.task : undefined, how: 'start', session: null };
  const resume = p.preset.resume && o.session ? p.preset.resume : null;
  const template = resume ?? p.preset.command;
  const takesFeedback = JSON.stringify(template).includes('{feedback}');
  const task = takesFeedback ? plan.task : o.followUp;
  const argv = agentArgv(template, p.preset, { task: p.stdin ? null : task, model: p.model, dir: p.dir, round: String(o.round), feedback: o.feedback, session: o.session }, plan.claudeSettings, plan.ckptBin);
  return { argv, stdin: p.stdin ? task : undefined, how: resume ? 'resume' : 'fresh', session: resume ? o.session : null };
}
