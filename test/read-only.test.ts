/**
 * Commands that only read write nothing: in a repository without ckpt data
 * they leave `.git` as it was (every entry's path, size and mtime), and they
 * work when `.git` cannot be written at all. A reader that created ckpt's
 * store, a lock file or a marker would show here, on either side.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepo } from '../src/index.js';
import { listWorktreesReading } from '../src/git/worktree-admin.js';
import { runCli, type CliResult } from './support/cli.js';
import { makeFakeRace } from './support/fake-race.js';
import { CLI, git, makeRepo, storeDir } from './support/repo.js';

/**
 * The read-only commands, each with --json where it has one (its error code
 * is then on stdout), and its exit status in a repository with no ckpt data:
 * 2 for nothing to diff or show, 1 for no daemon.
 */
const READERS: [string[], number][] = [
  [['log', '--json'], 0],
  [['log'], 0],
  [['diff', '--json'], 2],
  [['diff', '1', '--json'], 2],
  [['status', '--json'], 0],
  [['status'], 0],
  [['agents', '--json'], 0],
  [['agents'], 0],
  [['daemon', 'status', '--json'], 1],
  [['race', 'list', '--json'], 0],
  [['race', 'show', '--json'], 2],
  [['race', 'diff', '--json'], 2],
];

/** Every entry under `dir` (itself included) as `path size mtime`, sorted. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    out.push(`${path.relative(dir, p) || '.'} ${st.isDirectory() ? 'd' : st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dir);
  return out.sort();
}


/** What a run says, without what differs between two runs of the same command (ages, pids). */
function outcome(r: CliResult): { code: number; error: string | null } {
  let error: string | null = null;
  try {
    error = (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code ?? null;
  } catch {
    error = null;
  }
  return { code: r.code, error };
}

// No daemon: a reader must not depend on one, and none may start and write the repository's files.
const ckpt = (dir: string, args: string[]): CliResult => runCli(dir, args, { env: { CKPT_NO_DAEMON: '1' } });

const isRoot = process.getuid?.() === 0;
const asNobody = isRoot && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0;

/**
 * Makes `dir`'s .git read-only (chmod -R a-w) and runs ckpt there as a user
 * who cannot write it: this user, or nobody (owning the files) when root,
 * whom no mode bit stops. `restore` gives the files back.
 */
function readOnly(dir: string): { run: (args: string[]) => CliResult; restore: () => void } {
  const gitDir = path.join(dir, '.git');
  let run = (args: string[]): CliResult => ckpt(dir, args);
  if (isRoot) {
    for (let up = path.dirname(dir); up !== '/'; up = path.dirname(up)) fs.chmodSync(up, fs.statSync(up).mode | 0o111);
    spawnSync('chown', ['-R', 'nobody', dir]);
    run = (args) => {
      const r = spawnSync('runuser', ['-u', 'nobody', '--', 'env', 'CKPT_NO_DAEMON=1', `HOME=${dir}`, process.execPath, CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
  }
  expect(spawnSync('chmod', ['-R', 'a-w', gitDir]).status).toBe(0);
  return {
    run,
    restore: () => {
      spawnSync('chmod', ['-R', 'u+w', gitDir]);
      if (isRoot) spawnSync('chown', ['-R', 'root', dir]);
    },
  };
}

describe('read-only commands', () => {
  it('leave .git byte-identical in a repository with no ckpt data (no store, lock or marker made)', () => {
    const dir = makeRepo();
    const gitDir = path.join(dir, '.git');
    for (const [args, status] of READERS) {
      const before = listing(gitDir);
      const r = ckpt(dir, args);
      expect(r.code, `ckpt ${args.join(' ')}: ${r.stderr}`).toBe(status);
      expect(r.stderr, `ckpt ${args.join(' ')}`).not.toMatch(/INTERNAL|FS_FAILED|LOCKED/);
      expect(listing(gitDir), `ckpt ${args.join(' ')} wrote into .git`).toEqual(before);
    }
    expect(fs.existsSync(path.join(gitDir, 'ckpt'))).toBe(false);
  }, 120_000);

  // Root writes through any mode bits, so as root the commands run as nobody (owning the files, which it cannot write).
  it.skipIf(isRoot && !asNobody)('work with .git read-only, answering as they do with it writable', () => {
    const dir = makeRepo();
    const gitDir = path.join(dir, '.git');
    const expected = READERS.map(([args]) => outcome(ckpt(dir, args)));
    expect(expected.map((e) => e.code)).toEqual(READERS.map(([, status]) => status));
    const ro = readOnly(dir);
    try {
      const before = listing(gitDir);
      const got = READERS.map(([args]) => outcome(ro.run(args)));
      expect(got).toEqual(expected);
      expect(listing(gitDir)).toEqual(before);
    } finally {
      ro.restore();
    }
  }, 120_000);

  it.skipIf(isRoot && !asNobody)('read snapshots from a read-only .git whose store has no migration marker yet (a hint, not written then)', () => {
    const dir = makeRepo();
    expect(ckpt(dir, ['snap', '-m', 'one']).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'b.txt'), 'b\n');
    expect(ckpt(dir, ['snap', '-m', 'two']).code).toBe(0);
    fs.rmSync(path.join(storeDir(dir), 'ckpt-migrated'), { force: true });
    const ro = readOnly(dir);
    try {
      const log = ro.run(['log', '--json']);
      expect(log.code, log.stdout + log.stderr).toBe(0);
      expect((JSON.parse(log.stdout) as { steps: { message: string }[] }).steps.map((s) => s.message)).toEqual(['two', 'one']);
      const d = ro.run(['diff', '1', '2']);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toContain('b.txt');
      const st = ro.run(['status', '--json']);
      expect(st.code, st.stderr).toBe(0);
      expect((JSON.parse(st.stdout) as { store: { repairs: string[] } }).store.repairs).toEqual([]);
      for (const args of [['agents', '--json'], ['race', 'list', '--json']]) {
        const r = ro.run(args);
        expect(r.code, `ckpt ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    } finally {
      ro.restore();
    }
  }, 120_000);
});

describe('read-only commands on a repository with snapshots and a race', () => {
  it('leave .git byte-identical (log, diff FROM TO, status, agents, race list/show/diff)', async () => {
    const { dir } = await makeFakeRace();
    fs.writeFileSync(path.join(dir, 'mine.txt'), 'mine\n');
    expect(ckpt(dir, ['snap', '-m', 'mine']).code).toBe(0);
    expect(ckpt(dir, ['status']).code).toBe(0); // the chains verified and recorded once: a reader's later runs find them so
    const gitDir = path.join(dir, '.git');
    const readers = [['log', '--json'], ['diff', '1', '2', '--json'], ['status', '--json'], ['agents', '--json'], ['race', 'list', '--json'], ['race', 'show', '--json'], ['race', 'diff', '--json'], ['race', 'diff', '--stat']];
    for (const args of readers) {
      const before = listing(gitDir);
      const r = ckpt(dir, args);
      expect(r.code, `ckpt ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(listing(gitDir), `ckpt ${args.join(' ')} wrote into .git`).toEqual(before);
    }
  }, 120_000);
});

describe('ckpt status on a read-only .git', () => {
  it.skipIf(isRoot && !asNobody)('reports a deleted chain it cannot restore, writing nothing; with .git writable it restores it', () => {
    const dir = makeRepo();
    expect(ckpt(dir, ['snap', '-m', 'one']).code).toBe(0);
    const ref = git(dir, '--git-dir', storeDir(dir), 'for-each-ref', '--format=%(refname)', 'refs/ckpt/wt/').trim();
    const tip = git(dir, '--git-dir', storeDir(dir), 'rev-parse', ref).trim();
    git(dir, '--git-dir', storeDir(dir), 'update-ref', '-d', ref);
    const gitDir = path.join(dir, '.git');
    const ro = readOnly(dir);
    try {
      const before = listing(gitDir);
      const r = ro.run(['status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const repairs = (JSON.parse(r.stdout) as { store: { repairs: string[] } }).store.repairs;
      expect(repairs).toEqual([`${ref}: deleted (its recorded tip is ${tip.slice(0, 12)}); not restored: ckpt cannot write here (run ckpt status where .git is writable)`]);
      expect(listing(gitDir)).toEqual(before);
    } finally {
      ro.restore();
    }
    const w = ckpt(dir, ['status', '--json']);
    expect((JSON.parse(w.stdout) as { store: { repairs: string[] } }).store.repairs[0]).toMatch(/was deleted; restored/);
    expect(git(dir, '--git-dir', storeDir(dir), 'rev-parse', ref).trim()).toBe(tip);
  }, 120_000);
});

describe('listing the worktrees without the worktree lock', () => {
  /** An entry as `git worktree add` leaves it between creating `commondir` and writing it (git then dies reading it). */
  function halfMade(dir: string, name: string): string {
    const entry = path.join(dir, '.git', 'worktrees', name);
    fs.mkdirSync(entry, { recursive: true });
    fs.writeFileSync(path.join(entry, 'gitdir'), path.join(dir, name, '.git') + '\n');
    fs.writeFileSync(path.join(entry, 'commondir'), '');
    return entry;
  }

  it('retries while an entry is half-made, and lists it once it is whole', async () => {
    const dir = makeRepo();
    const entry = halfMade(dir, 'wt1');
    expect(spawnSync('git', ['worktree', 'list', '--porcelain'], { cwd: dir, encoding: 'utf8' }).stderr).toMatch(/failed to read .*commondir/);
    const repo = await openRepo(dir);
    // The entry is made whole during the first pause: the first listing met it half-made, and only a retry can list it.
    const pauses: number[] = [];
    const out = await listWorktreesReading(repo, false, async (ms) => {
      pauses.push(ms);
      if (pauses.length === 2) {
        fs.writeFileSync(path.join(entry, 'commondir'), '../..\n');
        fs.writeFileSync(path.join(entry, 'HEAD'), git(dir, 'rev-parse', 'HEAD'));
      }
    });
    expect(pauses.length).toBe(2);
    expect(out.stdout.toString('utf8')).toContain(`worktree ${path.join(dir, 'wt1')}\n`);
  });

  it('gives up with GIT_FAILED on an entry that stays half-made, and fails at once on another error', async () => {
    const dir = makeRepo();
    halfMade(dir, 'wt1');
    const repo = await openRepo(dir);
    await expect(listWorktreesReading(repo)).rejects.toMatchObject({ code: 'GIT_FAILED', message: expect.stringMatching(/failed to read .*commondir/) });
    const gone = { ...repo, worktree: path.join(dir, 'no-such-dir') };
    await expect(listWorktreesReading(gone)).rejects.toMatchObject({ code: 'GIT_FAILED', message: expect.stringMatching(/no such directory/) });
  });
});
