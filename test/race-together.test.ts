/**
 * Races started at once on one repository, each its own `ckpt race`
 * process: every attempt of each gets its worktree, and `race clean` of one
 * while others add theirs removes only its own.
 *
 * git's `worktree add` makes its admin entry `.git/worktrees/<name>/` file
 * by file; a git of another process that lists the worktrees meanwhile
 * (`worktree add` and `remove`, `branch -D`, `worktree list`) reads the
 * half-made entry and dies ("failed to read …/commondir"). The entry is
 * half-made for microseconds, far longer when the writer is descheduled on
 * a loaded machine. Here the `git` every ckpt process runs holds such an
 * entry for 300 ms before each `worktree add` (a PATH wrapper around the
 * real git), so any overlap between processes is the failure it is under
 * load, every time.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isCkptError } from '../src/core/errors.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import { raceDir } from '../src/race/store.js';
import { CLI, git, storeDir, tempDir } from './support/repo.js';
import { raceRepo } from './support/race.js';
import { stopDaemonAfterTest, stopTestDaemons } from './support/daemon.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

/** A directory holding a `git` that keeps a half-made admin entry in `<common>/worktrees` 300 ms before each `worktree add`. */
function slowAddGit(common: string): string {
  const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  const bin = tempDir('ckpt-git-');
  const script = [
    '#!/bin/sh',
    'case " $* " in',
    '  *" worktree add "*)',
    `    e=${JSON.stringify(path.join(common, 'worktrees'))}/half-made-$$`,
    '    mkdir -p "$e" && echo "$e/none/.git" > "$e/gitdir" && : > "$e/commondir"',
    '    sleep 0.3',
    '    rm -rf "$e";;',
    'esac',
    `exec ${JSON.stringify(real)} "$@"`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(bin, 'git'), script, { mode: 0o755 });
  return bin;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A `race` CLI process; `stop` ends it if it still runs (SIGTERM: it interrupts its attempts, then SIGKILL after 10 s). */
function race(cwd: string, args: string[], env: NodeJS.ProcessEnv): { done: Promise<Run>; stop: () => Promise<void> } {
  const child = spawn(process.execPath, [RACE, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<Run>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done.catch(() => undefined);
    clearTimeout(killer);
  };
  return { done, stop };
}

describe('races at once on one repository', () => {
  it('three race processes started together each get all their attempts; a clean among them removes only its own', async () => {
    const { dir } = raceRepo();
    const common = path.join(dir, '.git');
    const env = { ...process.env, NO_COLOR: '1', PATH: `${slowAddGit(common)}${path.delimiter}${process.env.PATH ?? ''}` };
    // The daemon the races' snapshots start is stopped after the test, and a race still running when it fails or times out is ended.
    stopDaemonAfterTest(dir);
    onTestFinished(() => stopTestDaemons());
    const children = [1, 2, 3].map((i) => race(dir, [`task ${i}`, '--models', 'fast,editor', '--json', ...(i === 2 ? ['--clean'] : [])], env));
    onTestFinished(async () => {
      await Promise.all(children.map((c) => c.stop()));
    });
    const runs = await Promise.all(children.map((c) => c.done));
    const records = runs.map((r) => {
      expect(r.stderr).not.toMatch(/commondir/);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { id: string; cleaned: boolean; attempts: { name: string; state: string; error: string | null; dir: string; branch: string }[] };
    });
    expect(new Set(records.map((r) => r.id)).size).toBe(3);
    for (const r of records) expect(r.attempts.map((a) => `${a.name}:${a.state}:${a.error ?? ''}`)).toEqual(['fast:done:', 'editor:done:']);
    // The cleaned race's worktrees and branches are gone; the other races' are all there.
    expect(records[1]!.cleaned).toBe(true);
    const listed = git(dir, 'worktree', 'list', '--porcelain');
    const branches = git(dir, 'branch', '--format=%(refname:short)').split('\n');
    for (const [i, r] of records.entries()) {
      for (const a of r.attempts) {
        expect(listed.includes(`worktree ${a.dir}\n`), `${r.id} ${a.name}`).toBe(i !== 1);
        expect(branches.includes(a.branch), a.branch).toBe(i !== 1);
        expect(fs.existsSync(a.dir)).toBe(i !== 1);
      }
    }
    expect(fs.readdirSync(path.join(common, 'worktrees')).filter((n) => n.startsWith('half-made'))).toEqual([]);
  }, 180_000);

  it('a race whose planned id another race claimed first (same second, same random digits) runs nothing and leaves the other race alone', async () => {
    const { dir } = raceRepo();
    const plan = await planRace({ cwd: dir, task: 't', models: 'fast', ckptBin: CLI });
    // The other race process: it claimed the id between this one's plan and its run.
    const other = path.join(raceDir(plan.repo, plan.id), 'race.json');
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.writeFileSync(other, '{"the other race": true}\n');
    expect(fs.existsSync(storeDir(dir))).toBe(false);
    const err = await runRace(plan, { ckptBin: CLI }).catch((e: unknown) => e);
    expect(isCkptError(err, 'RACE_ID_TAKEN'), String(err)).toBe(true);
    expect(fs.readFileSync(other, 'utf8')).toBe('{"the other race": true}\n');
    expect(fs.readdirSync(path.dirname(other))).toEqual(['race.json']);
    expect(fs.existsSync(plan.attempts[0]!.dir)).toBe(false);
    // No base snapshot either: the store was never made.
    expect(fs.existsSync(storeDir(dir))).toBe(false);
  }, 60_000);
});
