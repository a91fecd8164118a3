/**
 * An environment per attempt (`race.env`, `--env K=V` with `{attempt}`, `{index}`, `{port}`,
 * `{raceId}`, `{dir}`) and `race.teardown` run by `race clean` / `--clean`, against a REAL
 * PostgreSQL server: a private cluster (initdb + pg_ctl as the unprivileged `postgres` user)
 * listening only on a unix socket in a temp dir, removed at the end. Skipped, with the reason,
 * only when PostgreSQL is not installed and cannot be (Debian's `postgresql`; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRace } from '../src/race/plan.js';
import { agentConfig, raceRepo } from './support/race.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { CLI, picture, write } from './support/repo.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

let pg: Postgres | { skip: string } = { skip: 'not set up' };
let bin: string | { skip: string } = { skip: 'not set up' };
let sock = '';

beforeAll(() => {
  pg = startPostgres();
  if ('skip' in pg) bin = pg;
  else ({ bin, sock } = pg);
}, 15 * 60_000);

afterAll(() => {
  if (!('skip' in pg)) pg.stop();
});

function psql(sql: string, db = 'postgres'): string {
  return (pg as Postgres).psql(sql, db);
}

function cli(cwd: string, args: string[], env: NodeJS.ProcessEnv): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RACE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('race: an environment and a database per attempt (real PostgreSQL)', () => {
  it('each attempt gets its own database from race.env; none sees another\'s row; teardown drops them at clean; a failing teardown keeps its worktree', (ctx) => {
    if (typeof bin !== 'string') return ctx.skip(bin.skip);
    const { dir, worktrees } = raceRepo();
    const pg = bin;
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    // The agent reads every row its database holds, and records its env.
    const reader = { command: ['sh', '-c', `${q(path.join(pg, 'psql'))} -Atc "select string_agg(v, ',' order by v) from t" > seen.txt && printf '%s\\n' "$PGDATABASE" "$APP_DIR" "$APP_PORT" "$APP_RACE" > env.txt`, '{task}'] };
    const setup = `${q(path.join(pg, 'createdb'))} "$PGDATABASE" && ${q(path.join(pg, 'psql'))} -qc "create table t (v text); insert into t values ('row of $CKPT_ATTEMPT')"`;
    // The second attempt's teardown fails (exit 7), after doing nothing.
    const teardown = `if [ "$CKPT_ATTEMPT_INDEX" = 2 ] && [ ! -e .teardown-may-pass ]; then echo "teardown refused for $CKPT_ATTEMPT" >&2; exit 7; fi; ${q(path.join(pg, 'dropdb'))} --if-exists "$PGDATABASE"`;
    write(dir, {
      '.ckpt/config.json': JSON.stringify({
        ...agentConfig(),
        agents: { ...(agentConfig().agents as object), reader },
        race: { worktreeDir: worktrees, env: { PGDATABASE: 'app_{index}_{attempt}', APP_DIR: '{dir}', APP_RACE: '{raceId}' }, setup, teardown },
      }),
    });
    const env = { PGHOST: sock, PGUSER: 'postgres' };
    const before = picture(dir);

    // --dry-run shows the expanded env and the teardown, and creates nothing.
    const dry = cli(dir, ['read the rows', '--models', 'reader:2', '--env', 'APP_PORT=p{port}', '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.teardown).toBe(teardown);
    expect(plan.attempts.map((a: { env: Record<string, string> }) => a.env.PGDATABASE)).toEqual(['app_1_reader', 'app_2_reader-2']);
    expect(plan.attempts[1].env).toMatchObject({ APP_DIR: plan.attempts[1].dir, APP_RACE: plan.id, APP_PORT: `p${plan.attempts[1].port}` });
    const human = cli(dir, ['read the rows', '--models', 'reader:2', '--dry-run'], env);
    expect(human.stdout).toContain(`teardown (race clean, --clean): ${teardown}`);
    expect(human.stdout).toContain('PGDATABASE=app_1_reader');
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(psql("select count(*) from pg_database where datname like 'app_%'")).toBe('0');

    const r = cli(dir, ['read the rows', '--models', 'reader:2', '--env', 'APP_PORT=p{port}', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const race = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const [a, b] = race.attempts;
    expect([a.state, b.state], `${a.error} / ${b.error}`).toEqual(['done', 'done']);
    // Each attempt saw its own row only.
    expect(fs.readFileSync(path.join(a.dir, 'seen.txt'), 'utf8')).toBe('row of reader\n');
    expect(fs.readFileSync(path.join(b.dir, 'seen.txt'), 'utf8')).toBe('row of reader-2\n');
    expect(fs.readFileSync(path.join(b.dir, 'env.txt'), 'utf8')).toBe(`app_2_reader-2\n${b.dir}\np${b.port}\n${race.id}\n`);
    expect(psql("select string_agg(datname, ',' order by datname) from pg_database where datname like 'app_%'")).toBe('app_1_reader,app_2_reader-2');
    expect(psql('select v from t', 'app_1_reader')).toBe('row of reader');

    // race clean: the first attempt's teardown drops its database and its worktree goes;
    // the second's fails: reported, its worktree and its database kept.
    const clean = cli(dir, ['clean', '--race', race.id], env);
    expect(clean.code).not.toBe(0);
    expect(clean.stderr).toContain('its teardown failed (exit 7');
    expect(clean.stderr).toContain('teardown refused for reader-2');
    expect(fs.existsSync(a.dir)).toBe(false);
    expect(fs.existsSync(b.dir)).toBe(true);
    expect(fs.readFileSync(path.join(b.dir, 'seen.txt'), 'utf8')).toBe('row of reader-2\n');
    expect(psql("select string_agg(datname, ',') from pg_database where datname like 'app_%'")).toBe('app_2_reader-2');
    // Once the teardown can pass, clean finishes the job.
    fs.writeFileSync(path.join(b.dir, '.teardown-may-pass'), '');
    const again = cli(dir, ['clean', '--race', race.id], env);
    expect(again.code, again.stderr).toBe(0);
    expect(fs.existsSync(b.dir)).toBe(false);
    expect(psql("select count(*) from pg_database where datname like 'app_%'")).toBe('0');
    expect(picture(dir)).toEqual(before);
  }, 300_000);

  it('--clean runs the teardown at the end of the race', async (ctx) => {
    if (typeof bin !== 'string') return ctx.skip(bin.skip);
    const { dir, worktrees } = raceRepo();
    const pg = bin;
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    write(dir, { '.ckpt/config.json': JSON.stringify({ ...agentConfig(), race: { worktreeDir: worktrees, env: { PGDATABASE: 'c_{index}' }, setup: `${q(path.join(pg, 'createdb'))} "$PGDATABASE"`, teardown: `${q(path.join(pg, 'dropdb'))} "$PGDATABASE"` } }) });
    const r = cli(dir, ['t', '--models', 'fast:2', '--clean'], { PGHOST: sock, PGUSER: 'postgres' });
    expect(r.code, r.stderr).toBe(0);
    expect(psql("select count(*) from pg_database where datname like 'c\\_%'")).toBe('0');
    const shown = JSON.parse(cli(dir, ['show', '--json'], {}).stdout);
    expect(shown.cleaned).toBe(true);
    for (const a of shown.attempts) expect(fs.existsSync(a.dir)).toBe(false);
    // Bad templates are refused before anything is created.
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', env: { X: '{nope}' }, ckptBin: CLI })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/unknown placeholder \{nope\}/) });
    await expect(planRace({ cwd: dir, task: 't', models: 'fast', env: { PORT: '1' }, ckptBin: CLI })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await planRace({ cwd: dir, task: 't', models: 'fast', env: { X: '${HOME}/{index}' }, ckptBin: CLI })).attempts[0]!.env.X).toBe('${HOME}/1');
  }, 300_000);
});
