/**
 * Bad values on the command line through the built CLI: every one is a usage
 * error (exit 2) with a message naming the option and a hint, and changes
 * nothing (the repository's git dir and worktree byte for byte, no race
 * worktree, no race record). Durations need a unit everywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { everyFile } from './support/files.js';
import { CLI, makeRepo, tempDir, write } from './support/repo.js';
import { raceRepo } from './support/race.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

function run(cwd: string, args: string[], bin = CLI): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const everything = (dir: string): Record<string, string> => everyFile(dir);

describe('command-line input', () => {
  it('ckpt: bad numbers, durations and times are usage errors that change nothing', () => {
    const dir = makeRepo({ 'a.txt': 'one\n' });
    expect(run(dir, ['snap', '-m', 'one']).code).toBe(0);
    write(dir, { 'a.txt': 'two\n' });
    expect(run(dir, ['snap', '-m', 'two']).code).toBe(0);
    write(dir, { 'a.txt': 'three\n' });
    const before = everything(dir);
    const cases: [string[], RegExp, RegExp][] = [
      [['gc', '--older-than', '180'], /--older-than: "180" has no unit/, /180s, 180m/],
      [['gc', '--older-than', '0'], /--older-than: "0" has no unit/, /180s, 180m/],
      [['gc', '--older-than', '0s'], /--older-than: a duration must be longer than zero/, /amount longer than zero/],
      [['gc', '--older-than', 'soon'], /--older-than: not a duration: "soon"/, /180s, 180m/],
      [['gc', '--keep', '0'], /--keep: 0 is out of range \(≥ 1\)/, /whole number ≥ 1/],
      [['gc', '--keep', '-1'], /--keep: -1 is out of range \(≥ 1\)/, /whole number ≥ 1/],
      [['gc', '--keep', '1.5'], /--keep: not a whole number: "1.5"/, /whole number ≥ 1/],
      [['gc', '--keep', 'abc'], /--keep: not a whole number: "abc"/, /whole number ≥ 1/],
      [['log', '-n', 'abc'], /--max-count: not a whole number: "abc"/, /whole number/],
      [['rollback', '--to', '180'], /--to: not a time: "180"/, /minutes ago/],
      [['rollback', '--to', 'whenever'], /--to: not a time: "whenever"/, /ISO date/],
      [['watch', '--quiet', '300'], /--quiet: "300" has no unit/, /180s, 180m/],
      [['watch', '--max-wait', '0ms'], /--max-wait: a duration must be longer than zero/, /amount longer than zero/],
      [['view', '--port', '70000', '--no-open'], /--port: 70000 is out of range \(0–65535\)/, /from 0 to 65535/],
      [['--color=sometimes', 'log'], /--color takes auto, always or never/, /./],
    ];
    for (const [args, message, hint] of cases) {
      const r = run(dir, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^error: /);
      expect(r.stderr, args.join(' ')).toMatch(message);
      if (!args[0]!.startsWith('--color')) expect(r.stderr, args.join(' ')).toMatch(new RegExp(`hint: .*${hint.source}`));
      expect(r.stdout, args.join(' ')).toBe('');
    }
    // --json: the same error as a document with its code
    const j = JSON.parse(run(dir, ['gc', '--older-than', '180', '--json']).stdout);
    expect(j.error).toMatchObject({ code: 'INVALID_DURATION', data: { option: '--older-than', value: '180' } });
    expect(JSON.parse(run(dir, ['gc', '--keep', '0', '--json']).stdout).error.code).toBe('INVALID_ARGUMENT');
    // commander's own usage errors: text on stderr, and the JSON error with --json
    const unknown = run(dir, ['log', '--bogus', '--json']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENT', data: { commander: 'commander.unknownOption' } });
    expect(everything(dir)).toEqual(before);
    // the same values with their units work
    expect(run(dir, ['gc', '--older-than', '180m', '--dry-run']).code).toBe(0);
    // (no snapshot is that old: the time was read, then matched nothing)
    expect(JSON.parse(run(dir, ['rollback', '--to', '10 minutes ago', '--dry-run', '--json']).stdout).error.code).toBe('SNAPSHOT_NOT_FOUND');
    expect(run(dir, ['rollback', '--to', new Date(Date.now() + 60_000).toISOString(), '--dry-run']).code).toBe(0);
  }, 180_000);

  it('paths after -- are paths whatever global options come first', () => {
    const dir = makeRepo({ 'a.txt': 'one\n', 'b.txt': 'two\n' });
    expect(run(dir, ['snap']).code).toBe(0);
    write(dir, { 'a.txt': 'changed\n', 'b.txt': 'changed\n' });
    const r = run(dir, ['--color', 'never', '-C', dir, 'diff', '--stat', '--', 'b.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('b.txt');
    expect(r.stdout).not.toContain('a.txt');
  });

  it('-C names a directory that must exist: a usage error otherwise', () => {
    const dir = makeRepo({ 'a.txt': 'one\n' });
    const missing = path.join(tempDir(), 'nonexistent');
    const r = run(dir, ['-C', missing, 'log']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`-C: no such directory: ${JSON.stringify(missing)}`);
    const file = path.join(dir, 'a.txt');
    expect(run(dir, ['-C', file, 'status']).code).toBe(2);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('race: bad --max-parallel, --models, timeouts (flags and config file) are refused before anything is created', () => {
    const { dir, worktrees } = raceRepo();
    const before = everything(dir);
    const cases: [string[], RegExp][] = [
      [['--max-parallel', 'abc'], /--max-parallel: not a whole number: "abc"/],
      [['--max-parallel', '0'], /--max-parallel: 0 is out of range/],
      [['--max-parallel', '-1'], /--max-parallel: -1 is out of range/],
      [['--rounds', 'abc'], /--rounds: not a whole number: "abc"[\s\S]*hint: Give a whole number from 1 to 20/],
      [['--models', 'editor,,fast'], /--models: has an empty entry: "editor,,fast"/],
      [['--models', ','], /--models: is empty/],
      [['--timeout', '180'], /--timeout: "180" has no unit/],
      [['--timeout', '0'], /--timeout: "0" has no unit/],
      [['--timeout', '0s'], /--timeout: a duration must be longer than zero/],
      [['--idle-timeout', '10'], /--idle-timeout: "10" has no unit/],
      [['--check-timeout', '0'], /--check-timeout: "0" has no unit/],
    ];
    for (const [extra, message] of cases) {
      const args = ['make f() return 2', '--models', 'editor', ...extra];
      const r = run(dir, args, RACE);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr, extra.join(' ')).toMatch(message);
      expect(r.stderr, extra.join(' ')).toMatch(/^hint: /m);
    }
    expect(run(dir, ['t', '--models', 'editor', '--timeout', '180', '--dry-run'], RACE).stderr).toMatch(/hint: Give a unit: 180s, 180m/);
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(everything(dir)).toEqual(before);

    // the config file follows the same rule
    const cfgPath = path.join(dir, '.ckpt', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, race: { ...cfg.race, timeout: 180, checkTimeout: '0s' } }));
    const before2 = everything(dir);
    const bad = run(dir, ['t', '--models', 'editor'], RACE);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/race\.timeout: 180 is a number without a unit/);
    expect(bad.stderr).toMatch(/race\.checkTimeout: a duration must be longer than zero/);
    expect(bad.stderr).toMatch(/hint: Give a unit: 180s, 180m/);
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(everything(dir)).toEqual(before2);
  }, 180_000);

  it('race --dry-run shows every limit with its unit', () => {
    const { dir, worktrees } = raceRepo();
    const r = run(dir, ['t', '--models', 'editor,fast', '--timeout', '90s', '--idle-timeout', '2m', '--check', 'true', '--check-timeout', '1h30m', '--max-parallel', '1', '--dry-run'], RACE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('limits: 1 at once, idle timeout 2m, check timeout 1h30m');
    expect(r.stdout.match(/ {2}timeout: 1m30s/g)).toHaveLength(2);
    const j = JSON.parse(run(dir, ['t', '--models', 'editor', '--dry-run', '--json'], RACE).stdout);
    expect(j).toMatchObject({ maxParallel: 1, idleTimeoutMs: 600_000, checkTimeoutMs: 900_000, attempts: [{ timeoutMs: 1_800_000 }] });
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });
});
