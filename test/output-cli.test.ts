/**
 * The one output channel through the built CLI: one colour decision for every
 * command (--color, NO_COLOR, FORCE_COLOR, a terminal; CI plays no part), and
 * output that cannot be written (a full disk, a closed pipe) is a failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, makeRepo, write } from './support/repo.js';
import { runCli, type CliResult } from './support/cli.js';

const ESC = /\x1b\[/;

/** `ckpt ARGS` with none of the test's colour variables (NO_COLOR, FORCE_COLOR, CI), `env` over that. */
const run = (cwd: string, args: string[], env: Record<string, string | undefined> = {}): CliResult => runCli(cwd, args, { env: { NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined, ...env } });

function repoWithSteps(): string {
  const dir = makeRepo({ 'a.txt': 'one\n' });
  run(dir, ['snap', '-m', 'one']);
  write(dir, { 'a.txt': 'two\n', 'b.txt': 'new\n' });
  run(dir, ['snap', '-m', 'two']);
  return dir;
}

describe('output', () => {
  it('one colour policy for every command: piped means no colour, CI included; --color and FORCE_COLOR force it; NO_COLOR and never stop it', () => {
    const dir = repoWithSteps();
    const commands = [['log'], ['rollback', '1', '--dry-run'], ['diff', '1', '2']];
    for (const args of commands) {
      const what = args.join(' ');
      expect(run(dir, args).stdout, `${what} piped`).not.toMatch(ESC);
      expect(run(dir, args, { CI: '1' }).stdout, `${what} CI=1`).not.toMatch(ESC);
      expect(run(dir, args, { FORCE_COLOR: '0' }).stdout, `${what} FORCE_COLOR=0`).not.toMatch(ESC);
      expect(run(dir, ['--no-color', ...args], { FORCE_COLOR: '1' }).stdout, `${what} --no-color`).not.toMatch(ESC);
      expect(run(dir, [...args, '--color=never'], { FORCE_COLOR: '1' }).stdout, `${what} --color=never`).not.toMatch(ESC);
      expect(run(dir, args, { NO_COLOR: '1', FORCE_COLOR: '1' }).stdout, `${what} NO_COLOR`).not.toMatch(ESC);
      expect(run(dir, args, { FORCE_COLOR: '1' }).stdout, `${what} FORCE_COLOR=1`).toMatch(ESC);
      expect(run(dir, ['--color=always', ...args], { NO_COLOR: '1' }).stdout, `${what} --color=always`).toMatch(ESC);
      expect(run(dir, [...args, '--color'], { NO_COLOR: '1' }).stdout, `${what} --color`).toMatch(ESC);
      // --json never has colour
      expect(run(dir, ['--color=always', ...args, '--json']).stdout, `${what} --json`).not.toMatch(ESC);
    }
  }, 240_000);

  it('ckpt log > /dev/full fails (exit 4, the reason on stderr) instead of exiting 0', () => {
    if (!fs.existsSync('/dev/full')) return;
    const dir = repoWithSteps();
    for (const args of [['log'], ['log', '--json'], ['diff', '1', '2'], ['--help']]) {
      const full = fs.openSync('/dev/full', 'w');
      try {
        const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
        expect(r.status, args.join(' ')).toBe(4);
        expect(r.stderr, args.join(' ')).toContain('cannot write the output to stdout: ENOSPC');
      } finally {
        fs.closeSync(full);
      }
    }
  });

  it('a reader that goes away (EPIPE) is a failure too, without a message', async () => {
    const dir = makeRepo({ 'a.txt': 'one\n' });
    run(dir, ['snap']);
    write(dir, { 'big.txt': 'line of text\n'.repeat(200_000) });
    const child = spawn(process.execPath, [CLI, 'diff'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(4);
    expect(stderr).toBe('');
    expect(fs.existsSync(path.join(dir, 'big.txt'))).toBe(true);
  });
});
