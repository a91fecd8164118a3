/**
 * On a clone of a real repository with history (this project's own), not a
 * generated one: the watcher captures hand-made and shell-made changes, any
 * step or single file rolls back and the rollback is undone, with the user's
 * staged index and ignored files untouched; then a race of three scripted
 * agents runs the project's real test suite (a part of it) as its check in
 * each attempt, and the chosen one is merged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, git, indexBytes, picture, tempDir, write } from './support/repo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RACE = path.join(ROOT, 'bin', 'race.js');

function ckpt(cwd: string, args: string[], bin = CLI): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A clone of this project's repository, with its history. */
function cloneSelf(): string {
  const dir = path.join(tempDir('ckpt-real-'), 'ckpt');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, dir]);
  expect(Number(git(dir, 'rev-list', '--count', 'HEAD').trim())).toBeGreaterThan(5);
  return dir;
}

async function waitFor(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('on a clone of a real repository', () => {
  it('watch, hand and shell changes, roll back a step and a single file, undo; index and ignored files untouched', async () => {
    const dir = cloneSelf();
    // The user's own state: a staged change, an ignored build dir and an ignored log.
    write(dir, { 'docs/cli.md': fs.readFileSync(path.join(dir, 'docs/cli.md'), 'utf8') + '\nstaged by the user\n' });
    git(dir, 'add', 'docs/cli.md');
    write(dir, { 'dist/cli.js': '// build output\n', 'debug.log': 'log\n', 'node_modules/x/index.js': 'x' });
    const index0 = indexBytes(dir);
    const ignored = (): string[] => ['dist/cli.js', 'debug.log', 'node_modules/x/index.js'].map((p) => fs.readFileSync(path.join(dir, p), 'utf8'));
    const ignored0 = ignored();

    const watch = spawn(process.execPath, [CLI, 'watch', '--json', '--quiet', '200ms'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let created = 0;
    let buf = '';
    watch.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const e = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (e.event === 'snapshot' && e.created) created++;
      }
    });
    await waitFor(() => created >= 1, 'the first snapshot');
    const s1 = picture(dir);
    // 1. by hand
    write(dir, { 'src/core/errors.ts': fs.readFileSync(path.join(dir, 'src/core/errors.ts'), 'utf8').replace('The one error class', 'THE one error class') });
    await waitFor(() => created >= 2, 'a snapshot of the hand edit');
    const s2 = picture(dir);
    // 2. through shell commands: sed, a generated file, a deletion, a rename
    execFileSync('sh', ['-c', "sed -i 's/Typed errors/Typed errors (edited by sed)/' src/core/errors.ts && echo generated > src/generated.ts && rm docs/snapshot-format.md && mv docs/race.md docs/racing.md"], { cwd: dir });
    await waitFor(() => created >= 3, 'a snapshot of the shell changes');
    const s3 = picture(dir);
    watch.kill('SIGINT');
    expect(await new Promise((r) => watch.on('exit', r))).toBe(0);

    const steps = JSON.parse(ckpt(dir, ['log', '--json']).stdout).steps as { step: number; stats: { files: number } | null }[];
    expect(steps.map((s) => s.step)).toEqual([3, 2, 1]);
    expect(steps[0]!.stats!.files).toBe(5);

    // roll back the shell step
    expect(ckpt(dir, ['rollback', '2']).code).toBe(0);
    expect(picture(dir)).toEqual(s2);
    // a single file, back to the first step
    expect(ckpt(dir, ['rollback', '1', '--', 'src/core/errors.ts']).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'src/core/errors.ts'))).toEqual(Buffer.from(s1['src/core/errors.ts']!.content!, 'base64'));
    // undo the single-file rollback, then the step rollback
    expect(ckpt(dir, ['rollback', '--undo']).code).toBe(0);
    expect(picture(dir)).toEqual(s2);
    expect(ckpt(dir, ['rollback', '3']).code).toBe(0);
    expect(picture(dir)).toEqual(s3);
    expect(indexBytes(dir).equals(index0)).toBe(true);
    expect(ignored()).toEqual(ignored0);
    expect(git(dir, 'diff', '--cached', '--name-only').trim()).toBe('docs/cli.md');
  }, 120_000);

  it('a race of three scripted agents runs the real test suite in each attempt and merges the chosen one', () => {
    const dir = cloneSelf();
    // Dependencies: linked from this checkout, as a user's node_modules would be.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), 'node_modules\n'); // `node_modules/` does not match a symlink
    const agents = tempDir('ckpt-agents-');
    const target = 'src/core/duration.ts';
    const edit = (name: string, js: string): string => {
      const f = path.join(agents, `${name}.cjs`);
      fs.writeFileSync(f, `const fs = require('node:fs');\nconst p = ${JSON.stringify(target)};\nlet s = fs.readFileSync(p, 'utf8');\n${js}\nfs.writeFileSync(p, s);\n`);
      return f;
    };
    // good: documents the function; also good, with a different comment; bad: breaks the parser.
    const good = edit('good', "s = s.replace(' * Parses a duration into milliseconds.', ' * Parses a duration into milliseconds (good).');");
    const other = edit('other', "s = s.replace(' * Parses a duration into milliseconds.', ' * Parses a duration into milliseconds (other).');");
    const bad = edit('bad', "s = s.replace('if (ago) return now - parseDuration(ago[1]!);', 'if (ago) return now + parseDuration(ago[1]!);');");
    write(dir, {
      '.ckpt/config.json': JSON.stringify({
        agents: { good: { command: [process.execPath, good] }, other: { command: [process.execPath, other] }, bad: { command: [process.execPath, bad] } },
        // This checkout's own 128 MB node_modules, linked (the checks only read it): accepted as unsafe.
        race: { deps: 'symlink', unsafeDeps: true, worktreeDir: tempDir('ckpt-real-wt-') },
      }),
    });
    git(dir, 'add', '.ckpt/config.json');
    git(dir, 'commit', '-q', '-m', 'race config');
    // A real part of the project's suite: the rollback tests resolve --to times with parseTimePoint,
    // read by git and by the daemon; the daemon's variant runs the built CLI, so the check builds
    // first, as `npm test` does (dist/ is not in the repository).
    const check = `${process.execPath} scripts/build.mjs --no-types && ${process.execPath} ${path.join(ROOT, 'node_modules/vitest/vitest.mjs')} run test/rollback.test.ts -t "resolves targets"`;
    const r = ckpt(dir, ['improve the duration docs', '--models', 'good,other,bad', '--check', check], RACE);
    expect(r.code, r.stderr).toBe(0);
    const race = JSON.parse(ckpt(dir, ['show', '--json'], RACE).stdout);
    const by = Object.fromEntries(race.attempts.map((a: { name: string }) => [a.name, a]));
    expect(by.good.check.passed).toBe(true);
    expect(by.other.check.passed).toBe(true);
    expect(by.bad.check.passed).toBe(false);
    expect(by.bad.check.tail).toMatch(/fail/i);
    // merge the chosen one into the current branch
    const head0 = git(dir, 'rev-parse', 'HEAD').trim();
    const m = ckpt(dir, ['pick', 'other', '--merge'], RACE);
    expect(m.code, m.stderr).toBe(0);
    expect(git(dir, 'rev-parse', 'HEAD^1').trim()).toBe(head0);
    expect(fs.readFileSync(path.join(dir, target), 'utf8')).toContain('milliseconds (other).');
    expect(git(dir, 'status', '--porcelain').trim()).toBe('');
  }, 300_000);
});
