/**
 * Rounds (`race … --check CMD --rounds N`): a failed check goes back to the
 * agent with the task and the tail of the check's output, in the same
 * worktree, until it passes or N rounds ran. Scripted agents
 * (test/fixtures/agents/rounds.mjs passes only after seeing its failure),
 * real worktrees, real processes.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSteps, openRepo } from '../src/index.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { FEEDBACK_MAX_BYTES } from '../src/race/feedback.js';
import { AGENTS_DIR, agentConfig, raceRepo } from './support/race.js';
import { CLI, picture, write } from './support/repo.js';

const bin = CLI;
const RACE = path.join(path.dirname(CLI), 'race.js');

function cli(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RACE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 150_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const ROUNDS = path.join(AGENTS_DIR, 'rounds.mjs');

/** The calls rounds.mjs received in a worktree, oldest first. */
function received(dir: string): { args: string[]; prompt: string; feedback: string | null; resume: string | null; round: string | null }[] {
  return fs.readFileSync(path.join(dir, 'rounds-received.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('race --rounds', () => {
  it('an agent that fails its check gets the check output and passes in round 2; fewer rounds rank higher; every step carries its round', async () => {
    const { dir } = raceRepo();
    const before = picture(dir);
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'rounds,fast', check: `${process.execPath} check.mjs`, rounds: 3, ckptBin: bin });
    const race = await runRace(plan, { ckptBin: bin });
    expect(race.state).toBe('finished');
    expect(race.rounds).toBe(3);
    const by = Object.fromEntries(race.attempts.map((a) => [a.name, a]));
    const r = by.rounds!;
    expect(r).toMatchObject({ state: 'done', check: { passed: true } });
    // Round 1 failed its check, round 2 passed; no third round.
    expect(r.rounds!.map((x) => [x.round, x.how, x.state, x.check?.passed])).toEqual([
      [1, 'start', 'done', false],
      [2, 'fresh', 'done', true],
    ]);
    expect(r.rounds![0]!.feedbackBytes).toBe(0);
    expect(r.rounds![1]!.feedbackBytes).toBeGreaterThan(0);
    // What the agent received: the task, then a follow-up holding the task and the failing output.
    const calls = received(r.dir);
    expect(calls.length).toBe(2);
    expect(calls[0]!.prompt).toBe('make f() return 2');
    expect(calls[1]!.prompt).toContain('make f() return 2');
    expect(calls[1]!.prompt).toContain('f() is 3');
    expect(calls[1]!.prompt).toMatch(/^Round 2 of 3 /);
    expect(calls[1]!.prompt).toContain(`\`${process.execPath} check.mjs\` failed (exit 1)`);
    // Same worktree: round 2 worked on round 1's result.
    expect(fs.readFileSync(path.join(r.dir, 'ROUNDS.md'), 'utf8')).toBe('first try\nfixed after seeing the failure\n');
    expect(fs.readFileSync(path.join(r.dir, 'src/app.js'), 'utf8')).toContain('return 2;');
    // The check log of each round is kept.
    const checks = path.join(path.dirname(path.dirname(r.log)), 'checks');
    expect(fs.readFileSync(path.join(checks, 'rounds.log'), 'utf8')).toContain('f() is 3');
    expect(fs.readFileSync(path.join(checks, 'rounds.round2.log'), 'utf8')).toContain('ok');
    // Steps: every snapshot after the base carries the race, the attempt and its round; both rounds have steps.
    const steps = await listSteps(await openRepo(r.dir));
    expect(steps.every((s) => s.extra.Race === race.id && s.extra.Attempt === 'rounds')).toBe(true);
    const byRound = new Map<string, number>();
    for (const s of steps) byRound.set(s.extra.Round!, (byRound.get(s.extra.Round!) ?? 0) + 1);
    expect([...byRound.keys()].sort()).toEqual(['1', '2']);
    expect(steps.find((s) => s.id === r.rounds![0]!.final)!.extra.Round).toBe('1');
    expect(steps[0]!.id).toBe(r.final);
    expect(steps[0]!.extra.Round).toBe('2');
    expect(r.steps).toBe(steps.length - 1);
    // fast passed in one round: it ranks above the attempt that needed two.
    expect(by.fast!.rounds!.length).toBe(1);
    expect(by.fast!.score!).toBeGreaterThan(r.score!);
    expect(r.score!).toBeGreaterThan(110);
    expect(race.best).toBe('fast');
    // The user's checkout is untouched.
    expect(picture(dir)).toEqual(before);
  }, 180_000);

  it('resumes the session an agent reported, gives {feedback} and {round} to templates that ask, bounds the feedback, stops after N rounds', async () => {
    const { dir } = raceRepo();
    const base = agentConfig();
    const node = process.execPath;
    const agents = {
      ...(base.agents as Record<string, unknown>),
      resumer: { command: [node, ROUNDS, '{task}'], resume: [node, ROUNDS, '--resume', '{session}', '{task}'], output: 'claude-json', env: { ROUNDS_SESSION: '1' } },
      templ: { command: [node, ROUNDS, '--round={round}', ['--feedback', '{feedback}'], '{task}'] },
      stubborn: { command: [node, ROUNDS, '{task}'], env: { ROUNDS_NEVER_FIX: '1' } },
    };
    const worktrees = JSON.parse(fs.readFileSync(path.join(dir, '.ckpt/config.json'), 'utf8')).race.worktreeDir;
    // A check whose output is far longer than the feedback bound: the failing line is at its end.
    write(dir, {
      '.ckpt/config.json': JSON.stringify({ agents, race: { worktreeDir: worktrees, rounds: 3 } }),
      'bigcheck.mjs': "import { f } from './src/app.js';\nfor (let i = 0; i < 4000; i++) console.log('noise line ' + i);\nif (f() !== 2) { console.log('f() is ' + f()); process.exitCode = 1; } else console.log('ok');\n",
    });
    const plan = await planRace({ cwd: dir, task: 'make f() return 2', models: 'resumer,templ,stubborn', check: `${node} bigcheck.mjs`, ckptBin: bin });
    expect(plan.rounds).toBe(3); // from race.rounds
    const race = await runRace(plan, { ckptBin: bin });
    const by = Object.fromEntries(race.attempts.map((a) => [a.name, a]));

    // resumer: round 2 continued the session its output named.
    const res = by.resumer!;
    expect(res.rounds!.map((x) => [x.how, x.session, x.check?.passed])).toEqual([
      ['start', 'sess-resumer', false],
      ['resume', 'sess-resumer', true],
    ]);
    const rc = received(res.dir);
    expect(rc[0]!.resume).toBeNull();
    expect(rc[1]!.resume).toBe('sess-resumer');
    expect(rc[1]!.prompt).toContain('f() is 3');
    expect(res.rounds![1]!.command).toEqual([node, ROUNDS, '--resume', 'sess-resumer', rc[1]!.prompt]);
    // Tokens and cost: the sum of both rounds.
    expect(res.tokens).toEqual({ input: 200, output: 20 });
    expect(res.costUsd).toBeCloseTo(0.02, 10);
    // The feedback is the check output's end, bounded.
    expect(res.rounds![1]!.feedbackBytes).toBeLessThanOrEqual(FEEDBACK_MAX_BYTES);
    expect(res.rounds![1]!.feedbackBytes).toBeGreaterThan(FEEDBACK_MAX_BYTES / 2);
    expect(rc[1]!.prompt).not.toContain('noise line 0\n');
    expect(rc[1]!.prompt).toContain('noise line 3999');

    // templ: {round} each time; {feedback} only from round 2, and then {task} stays the task.
    const tc = received(by.templ!.dir);
    expect(tc.map((c) => c.round)).toEqual(['1', '2']);
    expect(tc[0]!.feedback).toBeNull();
    expect(tc[0]!.args).toEqual(['--round=1', 'make f() return 2']);
    expect(tc[1]!.feedback).toContain('f() is 3');
    expect(tc[1]!.prompt).toBe('make f() return 2');
    expect(by.templ!.check!.passed).toBe(true);

    // stubborn never fixes it: exactly 3 rounds, every check failed, the attempt's check is the last one.
    const st = by.stubborn!;
    expect(st.rounds!.map((x) => x.check?.passed)).toEqual([false, false, false]);
    expect(received(st.dir).length).toBe(3);
    expect(st.check!.passed).toBe(false);
    expect(st.rounds![2]!.final).toBe(st.final);
    expect(race.best).not.toBe('stubborn');
  }, 240_000);

  it('CLI: --rounds shows each round in the table and in race show; --dry-run says how later rounds run', () => {
    const { dir, worktrees } = raceRepo();
    const check = `${process.execPath} check.mjs`;
    const base = agentConfig();
    const resumer = { command: [process.execPath, ROUNDS, '{task}'], resume: [process.execPath, ROUNDS, '--resume', '{session}', '{task}'], output: 'claude-json' };
    write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { ...(base.agents as object), resumer }, race: { worktreeDir: worktrees } }) });
    const dry = cli(dir, ['make f() return 2', '--models', 'rounds,resumer', '--check', check, '--rounds', '2', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('(up to 2 rounds: a failed check goes back to the agent)');
    expect(dry.stdout).toContain('later rounds run it again with the follow-up as its task');
    expect(dry.stdout).toContain('later rounds resume its own session');
    const bad = cli(dir, ['t', '--models', 'rounds', '--check', check, '--rounds', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/rounds/);
    expect(fs.readdirSync(worktrees)).toEqual([]);
    const r = cli(dir, ['make f() return 2', '--models', 'rounds', '--check', check, '--rounds', '2']);
    expect(r.code, r.stderr).toBe(0);
    const head = r.stdout.split('\n').find((l) => l.includes('attempt') && l.includes('rounds'));
    expect(head, r.stdout).toBeDefined();
    expect(r.stdout).toMatch(/│ rounds\s+│[^\n]*│ pass [^│]*│ 2: fail pass\s*│/);
    const show = cli(dir, ['show']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("rounds round 1 (the task): done, check failed (1)");
    expect(show.stdout).toMatch(/rounds round 2 \(run again\): done, check passed, given \d+ bytes of check output/);
  }, 180_000);

  it('refuses bad rounds before creating anything', async () => {
    const { dir, worktrees } = raceRepo();
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', rounds: 2, ckptBin: bin })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/needs a check/) });
    // A blank check is no check (attempt.ts ran `sh -c ''` and recorded a pass, while this rule let it count as none).
    for (const check of ['', '  ']) await expect(planRace({ cwd: dir, task: 't', models: 'fast', check, rounds: 2, ckptBin: bin })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/needs a check/) });
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', check: 'true', rounds: 0, ckptBin: bin })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', check: 'true', rounds: 21, ckptBin: bin })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    write(dir, { '.ckpt/config.json': JSON.stringify({ ...agentConfig(), race: { worktreeDir: worktrees, rounds: 1.5 } }) });
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', check: 'true', ckptBin: bin })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/race\.rounds/) });
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });

  it('a blank check is no check everywhere: `--check \'\'` turns off race.check, and no attempt records one', async () => {
    const { dir, worktrees } = raceRepo();
    write(dir, { '.ckpt/config.json': JSON.stringify({ ...agentConfig(), race: { worktreeDir: worktrees, check: 'false' } }) });
    expect((await planRace({ cwd: dir, task: 't', models: 'fast', ckptBin: bin })).check).toBe('false');
    const plan = await planRace({ cwd: dir, task: 't', models: 'fast', check: '', ckptBin: bin });
    expect(plan.check).toBeNull();
    const race = await runRace(plan, { ckptBin: bin });
    expect(race.check).toBeNull();
    expect(race.attempts[0]!.check).toBeNull();
    expect(race.attempts[0]!.state).toBe('done');
  }, 60_000);
});
