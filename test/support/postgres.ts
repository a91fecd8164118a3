/**
 * A REAL PostgreSQL server for tests: a private cluster (initdb + pg_ctl, as the
 * unprivileged `postgres` user when run as root) listening only on a unix socket in a
 * temp dir, removed by `stop()`. Debian's `postgresql` is installed when absent and
 * apt-get is there (.ci/run installs it); otherwise `{skip}` says why.
 *
 *   const pg = startPostgres();            // in beforeAll
 *   if ('skip' in pg) return ctx.skip(pg.skip);
 *   pg.psql('select 1');                   // PGHOST=pg.sock, user postgres
 *   pg.stop();                             // in afterAll
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A running cluster. */
export interface Postgres {
  /** The directory of its programs (psql, createdb, dropdb). */
  bin: string;
  /** The unix socket directory (use as PGHOST). */
  sock: string;
  /** Runs `sql` in database `db` (default postgres); returns its output, trimmed. */
  psql(sql: string, db?: string): string;
  /** Stops the server and removes the cluster. */
  stop(): void;
}

/** The bin directory of the newest installed PostgreSQL, or null. */
function pgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

function ensureInstalled(): string | { skip: string } {
  let bin = pgBin();
  if (!bin && spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0) {
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null'], { stdio: 'ignore', timeout: 10 * 60_000 });
    bin = pgBin();
  }
  if (!bin) return { skip: 'PostgreSQL is not installed and could not be installed (apt-get install postgresql)' };
  if (spawnSync('id', ['postgres']).status !== 0) return { skip: 'PostgreSQL is installed but there is no postgres user to run the server as' };
  return bin;
}

const asPostgres = (argv: string[]): string[] => (process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv);

/** Installs (when needed) and starts a private cluster; see the module's comment. */
export function startPostgres(): Postgres | { skip: string } {
  const bin = ensureInstalled();
  if (typeof bin !== 'string') return bin;
  // Not under the test run's temp dir: the server runs as postgres, which must reach its
  // files, and a unix socket path must stay short (107 bytes).
  const cluster = fs.mkdtempSync(path.join(process.getuid?.() === 0 ? '/tmp' : os.tmpdir(), 'ckpt-pg-'));
  const sock = path.join(cluster, 'sock');
  const stop = (): void => {
    const [cmd, ...args] = asPostgres([path.join(bin, 'pg_ctl'), '-D', path.join(cluster, 'data'), '-m', 'immediate', '-w', 'stop']);
    spawnSync(cmd!, args, { stdio: 'ignore', cwd: cluster, timeout: 60_000 });
    fs.rmSync(cluster, { recursive: true, force: true });
  };
  try {
    fs.mkdirSync(sock);
    fs.mkdirSync(path.join(cluster, 'data'));
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', cluster]);
    const [cmd, ...args] = asPostgres([path.join(bin, 'initdb'), '-D', path.join(cluster, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    execFileSync(cmd!, args, { stdio: 'ignore', cwd: cluster });
    const [c2, ...a2] = asPostgres([path.join(bin, 'pg_ctl'), '-D', path.join(cluster, 'data'), '-l', path.join(cluster, 'log'), '-w', '-o', `-k ${sock} -c listen_addresses='' -c fsync=off`, 'start']);
    execFileSync(c2!, a2, { stdio: 'ignore', cwd: cluster, timeout: 120_000 });
  } catch (err) {
    stop();
    throw err;
  }
  const psql = (sql: string, db = 'postgres'): string => execFileSync(path.join(bin, 'psql'), ['-h', sock, '-U', 'postgres', '-d', db, '-Atc', sql], { encoding: 'utf8' }).trim();
  return { bin, sock, psql, stop };
}
