/**
 * Review (`race review ATTEMPT --by AGENT`, `race … --review-by AGENT`) and judge
 * (`race … --judge AGENT`) with scripted reviewers (test/fixtures/agents/reviewer.mjs,
 * judge.mjs): real worktrees, real processes. The reviewer runs in a scratch worktree at the
 * attempt's final snapshot; what it writes there is recorded in a snapshot and never applied.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { parseRanking, parseVerdict } from '../src/race/review.js';
import { agentConfig, raceRepo } from './support/race.js';
import { CLI, git, picture, storeGit, write } from './support/repo.js';

const bin = CLI;
const RACE = path.join(path.dirname(CLI), 'race.js');

function cli(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RACE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 150_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Branches of the repository under the race's namespace. */
function raceBranches(dir: string, id: string): string[] {
  return git(dir, 'for-each-ref', '--format=%(refname:short)', `refs/heads/ckpt/race/${id}/`).split('\n').filter(Boolean);
}

describe('race review and judge', () => {
  it('parses verdicts and rankings as docs/race.md says', () => {
    expect(parseVerdict('ok\n```json\n{"verdict": "approve", "notes": "fine"}\n```\n')).toEqual({ verdict: 'approve', notes: 'fine' });
    expect(parseVerdict('{"verdict":"request_changes","notes":"n"}')).toEqual({ verdict: 'request-changes', notes: 'n' });
    expect(parseVerdict('\n**REQUEST CHANGES**: add a test\nand docs')).toEqual({ verdict: 'request-changes', notes: 'add a test\nand docs' });
    expect(parseVerdict('LGTM')).toEqual({ verdict: 'approve', notes: '' });
    expect(parseVerdict('I am not sure.')).toEqual({ verdict: null, notes: 'I am not sure.' });
    expect(parseVerdict('{"verdict":"maybe"}').verdict).toBeNull();
    expect(parseRanking('```json\n{"ranking":[{"attempt":"b","reason":"r"},"a",{"attempt":"x"},"b"],"notes":"n"}\n```', ['a', 'b'])).toEqual({
      ranking: [
        { attempt: 'b', reason: 'r' },
        { attempt: 'a', reason: '' },
      ],
      notes: 'n',
    });
    expect(parseRanking('no json', ['a']).ranking).toEqual([]);
  });

  it('--review-by: "request changes" becomes one more round, then approve; the reviewer\'s edits are recorded, never applied; --judge ranks beside the score', async () => {
    const { dir } = raceRepo();
    const before = picture(dir);
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'rounds,fast', rounds: 2, reviewBy: 'reviewer', judge: 'judge', ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    expect(race.state).toBe('finished');
    const by = Object.fromEntries(race.attempts.map((a) => [a.name, a]));
    const reviews = race.reviews!;
    // rounds: reviewed twice (request changes, then approve), with a second round between.
    const ofRounds = reviews.filter((r) => r.attempt === 'rounds');
    expect(ofRounds.map((r) => [r.round, r.verdict, r.state])).toEqual([
      [1, 'request-changes', 'done'],
      [2, 'approve', 'done'],
    ]);
    expect(by.rounds!.rounds!.map((r) => r.how)).toEqual(['start', 'fresh']);
    const calls = fs.readFileSync(path.join(by.rounds!.dir, 'rounds-received.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls[1].prompt).toMatch(/^Round 2 of 2 of this task\. A reviewer \(reviewer\) asked for changes/);
    expect(calls[1].prompt).toContain('f() is 3 but the task says it must return 2.');
    expect(calls[1].prompt).toContain('make f() return 2');
    expect(fs.readFileSync(path.join(by.rounds!.dir, 'src/app.js'), 'utf8')).toContain('return 2;');
    // fast: approved at once, no second round.
    expect(reviews.filter((r) => r.attempt === 'fast').map((r) => r.verdict)).toEqual(['approve']);
    expect(by.fast!.rounds!.length).toBe(1);
    // What the first reviewer saw (from its own snapshot): the task, the attempt's diff, no check.
    const first = ofRounds[0]!;
    expect(first.snapshot).toMatch(/^[0-9a-f]{40}$/);
    const seen = storeGit(dir, 'show', `${first.snapshot}:review-received.txt`);
    expect(seen).toContain('make f() return 2');
    expect(seen).toMatch(/^\+\s*return 3;/m);
    expect(seen).toContain('It had no check.');
    expect(first.changed.sort()).toEqual(['REVIEWER_WAS_HERE.md', 'review-received.txt']);
    // ... and none of it reached the attempt or the user; the scratch worktrees and their branches are gone.
    for (const r of reviews) expect(r.kept).toBeNull();
    for (const a of race.attempts) {
      expect(fs.existsSync(path.join(a.dir, 'REVIEWER_WAS_HERE.md'))).toBe(false);
      expect(fs.existsSync(path.join(a.dir, 'review-received.txt'))).toBe(false);
    }
    expect(fs.readdirSync(path.dirname(by.rounds!.dir)).sort()).toEqual(['fast', 'rounds']);
    expect(raceBranches(dir, race.id).sort()).toEqual([by.fast!.branch, by.rounds!.branch].sort());
    expect(picture(dir)).toEqual(before);
    // The judge: both attempts ranked (an unknown name dropped), stored beside ckpt's own score.
    expect(race.judge).toMatchObject({ by: 'judge', state: 'done', notes: '2 attempts judged', kept: null });
    expect(race.judge!.ranking.map((e) => e.attempt).sort()).toEqual(['fast', 'rounds']);
    expect(race.judge!.ranking.every((e) => e.reason === 'makes f() return 2')).toBe(true);
    expect(race.best).toBe('fast'); // ckpt's score, not the judge's
    expect(race.attempts.every((a) => typeof a.score === 'number')).toBe(true);

    // race show, human and JSON.
    const show = cli(dir, ['show']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('review of rounds (round 1) by reviewer: request-changes — f() is 3 but the task says it must return 2.');
    expect(show.stdout).toContain('review of rounds (round 2) by reviewer: approve');
    expect(show.stdout).toMatch(/ranking by ckpt's score: fast \(\d+\), rounds \(\d+\)/);
    expect(show.stdout).toMatch(/ranking by the judge judge: (fast, rounds|rounds, fast)/);
    const shown = JSON.parse(cli(dir, ['show', '--json']).stdout);
    expect(shown.reviews.length).toBe(3);
    expect(shown.judge.ranking.length).toBe(2);
  }, 240_000);

  it('race review ATTEMPT --by AGENT: the prompt holds the check result; a first-line verdict is read; the record keeps it', () => {
    const { dir, worktrees } = raceRepo();
    const base = agentConfig();
    write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { ...(base.agents as object), liner: { ...((base.agents as Record<string, object>).reviewer), env: { REVIEW_FORMAT: 'line' } } }, race: { worktreeDir: worktrees } }) });
    const r = cli(dir, ['make f() return 2', '--models', 'fail', '--check', `${process.execPath} check.mjs`]);
    expect(r.code, r.stderr).toBe(0);
    const before = picture(dir);
    const rv = cli(dir, ['review', 'fail', '--by', 'liner', '--json']);
    expect(rv.code, rv.stderr).toBe(0);
    const review = JSON.parse(rv.stdout);
    expect(review).toMatchObject({ attempt: 'fail', by: 'liner', verdict: 'request-changes', notes: 'f() is 3 but the task says it must return 2.\nmore notes on a second line', kept: null });
    const seen = storeGit(dir, 'show', `${review.snapshot}:review-received.txt`);
    expect(seen).toContain(`Its check \`${process.execPath} check.mjs\` failed (exit 1).`);
    expect(seen).toContain('f() is 3');
    const shown = JSON.parse(cli(dir, ['show', '--json']).stdout);
    expect(shown.reviews.map((x: { verdict: string }) => x.verdict)).toEqual(['request-changes']);
    expect(picture(dir)).toEqual(before);
    // Bad input changes nothing.
    expect(cli(dir, ['review', 'nobody', '--by', 'liner']).code).toBe(2);
    expect(cli(dir, ['review', 'fail', '--by', 'liner,reviewer']).code).toBe(2);
    expect(JSON.parse(cli(dir, ['show', '--json']).stdout).reviews.length).toBe(1);
  }, 240_000);
});
