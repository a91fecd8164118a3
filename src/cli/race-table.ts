/** Rendering a race for the terminal: the summary table and live status lines. */
import pc from 'picocolors';
import { quote } from '../core/quote.js';
import { rankAttempts } from '../race/score.js';
import type { Attempt, RaceRecord } from '../race/types.js';
import { duration, renderTable } from './output.js';
import { noun } from '../core/plural.js';

const plain = pc.createColors(false) as typeof pc;

/** Colour for an attempt state. */
function stateText(a: Attempt, c: typeof pc): string {
  switch (a.state) {
    case 'done':
      return c.green('done');
    case 'failed':
      return c.red('failed');
    case 'timeout':
      return c.red('timeout');
    case 'interrupted':
      return c.yellow('interrupted');
    case 'running':
    case 'checking':
    case 'setup':
      return c.cyan(a.state);
    default:
      return c.dim(a.state);
  }
}

/** Tokens and cost as `12.3k tok $0.042`. */
export function tokensText(a: Attempt): string {
  const parts: string[] = [];
  if (a.tokens) {
    const t = a.tokens.input + a.tokens.output + (a.tokens.cached ?? 0);
    parts.push(t >= 1000 ? `${(t / 1000).toFixed(1)}k tok` : `${t} tok`);
  }
  if (a.costUsd !== null) parts.push(`$${a.costUsd.toFixed(a.costUsd < 0.1 ? 4 : 2)}`);
  return parts.join(' ') || '—';
}

/**
 * An attempt's rounds and the check of each, oldest first: `2: fail pass`
 * (`—`: no check ran in that round).
 */
export function roundsText(a: Attempt, c: typeof pc = plain): string {
  const rounds = a.rounds ?? [];
  if (rounds.length === 0) return '—';
  const each = rounds.map((r) => (r.check ? (r.check.passed ? c.green('pass') : c.red(r.check.timedOut ? 'timeout' : 'fail')) : c.dim('—')));
  return `${rounds.length}: ${each.join(' ')}`;
}

/** The summary table: one row per attempt, the best marked with ★; a `rounds` column when the race allowed more than one. */
export function renderSummary(race: RaceRecord, color: boolean, now = Date.now()): string {
  const c = color ? pc : plain;
  const withRounds = (race.rounds ?? 1) > 1;
  const rows = race.attempts.map((a) => {
    const time = a.durationMs ?? (a.startedAt ? now - a.startedAt : null);
    const check = a.check ? (a.check.passed ? c.green(`pass ${duration(a.check.durationMs)}`) : c.red(a.check.timedOut ? 'timeout' : `fail (${a.check.exitCode})`)) : race.check ? c.dim('—') : '';
    return [
      race.best === a.name ? c.yellow('★') : race.picked?.attempt === a.name ? c.green('✓') : '',
      c.bold(quote(a.name)),
      quote(a.agent + (a.model ? `@${a.model}` : '')),
      stateText(a, c),
      a.exitCode === null ? quote(a.signal ?? '—') : String(a.exitCode),
      time === null ? '—' : duration(time),
      String(a.steps),
      String(a.files),
      `${c.green(`+${a.insertions}`)} ${c.red(`−${a.deletions}`)}`,
      check,
      ...(withRounds ? [roundsText(a, c)] : []),
      tokensText(a),
    ];
  });
  const head = ['', 'attempt', 'agent/model', 'state', 'exit', 'time', 'steps', 'files', '+/−', 'check', ...(withRounds ? ['rounds'] : []), 'tokens/cost'];
  const colAligns: ('left' | 'right')[] = ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left', ...(withRounds ? (['left'] as const) : []), 'right'];
  return renderTable({ head, rows, colAligns: [...colAligns], compact: true, styled: true }, color);
}

/** One status line per attempt, for the live view. */
export function renderLive(race: RaceRecord, color: boolean, width: number, now = Date.now()): string {
  const c = color ? pc : plain;
  const nameW = Math.max(...race.attempts.map((a) => quote(a.name).length));
  return race.attempts
    .map((a) => {
      const t = a.startedAt ? duration((a.endedAt ?? now) - a.startedAt) : '';
      const head = `${quote(a.name).padEnd(nameW)}  ${stateText(a, c).padEnd(color ? 20 : 11)} ${t.padStart(7)}  ${String(a.steps).padStart(3)} ${noun(a.steps, 'step').padEnd(5)}  ${String(a.files).padStart(3)} ${noun(a.files, 'file').padEnd(5)}  `;
      const visible = head.replace(/\x1b\[[0-9;]*m/g, '').length;
      // The agent's state from its hooks while it runs (waiting for input stands out), then its last output line:
      // control bytes escaped, so neither can move the cursor or clear lines.
      const live = a.state === 'running' && a.agentState && !a.error ? quote(a.agentState.text, 'text') : '';
      const rest = quote((a.error ?? a.lastLine ?? '').replace(/\s+/g, ' '), 'text');
      let room = Math.max(0, width - visible - 1);
      const cut = (s: string): string => (s.length > room ? s.slice(0, Math.max(0, room - 1)) + '…' : s);
      let shown = '';
      if (live) {
        const l = cut(live);
        room = Math.max(0, room - l.length - 3);
        shown = a.agentState!.status === 'waiting' ? c.yellow(c.bold(l)) : a.agentState!.status === 'stale' ? c.red(l) : c.cyan(l);
        if (rest && room > 0) shown += c.dim(` · ${cut(rest)}`);
        return head + shown;
      }
      return head + c.dim(cut(rest));
    })
    .join('\n');
}

/**
 * The reviews and the judge's ranking of a race, one line each, beside
 * ckpt's own ranking (names quoted by `out.q`, free text by `out.t`).
 */
export function reviewLines(race: RaceRecord, out: { q(s: string): string; t(s: string): string }): string[] {
  const lines: string[] = [];
  for (const r of race.reviews ?? []) {
    const who = r.by + (r.model ? `@${r.model}` : '');
    const what = r.verdict ?? (r.error ? `no verdict (${r.error.slice(0, 120)})` : 'no verdict');
    lines.push(`review of ${out.q(r.attempt)} (round ${r.round}) by ${out.q(who)}: ${what}${r.notes ? ` — ${out.t(r.notes.replace(/\s+/g, ' ').slice(0, 200))}` : ''}`);
  }
  const j = race.judge;
  if (j) {
    const ours = rankAttempts(race).filter((a) => a.score !== null).map((a) => `${out.q(a.name)} (${a.score})`);
    lines.push(`ranking by ckpt's score: ${ours.join(', ') || '—'}`);
    const who = j.by + (j.model ? `@${j.model}` : '');
    lines.push(`ranking by the judge ${out.q(who)}: ${j.ranking.length ? j.ranking.map((e) => out.q(e.attempt)).join(', ') : `none${j.error ? ` (${out.t(j.error.slice(0, 120))})` : ''}`}`);
    for (const [i, e] of j.ranking.entries()) lines.push(`  ${i + 1}. ${out.q(e.attempt)}: ${out.t(e.reason.replace(/\s+/g, ' ').slice(0, 200))}`);
  }
  return lines;
}
