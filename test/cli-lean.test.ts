/**
 * `ckpt rollback`'s lean path (cli/lean-rollback.ts: no commander, no zod)
 * against the full one on the same command lines, through the built CLI:
 * `ckpt --color=auto rollback …` always takes the full path (a global option
 * first) and means the same. Every line gives the same exit code, stdout and
 * stderr both ways; a refusal or a dry run changes nothing (every byte of
 * the worktree and the git dir); a real rollback and its `--undo` give the
 * same bytes, index and HEAD both ways. With the repository's daemon
 * running, the lean lines are run by the daemon for the tiny client
 * (cli/rollback-client.ts, cli/daemon-rollback.ts) and give the same exit
 * code, stdout and stderr as the CLI's own path (which reads through the
 * same daemon), coloured or not; a client whose environment differs from
 * the daemon's, or that is confined where the daemon is not (no_new_privs
 * under setpriv), runs the line itself, with the same output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLeanRollback } from '../src/cli/lean-rollback.js';
import { everyFile } from './support/files.js';
import { CLI, git, indexBytes, makeRepo, picture, write } from './support/repo.js';
import { daemonSnapshot, servedByDaemon, startTestDaemon, stopTestDaemons, testDaemonStatus } from './support/daemon.js';

function run(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CKPT_NO_DAEMON: '1' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `ckpt ARGS` with the daemon wanted (whatever the project's default), and `env` over the test's. */
function runWithDaemon(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): { code: number; stdout: string; stderr: string } {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  delete e.CKPT_NO_DAEMON;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const cmd = [...wrapper, process.execPath, CLI, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd, encoding: 'utf8', env: e, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `ckpt ARGS` (the daemon wanted unless `env` says not) with stdout and stderr on one pipe (`2>&1`): the text as a user sees it. */
function runOnePipe(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; text: string } {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete e.CKPT_NO_DAEMON;
  Object.assign(e, env);
  const r = spawnSync('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, CLI, ...args], { cwd, encoding: 'utf8', env: e, timeout: 60_000 });
  return { code: r.status ?? -1, text: r.stdout };
}

/**
 * Every file under `dir` (the git dir included) with the sha256 of its bytes,
 * but ckpt's objects and private index: a dry run reads the worktree through
 * them (it records nothing: no ref, reflog, tip record or state changes).
 */
function everything(dir: string, daemon = false): Record<string, string> {
  return everyFile(
    dir,
    (rel) =>
      rel.startsWith('.git/ckpt/shadow/objects/') ||
      /^\.git\/ckpt\/wt\/[^/]+\/index$/.test(rel) ||
      // With a daemon: its log and its pool of ready temporary files (taken by each lock and refilled) are its own.
      (daemon && (rel.startsWith('.git/ckpt/daemon/') || rel.startsWith('.git/ckpt/shadow/tmp-pool/'))),
  );
}

describe('ckpt rollback, lean path', () => {
  it('takes only the simple forms; everything else goes to commander', () => {
    const taken = [
      ['rollback'],
      ['rollback', '3'],
      ['rollback', '3', '--json'],
      ['rollback', '--undo'],
      ['rollback', '-n', '--undo'],
      ['rollback', '--dry-run', 'abc123'],
      ['rollback', '--to', '10 minutes ago'],
      ['rollback', '3', '--', 'a.txt', '--undo', '-x'],
      ['rollback', '--', '--json'],
    ];
    for (const argv of taken) expect(parseLeanRollback(argv), argv.join(' ')).not.toBeNull();
    expect(parseLeanRollback(['rollback', '3', '-n', '--json', '--', 'p'])).toEqual({ input: { target: '3', dryRun: true, json: true }, paths: ['p'] });
    expect(parseLeanRollback(['rollback', '--to', 'now', '--undo'])).toEqual({ input: { to: 'now', undo: true }, paths: [] });
    const left = [
      ['log'],
      ['-C', '.', 'rollback', '3'],
      ['--color=never', 'rollback'],
      ['rollback', '-2'],
      ['rollback', '--help'],
      ['rollback', '-h'],
      ['rollback', '--to'],
      ['rollback', '--to', '-1'],
      ['rollback', '--to='],
      ['rollback', '--to=now'],
      ['rollback', '--to', ''],
      ['rollback', '--undo', '--undo'],
      ['rollback', '3', '4'],
      ['rollback', ''],
      ['rollback', '-nq'],
      ['rollback', '--json=1'],
      ['rollback', '--unknown'],
      ['rollback', '-'],
    ];
    for (const argv of left) expect(parseLeanRollback(argv), argv.join(' ')).toBeNull();
  });

  it('accepts and refuses exactly what the full path does, with the same output, changing nothing but cached objects', () => {
    const dir = makeRepo({ 'a.txt': 'one\n', 'b.txt': 'b\n' });
    expect(run(dir, ['snap', '-m', 'one']).code).toBe(0);
    write(dir, { 'a.txt': 'two\n', 'c.txt': 'new\n' });
    expect(run(dir, ['snap', '-m', 'two']).code).toBe(0);
    write(dir, { 'b.txt': 'edited, not in a snapshot\n' });
    const lines = [
      ['rollback', '1', '-n'],
      ['rollback', '1', '--dry-run', '--json'],
      ['rollback', '-n'],
      ['rollback', '1', '-n', '--', 'a.txt'],
      ['rollback', '1', '-n', '--', 'nope.txt'],
      ['rollback', '1', '-n', '--', '../outside'],
      ['rollback', '--to', 'garbage'],
      ['rollback', '--to', 'garbage', '--json'],
      ['rollback', '--to', '5'],
      ['rollback', '--to', 'now', '-n'],
      ['rollback', '--to', '10 years ago', '-n'],
      ['rollback', '--to', 'now', '--undo'],
      ['rollback', '1', '--undo'],
      ['rollback', '1', '--undo', '--json'],
      ['rollback', '99'],
      ['rollback', '99', '--json'],
      ['rollback', 'zzzz'],
      ['rollback', 'deadbeef', '-n'],
      ['rollback', '--undo'],
      ['rollback', '--undo', '-n', '--json'],
      ['rollback', '--to'],
      ['rollback', '-2', '-n'],
      ['rollback', '--unknown'],
      ['rollback', '3', '4'],
    ];
    const before = everything(dir);
    for (const argv of lines) {
      const lean = run(dir, argv);
      const full = run(dir, ['--color=auto', ...argv]);
      expect(lean, argv.join(' ')).toEqual(full);
      expect(everything(dir), argv.join(' ')).toEqual(before);
    }
    // 48 CLI processes: a bound only a real hang reaches on a loaded machine.
  }, 300_000);

  it('a rollback and its --undo give the same bytes, index and HEAD both ways', () => {
    const dir = makeRepo({ 'a.txt': 'one\n', 'd/x.txt': 'x\n' });
    fs.writeFileSync(path.join(dir, '.gitignore'), 'ignored.log\n');
    write(dir, { 'ignored.log': 'keep me\n' });
    expect(run(dir, ['snap', '-m', 'one']).code).toBe(0);
    const one = picture(dir);
    write(dir, { 'a.txt': 'two\n', 'd/x.txt': null, 'new.txt': 'n\n' });
    fs.rmdirSync(path.join(dir, 'd'));
    fs.chmodSync(path.join(dir, 'new.txt'), 0o755);
    expect(run(dir, ['snap', '-m', 'two']).code).toBe(0);
    const two = picture(dir);
    const index = indexBytes(dir);
    const head = git(dir, 'rev-parse', 'HEAD');
    const steps = (s: string): string => s.replace(/\b\d+\b/g, 'N').replace(/[0-9a-f]{10}/g, 'ID');
    const outputs: string[][] = [];
    for (const prefix of [[], ['--color=auto']]) {
      const back = run(dir, [...prefix, 'rollback', '1']);
      expect(back.code, back.stderr).toBe(0);
      expect(picture(dir)).toEqual(one);
      const undo = run(dir, [...prefix, 'rollback', '--undo']);
      expect(undo.code, undo.stderr).toBe(0);
      expect(picture(dir)).toEqual(two);
      expect(indexBytes(dir).equals(index)).toBe(true);
      expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
      outputs.push([steps(back.stdout), steps(back.stderr), steps(undo.stdout), steps(undo.stderr)]);
    }
    expect(outputs[0]).toEqual(outputs[1]);
    expect(fs.readFileSync(path.join(dir, 'ignored.log'), 'utf8')).toBe('keep me\n');
  }, 120_000);

  describe('run by the daemon', () => {
    afterEach(() => stopTestDaemons());

    it('gives the exit code, stdout and stderr of the CLI path for every line, coloured or not, changing nothing on refusals and dry runs', async () => {
      const dir = makeRepo({ 'a.txt': 'one\n', 'b.txt': 'b\n' });
      startTestDaemon(dir);
      await daemonSnapshot(dir, 'manual');
      write(dir, { 'a.txt': 'two\n', 'c.txt': 'new\n' });
      await daemonSnapshot(dir, 'after');
      write(dir, { 'b.txt': 'edited, not in a snapshot\n' });
      const lines = [
        ['rollback', '1', '-n'],
        ['rollback', '1', '--dry-run', '--json'],
        ['rollback', '-n'],
        ['rollback', '1', '-n', '--', 'a.txt'],
        ['rollback', '1', '-n', '--', 'nope.txt'],
        ['rollback', '1', '-n', '--', '../outside'],
        ['rollback', '--to', 'garbage'],
        ['rollback', '--to', 'garbage', '--json'],
        ['rollback', '--to', 'now', '-n'],
        ['rollback', '1', '--undo'],
        ['rollback', '99', '--json'],
        ['rollback', 'zzzz'],
        ['rollback', '--undo'],
        ['rollback', '--undo', '-n', '--json'],
      ];
      const before = everything(dir, true);
      for (const [i, argv] of lines.entries()) {
        const env = i % 3 === 0 ? { NO_COLOR: undefined, FORCE_COLOR: '1' } : {};
        const served = servedByDaemon(dir);
        const lean = runWithDaemon(dir, argv, env);
        expect(servedByDaemon(dir), `${argv.join(' ')}: run by the daemon`).toBe(served + 1);
        const full = runWithDaemon(dir, ['--color=auto', ...argv], env);
        expect(servedByDaemon(dir), `${argv.join(' ')}: the CLI path`).toBe(served + 1);
        expect(lean, argv.join(' ')).toEqual(full);
        expect(everything(dir, true), argv.join(' ')).toEqual(before);
      }
      // A variable that changes what a rollback may do, set only in the client: the CLI runs the line, the same way.
      const served = servedByDaemon(dir);
      const other = runWithDaemon(dir, ['rollback', '1', '-n'], { TZ: 'Pacific/Chatham' });
      expect(servedByDaemon(dir)).toBe(served);
      expect(other).toEqual(runWithDaemon(dir, ['--color=auto', 'rollback', '1', '-n'], { TZ: 'Pacific/Chatham' }));
      // A confined client (no_new_privs, as a sandbox sets it before Landlock or seccomp): the CLI runs the line, the same way.
      const nnp = ['setpriv', '--no-new-privs'];
      const confined = runWithDaemon(dir, ['rollback', '1', '-n'], {}, nnp);
      expect(servedByDaemon(dir)).toBe(served);
      expect(confined.code, confined.stderr).toBe(0);
      expect(confined).toEqual(runWithDaemon(dir, ['--color=auto', 'rollback', '1', '-n'], {}, nnp));
      expect(confined).toEqual(runWithDaemon(dir, ['rollback', '1', '-n']));
      expect(servedByDaemon(dir)).toBe(served + 1);
      // Each refusal counted by its reason in `ckpt daemon status` (--json and its line) and logged: why rollbacks fell back.
      expect(testDaemonStatus(dir).status.rollbackRefusals).toEqual({ 'env TZ': 1, 'confinement NoNewPrivs': 1 });
      expect(runWithDaemon(dir, ['daemon', 'status']).stdout).toContain(', 2 rollbacks refused (the CLI ran them): confinement NoNewPrivs 1, env TZ 1');
      const log = fs.readFileSync(path.join(dir, '.git', 'ckpt', 'daemon', 'log'), 'utf8');
      expect(log).toContain("rollback refused (UNSERVED, env TZ): the client's TZ is not the daemon's");
      expect(log).toContain("rollback refused (UNSERVED, confinement NoNewPrivs): the client's NoNewPrivs is not the daemon's");
    }, 300_000);

    it("keeps stdout's and stderr's order: a rollback that warns reads the same on one pipe (2>&1) run by the daemon as run by the CLI", async () => {
      const dir = makeRepo({ 'a.txt': 'one\n' });
      startTestDaemon(dir);
      const first = await daemonSnapshot(dir, 'manual');
      // The step's HEAD is no longer the one checked out: a warning (stderr) among the lines of the plan (stdout).
      write(dir, { 'a.txt': 'two\n', 'b.txt': 'b\n' });
      git(dir, 'commit', '-qam', 'moved on');
      const argv = ['rollback', String(first), '-n'];
      const served = servedByDaemon(dir);
      const daemon = runOnePipe(dir, argv);
      expect(servedByDaemon(dir)).toBe(served + 1);
      const cli = runOnePipe(dir, ['--color=auto', ...argv]);
      const direct = runOnePipe(dir, argv, { CKPT_NO_DAEMON: '1' });
      expect(servedByDaemon(dir)).toBe(served + 1);
      expect(direct.text).toMatch(/warning: [^]*\n[^]*would|would[^]*warning: /);
      expect(daemon).toEqual(cli);
      expect(daemon).toEqual(direct);
    }, 120_000);

    it('a rollback and its --undo run by the daemon give the same bytes, output, index and HEAD as the CLI path', async () => {
      const dir = makeRepo({ 'a.txt': 'one\n', 'd/x.txt': 'x\n' });
      fs.writeFileSync(path.join(dir, '.gitignore'), 'ignored.log\n');
      write(dir, { 'ignored.log': 'keep me\n' });
      startTestDaemon(dir);
      const first = await daemonSnapshot(dir, 'manual');
      const one = picture(dir);
      write(dir, { 'a.txt': 'two\n', 'd/x.txt': null, 'new.txt': 'n\n' });
      fs.rmdirSync(path.join(dir, 'd'));
      fs.chmodSync(path.join(dir, 'new.txt'), 0o755);
      await daemonSnapshot(dir, 'after');
      const two = picture(dir);
      const index = indexBytes(dir);
      const head = git(dir, 'rev-parse', 'HEAD');
      const steps = (s: string): string => s.replace(/\b\d+\b/g, 'N').replace(/[0-9a-f]{10}/g, 'ID');
      const outputs: string[][] = [];
      for (const prefix of [[], ['--color=auto']]) {
        const served = servedByDaemon(dir);
        const back = runWithDaemon(dir, [...prefix, 'rollback', String(first), '--json']);
        expect(back.code, back.stderr).toBe(0);
        expect(JSON.parse(back.stdout).readBy).toBe('daemon');
        expect(picture(dir)).toEqual(one);
        const undo = runWithDaemon(dir, [...prefix, 'rollback', '--undo']);
        expect(undo.code, undo.stderr).toBe(0);
        expect(picture(dir)).toEqual(two);
        expect(servedByDaemon(dir)).toBe(served + (prefix.length === 0 ? 2 : 0));
        expect(indexBytes(dir).equals(index)).toBe(true);
        expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);
        // The JSON's ids, steps and times differ between the two runs; its shape and the rest do not.
        const json = JSON.parse(back.stdout);
        outputs.push([steps(JSON.stringify(Object.keys(json))), steps(JSON.stringify(json.changes)), steps(back.stderr), steps(undo.stdout), steps(undo.stderr)]);
      }
      expect(outputs[0]).toEqual(outputs[1]);
      expect(fs.readFileSync(path.join(dir, 'ignored.log'), 'utf8')).toBe('keep me\n');
      // `ckpt daemon status` counts the two it ran.
      expect((testDaemonStatus(dir).status as unknown as { rollbacks: number }).rollbacks).toBe(2);
    }, 120_000);
  });
});
