/**
 * `race` end to end through the built CLI: three fake agents with a check,
 * the table and the JSON, pick and undo byte-exact, dry run, show/list/diff,
 * clean, Ctrl-C and a killed race process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, git, indexBytes, picture, storeGit, write } from './support/repo.js';
import { raceRepo } from './support/race.js';
import { detectConfinement } from '../src/agents/confine.js';
import { killProcessesIn, processesIn } from './support/procs.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

function run(cwd: string, bin: string, args: string[], opts: { timeout?: number } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: opts.timeout ?? 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('race CLI', () => {
  it('races three agents with --check, prints the table and JSON; pick and ckpt rollback --undo are byte-exact', () => {
    const { dir } = raceRepo();
    write(dir, { 'staged.txt': 'staged\n' });
    git(dir, 'add', 'staged.txt');
    const index0 = indexBytes(dir);
    const r = run(dir, RACE, ['make f() return 2', '--models', 'editor,fast,fail', '--check', `${process.execPath} check.mjs`]);
    expect(r.code).toBe(0);
    // plain progress lines (not a TTY), then the summary table
    expect(r.stdout).toMatch(/\[editor\] running/);
    expect(r.stdout).toMatch(/\[fail\] failed/);
    for (const h of ['attempt', 'agent/model', 'state', 'check', 'tokens/cost']) expect(r.stdout).toContain(h);
    expect(r.stdout).toMatch(/★ │ fast/);
    expect(r.stdout).toMatch(/pass/);
    expect(r.stdout).toMatch(/\$0\.0123/);
    expect(r.stdout).toContain('race pick fast');

    const shown = JSON.parse(run(dir, RACE, ['show', '--json']).stdout);
    expect(shown.attempts.map((a: { name: string; state: string }) => `${a.name}:${a.state}`)).toEqual(['editor:done', 'fast:done', 'fail:failed']);
    expect(shown.best).toBe('fast');
    expect(shown.attempts[2].check).toMatchObject({ passed: false, exitCode: 1 });
    expect(shown.attempts[2].check.tail).toContain('f() is 3');
    expect(shown.confinement).toBe(detectConfinement());
    expect(run(dir, RACE, ['show']).stdout).toContain(`processes: ${shown.confinement}: `);
    const ckptShown = JSON.parse(run(dir, CLI, ['race', 'show', '--json']).stdout);
    expect(ckptShown.id).toBe(shown.id);
    expect(run(dir, RACE, ['list']).stdout).toContain(shown.id);
    const diff = run(dir, RACE, ['diff', 'editor', 'fast']);
    expect(diff.stdout).toContain('=== editor: 3 files');
    expect(diff.stdout).toContain('+  return 2;');
    expect(run(dir, RACE, ['diff', '--stat']).stdout).toContain('A FAST.md');
    // inside an attempt, ckpt log works
    const log = JSON.parse(run(shown.attempts[0].dir, CLI, ['log', '--json']).stdout);
    expect(log.steps.at(-1).kind).toBe('base');

    const before = picture(dir);
    const pick = run(dir, RACE, ['pick', 'editor']);
    expect(pick.code).toBe(0);
    expect(pick.stdout).toContain('ckpt rollback --undo');
    expect(fs.readFileSync(path.join(dir, 'src/lib/helper.js'), 'utf8')).toBe('export const helper = () => 42;\n');
    expect(spawnSync(process.execPath, ['check.mjs'], { cwd: dir }).status).toBe(0);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(fs.readFileSync(path.join(dir, '.env'), 'utf8')).toBe('API_KEY=secret\n');
    expect(run(dir, CLI, ['rollback', '--undo']).code).toBe(0);
    expect(picture(dir)).toEqual(before);
    expect(indexBytes(dir).equals(index0)).toBe(true);

    // clean: worktrees and branches go, the attempts stay reachable as checkpoints
    const editorFinal = shown.attempts[0].final as string;
    expect(run(dir, RACE, ['clean']).code).toBe(0);
    for (const a of shown.attempts) {
      expect(fs.existsSync(a.dir)).toBe(false);
      expect(git(dir, 'branch', '--list', a.branch)).toBe('');
    }
    expect(storeGit(dir, 'cat-file', '-t', editorFinal).trim()).toBe('commit'); // kept in ckpt's store
    expect(run(dir, RACE, ['diff', 'editor', '--stat']).stdout).toContain('src/lib/helper.js');
    expect(run(dir, RACE, ['pick', 'editor', '--dry-run']).code).toBe(0);
  }, 180_000);

  it('help names the race bin once (race run, not race race run); pick --merge prints the merge commit it made', () => {
    const { dir } = raceRepo();
    const help = run(dir, RACE, ['--help']);
    expect(help.stdout).toMatch(/^Usage: race \[options\] \[command\]$/m);
    expect(run(dir, RACE, ['run', '--help']).stdout).toMatch(/^Usage: race run \[options\] <task\.\.\.>$/m);
    expect(run(dir, RACE, ['pick', '--help']).stdout).toMatch(/^Usage: race pick /m);
    expect(run(dir, CLI, ['race', 'run', '--help']).stdout).toMatch(/^Usage: ckpt race run /m);
    for (const r of [help, run(dir, RACE, ['run', '--help'])]) expect(r.stdout).not.toMatch(/race race/);
    expect(run(dir, RACE, ['make f() return 2', '--models', 'editor', '--rounds', 'abc']).stderr).toMatch(/hint: .*See `race run --help`|hint: Give a whole number from 1 to 20/);

    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'everything committed: a merge needs no untracked file in its way');
    expect(run(dir, RACE, ['make f() return 2', '--models', 'editor']).code).toBe(0);
    const head0 = git(dir, 'rev-parse', 'HEAD').trim();
    const pick = run(dir, RACE, ['pick', 'editor', '--merge']);
    expect(pick.code, pick.stderr).toBe(0);
    const head = git(dir, 'rev-parse', 'HEAD').trim();
    expect(git(dir, 'rev-parse', 'HEAD^1').trim()).toBe(head0); // a merge commit on the current branch
    const attemptCommit = git(dir, 'rev-parse', 'HEAD^2').trim();
    expect(pick.stdout).toContain(`commit ${head.slice(0, 10)}`);
    expect(pick.stdout).toContain(`the attempt's commit: ${attemptCommit.slice(0, 10)}`);
    expect(pick.stdout).not.toMatch(new RegExp(`\\(${attemptCommit.slice(0, 10)}\\)`));
  }, 180_000);

  it('--dry-run prints commands, directories and environment, and creates nothing', () => {
    const { dir, worktrees } = raceRepo();
    const r = run(dir, RACE, ['--models', 'editor,editor', '--dry-run', '--json', '--', '--leading-dash task']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.attempts.map((a: { name: string }) => a.name)).toEqual(['editor', 'editor-2']);
    expect(plan.attempts[0].command.at(-1)).toBe('--leading-dash task');
    expect(plan.attempts[1].env).toMatchObject({ CKPT_ATTEMPT: 'editor-2', CKPT_ATTEMPT_INDEX: '2' });
    // It names how the attempts' processes will be made to end with them.
    expect(plan.confinement).toBe(detectConfinement());
    expect(run(dir, RACE, ['--models', 'editor', '--dry-run', 't']).stdout).toContain(`processes: ${detectConfinement()}: `);
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(fs.existsSync(path.join(dir, '.git', 'ckpt', 'races'))).toBe(false);
    const human = run(dir, RACE, ['fix it', '--models', 'claude@opus', '--dry-run']);
    // claude may not be installed here: then the error names the package
    if (human.code === 0) expect(human.stdout).toContain('--settings');
    else expect(human.stderr).toContain('@anthropic-ai/claude-code');
    expect(run(dir, RACE, ['t', '--models', 'nope-agent']).code).toBe(2);
    expect(run(dir, RACE, ['show', '--race', 'no-such-race', '--json']).stdout).toContain('RACE_NOT_FOUND');
  });

  it('Ctrl-C stops the race (exit 130, recorded as interrupted); a killed race process shows as interrupted', async () => {
    const { dir } = raceRepo();
    const child = spawn(process.execPath, [RACE, 'wait forever', '--models', 'hang,hang'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const t0 = Date.now();
    while (!/\[hang-2\] running/.test(out) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    const shown = JSON.parse(run(dir, RACE, ['show', '--json']).stdout);
    expect(shown.state).toBe('interrupted');
    expect(shown.attempts.map((a: { state: string }) => a.state)).toEqual(['interrupted', 'interrupted']);

    const child2 = spawn(process.execPath, [RACE, 'again', '--models', 'hang'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    child2.stdout.on('data', (b: Buffer) => (out2 += b.toString()));
    while (!/\[hang\] running/.test(out2) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    child2.kill('SIGKILL');
    await new Promise((resolve) => child2.on('exit', resolve));
    const crashed = JSON.parse(run(dir, RACE, ['show', '--json']).stdout);
    expect(crashed.task).toBe('again');
    expect(crashed.state).toBe('interrupted');
    // Its agent ended with it where a PID namespace confines it (the lifeline's end of file, whatever
    // the moment of the kill; confine.ts); under the sweep it is orphaned: end it. The kernel's
    // teardown takes a moment on a loaded machine: waited for, with a bound only a real failure reaches.
    if (crashed.confinement !== 'sweep') {
      const end = Date.now() + 30_000;
      while (processesIn(crashed.attempts[0].dir).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(processesIn(crashed.attempts[0].dir)).toEqual([]);
    }
    killProcessesIn(crashed.attempts[0].dir);
  }, 120_000);
});
