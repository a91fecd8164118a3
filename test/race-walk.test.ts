/**
 * Issue 12's "Done when", walked as a test: on a clone of a real repository with a real test
 * suite (this project's own, with its history: the only real one CI has), `race TASK --models
 * fixer,tidy --check "<a part of the project's vitest suite>" --rounds 3 --review-by critic
 * --sandbox` with scripted agents (test/fixtures/walk/): `fixer` passes only after seeing its
 * failure, `tidy` is sent back once by the reviewer, each attempt has its own database on a
 * REAL PostgreSQL server (race.env, setup, teardown), dropped at `race clean`, and an agent's
 * write outside its worktree is refused. Skipped, with the reason, only where bubblewrap or
 * PostgreSQL cannot run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxWorks } from '../src/agents/sandbox.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { git, picture, tempDir, write } from './support/repo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RACE = path.join(ROOT, 'bin', 'race.js');
const WALK = path.join(ROOT, 'test', 'fixtures', 'walk');

let pg: Postgres | { skip: string } = { skip: 'not set up' };
beforeAll(() => {
  pg = startPostgres();
}, 15 * 60_000);
afterAll(() => {
  if (!('skip' in pg)) pg.stop();
});

function race(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RACE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 400_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the "Done when" walk: rounds, review, a database per attempt and the sandbox, on a real repository', () => {
  it('fixer passes after seeing its failure, tidy is reviewed and sent back once, the databases are separate and dropped at clean, a write outside the worktree is refused', (ctx) => {
    if (!sandboxWorks()) return ctx.skip('bubblewrap is not installed or not permitted here (apt-get install bubblewrap)');
    if ('skip' in pg) return ctx.skip(pg.skip);
    const db = pg;
    // A clone of this project, with its history and its real suite; its dependencies linked from this checkout.
    const dir = path.join(tempDir('ckpt-walk-'), 'ckpt');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, dir]);
    expect(Number(git(dir, 'rev-list', '--count', 'HEAD').trim())).toBeGreaterThan(5);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), 'node_modules\n');
    const agent = (name: string) => ({ command: [process.execPath, path.join(WALK, `${name}.mjs`), '{task}'] });
    const psql = (sql: string) => `${path.join(db.bin, 'psql')} -qc "${sql}"`;
    write(dir, {
      '.ckpt/config.json': JSON.stringify({
        agents: { fixer: agent('fixer'), tidy: agent('tidy'), critic: agent('critic') },
        race: {
          worktreeDir: tempDir('ckpt-walk-wt-'),
          // The checks only read this checkout's node_modules (read-only in the sandbox anyway).
          deps: 'symlink',
          unsafeDeps: true,
          env: { PGHOST: db.sock, PGUSER: 'postgres', PGDATABASE: 'walk_{index}', PG_BIN: db.bin, USER_DIR: dir },
          setup: `${path.join(db.bin, 'createdb')} "$PGDATABASE" && ${psql("create table seen (who text); insert into seen values ('$CKPT_ATTEMPT')")}`,
          teardown: `${path.join(db.bin, 'dropdb')} --if-exists "$PGDATABASE"`,
        },
      }),
    });
    git(dir, 'add', '.ckpt/config.json');
    git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'race config');
    const before = picture(dir);
    const head = git(dir, 'rev-parse', 'HEAD');
    // A real part of the project's suite (vitest loads its config in process: node_modules is read-only in the sandbox).
    const check = `${process.execPath} ${path.join(ROOT, 'node_modules/vitest/vitest.mjs')} run --configLoader runner test/duration.test.ts`;

    const r = race(dir, ['document and check parseDuration', '--models', 'fixer,tidy', '--check', check, '--rounds', '3', '--review-by', 'critic', '--sandbox']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const shown = JSON.parse(race(dir, ['show', '--json']).stdout);
    const by = Object.fromEntries(shown.attempts.map((a: { name: string }) => [a.name, a]));
    const { fixer, tidy } = by;
    const explain = (a: { log: string; error: string | null }): string => `${a.error}\n${fs.readFileSync(a.log, 'utf8').slice(-3000)}`;
    expect(shown.sandbox).toEqual({ network: true });

    // fixer: round 1 fails the real suite; round 2, given that output, passes; then it is approved.
    expect(fixer.state, explain(fixer)).toBe('done');
    expect(fixer.rounds.map((x: any) => [x.round, x.check?.passed])).toEqual([[1, false], [2, true]]);
    expect(fixer.rounds[1].feedbackBytes).toBeGreaterThan(0);
    expect(fixer.rounds.map((x: any) => x.feedbackFrom)).toEqual([null, 'check']);
    expect(fs.readFileSync(path.join(path.dirname(path.dirname(fixer.log)), 'checks', 'fixer.log'), 'utf8')).toMatch(/needs a unit and a length/);
    const fixerLog = fs.readFileSync(fixer.log, 'utf8');
    expect(fixerLog).toMatch(/fixer: first try[\s\S]*fixer: saw its failure, put the zero check back/);
    expect(fixer.check.tail).toMatch(/Tests\s+\d+ passed/);
    expect(fs.readFileSync(path.join(fixer.dir, 'src/core/duration.ts'), 'utf8')).toContain('if (value <= 0) {');
    // tidy: passes at once, the reviewer asks for changes (a TODO), round 2 carries the notes, then approved.
    expect(tidy.state, explain(tidy)).toBe('done');
    expect(tidy.rounds.map((x: any) => [x.round, x.check?.passed])).toEqual([[1, true], [2, true]]);
    const verdicts = (name: string): string[] => shown.reviews.filter((v: any) => v.attempt === name).map((v: any) => `${v.round}:${v.verdict}`);
    expect(verdicts('tidy')).toEqual(['1:request-changes', '2:approve']);
    expect(verdicts('fixer')).toEqual(['2:approve']);
    expect(tidy.rounds.map((x: any) => x.feedbackFrom)).toEqual([null, 'review']);
    const text = race(dir, ['show']).stdout;
    expect(text).toMatch(/tidy round 2 \(run again\): done, check passed, given \d+ bytes of the reviewer's notes/);
    expect(text).toContain('sandbox: bubblewrap around each attempt');
    expect(fs.readFileSync(tidy.log, 'utf8')).toContain('tidy: replaced the TODO as the reviewer asked');
    expect(fs.readFileSync(path.join(tidy.dir, 'src/core/duration.ts'), 'utf8')).toContain('milliseconds: `90s`, `2 hours`, `1h30m`.');

    // Each attempt saw only its own database's row; both exist until clean.
    expect(fs.readFileSync(path.join(fixer.dir, 'db-rows.txt'), 'utf8')).toBe('fixer\n');
    expect(fs.readFileSync(path.join(tidy.dir, 'db-rows.txt'), 'utf8')).toBe('tidy\n');
    expect(db.psql('select who from seen', 'walk_1')).toBe('fixer');
    expect(db.psql('select who from seen', 'walk_2')).toBe('tidy');

    // The write outside its worktree was refused, logged and warned; the user's checkout is as it was.
    expect(fixerLog).toMatch(/fixer: writing outside its worktree: EROFS/);
    expect(shown.warnings.filter((w: string) => w.includes('the sandbox refused'))).toEqual([
      `fixer (round 1): the sandbox refused 1 write outside its worktree (read-only file system; see its log ${fixer.log})`,
      `fixer (round 2): the sandbox refused 1 write outside its worktree (read-only file system; see its log ${fixer.log})`,
    ]);
    expect(fs.existsSync(path.join(dir, 'ESCAPED.txt'))).toBe(false);
    expect(picture(dir)).toEqual(before);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(head);

    // race clean: the teardown drops each database, the worktrees go.
    const c = race(dir, ['clean']);
    expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(0);
    expect(db.psql("select count(*) from pg_database where datname like 'walk\\_%'")).toBe('0');
    for (const a of [fixer, tidy]) expect(fs.existsSync(a.dir)).toBe(false);
    expect(picture(dir)).toEqual(before);
  }, 600_000);
});
