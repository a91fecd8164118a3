/**
 * Dependencies per attempt (`race --deps`): for every strategy allowed by
 * default, an attempt that writes INTO its node_modules (a file changed in
 * place, one deleted, one added) leaves the user's node_modules byte-identical
 * (sha256 of every file). The unsafe ones (hardlink, symlink, race.symlink)
 * are refused without --unsafe-deps, and with it the test shows the danger
 * they carry. Real npm (a local tarball dependency, offline), real `cp`, and
 * for `reflink` a real XFS file system on a loop device where this machine
 * allows one (root, mkfs.xfs); otherwise that case is skipped with the reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CkptError } from '../src/core/errors.js';
import type { DepsStrategy } from '../src/race/deps.js';
import { planRace } from '../src/race/plan.js';
import { runRace } from '../src/race/run.js';
import type { RaceRecord } from '../src/race/types.js';
import { hashedPicture } from './support/files.js';
import { CLI, git, tempDir, write } from './support/repo.js';

const RACE = path.join(path.dirname(CLI), 'race.js');

/** The agent: writes into its dependencies in every way (in place, delete, add), in its own worktree. */
const WRITER = [
  'set -e',
  'printf "tampered\\n" >> node_modules/dep/index.js',
  'rm node_modules/dep/other.js',
  'echo new > node_modules/dep/new.js',
  'if [ -d packages/a/node_modules ]; then printf "tampered\\n" >> packages/a/node_modules/x/i.js; fi',
  // Through a workspace link that names the user's checkout by absolute path.
  'if [ -e node_modules/linked-src ]; then echo through > node_modules/linked-src/through.txt; fi',
].join('\n');

let template = '';
let npmCache = '';
const saved: Record<string, string | undefined> = {};

/** A committed app whose dependency is a local tarball, installed by npm (offline); a nested node_modules and a .bin link too. */
function makeTemplate(): string {
  const root = tempDir('ckpt-deps-tpl-');
  const pkg = path.join(root, 'pkgsrc');
  write(pkg, { 'package.json': JSON.stringify({ name: 'dep', version: '1.0.0', main: 'index.js', bin: { dep: 'index.js' } }), 'index.js': '#!/usr/bin/env node\nmodule.exports = 1;\n', 'other.js': 'module.exports = 2;\n' });
  const app = path.join(root, 'app');
  fs.mkdirSync(path.join(app, 'vendor'), { recursive: true });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', path.join(app, 'vendor')], { cwd: pkg, stdio: 'ignore' });
  write(app, {
    'package.json': JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { dep: 'file:vendor/dep-1.0.0.tgz' } }, null, 2),
    '.gitignore': 'node_modules/\n',
    'src/app.js': 'export const f = () => 1;\n',
  });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'ignore' });
  git(app, 'init', '-q');
  git(app, 'add', '-A');
  git(app, 'commit', '-qm', 'app');
  write(app, { 'packages/a/node_modules/x/i.js': 'nested\n' });
  if (!fs.existsSync(path.join(app, 'node_modules/.bin/dep'))) throw new Error('npm did not link node_modules/.bin/dep');
  return app;
}

/** A copy of the template repository under `parent`, its race config naming the writer; returns it and its worktree dir. */
function repoIn(parent: string, race: Record<string, unknown> = {}): { dir: string; worktrees: string } {
  const dir = path.join(fs.mkdtempSync(path.join(parent, 'repo-')), 'app');
  execFileSync('cp', ['-a', '--', template, dir]);
  // A workspace package linked by absolute path into the checkout (npm and pnpm write relative links; some tools do not).
  fs.symlinkSync(path.join(dir, 'src'), path.join(dir, 'node_modules/linked-src'));
  const worktrees = fs.mkdtempSync(path.join(parent, 'wt-'));
  write(dir, { '.ckpt/config.json': JSON.stringify({ agents: { writer: { command: ['sh', '-c', WRITER, '{task}'] } }, race: { worktreeDir: worktrees, ...race } }) });
  return { dir, worktrees };
}

/** The user's files (node_modules included), sha256 of each, `.git` aside. */
const userFiles = (dir: string): ReturnType<typeof hashedPicture> => hashedPicture(dir);

async function raceWith(dir: string, deps: DepsStrategy | null, extra: { unsafeDeps?: boolean } = {}): Promise<RaceRecord> {
  const plan = await planRace({ cwd: dir, task: 'write into the dependencies', models: 'writer', ckptBin: CLI, deps, ...extra });
  return runRace(plan, { ckptBin: CLI });
}

/** Asserts the attempt really wrote into its own dependencies. */
function expectWritten(a: RaceRecord['attempts'][number], nested: boolean): void {
  expect(a.state, `${a.error}\n${fs.existsSync(a.log) ? fs.readFileSync(a.log, 'utf8') : ''}`).toBe('done');
  expect(fs.readFileSync(path.join(a.dir, 'node_modules/dep/index.js'), 'utf8')).toBe('#!/usr/bin/env node\nmodule.exports = 1;\ntampered\n');
  expect(fs.existsSync(path.join(a.dir, 'node_modules/dep/other.js'))).toBe(false);
  expect(fs.readFileSync(path.join(a.dir, 'node_modules/dep/new.js'), 'utf8')).toBe('new\n');
  if (nested) expect(fs.readFileSync(path.join(a.dir, 'packages/a/node_modules/x/i.js'), 'utf8')).toBe('nested\ntampered\n');
  // The absolute link leads into the attempt's own checkout, never the user's.
  if (nested) expect(fs.readlinkSync(path.join(a.dir, 'node_modules/linked-src'))).toBe(path.join(a.dir, 'src'));
}

beforeAll(() => {
  // npm's cache of this test only (removed with the other temp dirs), never the machine's.
  npmCache = tempDir('ckpt-deps-npm-');
  for (const k of ['npm_config_cache', 'npm_config_update_notifier', 'npm_config_audit', 'npm_config_fund']) saved[k] = process.env[k];
  Object.assign(process.env, { npm_config_cache: npmCache, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' });
  template = makeTemplate();
}, 180_000);

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('race --deps: the user\'s node_modules never changes, whatever an attempt writes into its own', () => {
  for (const strategy of ['auto', 'copy', 'install', null] as const) {
    it(`${strategy ?? 'the default'}: the attempt changes, deletes and adds files in its node_modules; the user's stay byte-identical`, async () => {
      const { dir } = repoIn(tempDir('ckpt-deps-'));
      const before = userFiles(dir);
      const race = await raceWith(dir, strategy);
      const a = race.attempts[0]!;
      expect(race.deps).toMatchObject({ requested: strategy ?? 'auto', dirs: ['node_modules', 'packages/a/node_modules'] });
      // ext4 or tmpfs under the test's temp dir: no clones, so auto is a copy there (the XFS case is below).
      if (strategy !== 'install') expect(race.deps!.strategy).toBe(fs.existsSync('/proc') && canReflinkIn(os.tmpdir()) ? 'reflink' : 'copy');
      else expect(race.deps).toMatchObject({ strategy: 'install', install: ['npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund'] });
      expectWritten(a, strategy !== 'install');
      if (strategy !== 'install') {
        // A copy: its own inodes, the .bin link kept as a link.
        expect(fs.statSync(path.join(a.dir, 'node_modules/dep/package.json')).ino).not.toBe(fs.statSync(path.join(dir, 'node_modules/dep/package.json')).ino);
        expect(fs.readlinkSync(path.join(a.dir, 'node_modules/.bin/dep'))).toBe(fs.readlinkSync(path.join(dir, 'node_modules/.bin/dep')));
      } else {
        // npm ci made a fresh tree from the lockfile; the nested directory is not the lockfile's.
        expect(fs.existsSync(path.join(a.dir, 'packages/a/node_modules'))).toBe(false);
      }
      expect(userFiles(dir)).toEqual(before);
      expect(race.warnings).toEqual([]);
    }, 180_000);
  }

  it('a link inside node_modules to an absolute place outside the checkout is reported: the attempt can write there', async () => {
    const { dir } = repoIn(tempDir('ckpt-deps-'));
    const elsewhere = tempDir('ckpt-deps-linked-');
    fs.symlinkSync(elsewhere, path.join(dir, 'node_modules/global-link'));
    const race = await raceWith(dir, 'copy');
    expect(race.warnings).toEqual([`writer: node_modules/global-link is a link to ${elsewhere}, outside your checkout: what the attempt writes through it lands there`]);
    expect(fs.readlinkSync(path.join(race.attempts[0]!.dir, 'node_modules/global-link'))).toBe(elsewhere);
  }, 120_000);

  it('none: no dependencies in the attempt (its writer fails), the user\'s untouched', async () => {
    const { dir } = repoIn(tempDir('ckpt-deps-'));
    const before = userFiles(dir);
    const race = await raceWith(dir, 'none');
    const a = race.attempts[0]!;
    expect(race.deps).toMatchObject({ requested: 'none', strategy: 'none' });
    expect(fs.existsSync(path.join(a.dir, 'node_modules'))).toBe(false);
    expect(a.state).toBe('failed');
    expect(userFiles(dir)).toEqual(before);
  }, 120_000);

  it('reflink on a real XFS file system: copy-on-write clones; the attempt\'s writes stay its own', async (ctx) => {
    const xfs = mountXfs();
    if (typeof xfs === 'object') return ctx.skip(xfs.skip);
    try {
      const { dir } = repoIn(xfs);
      const before = userFiles(dir);
      // auto finds the clones by trying one.
      const dry = await planRace({ cwd: dir, task: 't', models: 'writer', ckptBin: CLI });
      expect(dry.deps).toMatchObject({ requested: 'auto', strategy: 'reflink' });
      const race = await raceWith(dir, 'reflink');
      expect(race.deps).toMatchObject({ requested: 'reflink', strategy: 'reflink' });
      expectWritten(race.attempts[0]!, true);
      expect(userFiles(dir)).toEqual(before);
      // A checkout on another file system than the worktrees: no clone, no hard link; refused before anything is made.
      const { dir: other } = repoIn(tempDir('ckpt-deps-'));
      const wt = fs.mkdtempSync(path.join(xfs, 'wt-other-'));
      await expect(planRace({ cwd: other, task: 't', models: 'writer', ckptBin: CLI, worktreeDir: wt, deps: 'reflink' })).rejects.toMatchObject({ code: 'DEPS_UNAVAILABLE', message: expect.stringMatching(/another file system/) });
      await expect(planRace({ cwd: other, task: 't', models: 'writer', ckptBin: CLI, worktreeDir: wt, deps: 'hardlink', unsafeDeps: true })).rejects.toMatchObject({ code: 'DEPS_UNAVAILABLE', message: expect.stringMatching(/two file systems/) });
      expect((await planRace({ cwd: other, task: 't', models: 'writer', ckptBin: CLI, worktreeDir: wt })).deps.strategy).toBe('copy');
      expect(fs.readdirSync(wt)).toEqual([]);
    } finally {
      unmountLoop(xfs);
    }
  }, 180_000);

  it('reflink where the file system cannot clone: DEPS_UNAVAILABLE before anything is created', async (ctx) => {
    if (canReflinkIn(os.tmpdir())) return ctx.skip('the temp dir\'s file system clones files');
    const { dir, worktrees } = repoIn(tempDir('ckpt-deps-'));
    await expect(planRace({ cwd: dir, task: 't', models: 'writer', ckptBin: CLI, deps: 'reflink' })).rejects.toMatchObject({ code: 'DEPS_UNAVAILABLE' });
    expect(fs.readdirSync(worktrees)).toEqual([]);
    expect(fs.readdirSync(path.dirname(worktrees)).filter((n) => n.startsWith('.ckpt-reflink-probe-'))).toEqual([]);
  });
});

describe('race --deps: copies that would fill the disk', () => {
  it('a copy per attempt that would not fit (with room to spare) is DEPS_UNAVAILABLE before anything is made; one that fits runs', async (ctx) => {
    const small = mountLoop('ext4', 64);
    if (typeof small === 'object') return ctx.skip(small.skip);
    try {
      const { dir, worktrees } = repoIn(small);
      // 12 MiB that no file system compresses or dedups.
      fs.writeFileSync(path.join(dir, 'node_modules/dep/big.bin'), Buffer.from(Array.from({ length: 12 * 1024 * 1024 }, (_, i) => (i * 2654435761) >>> 24)));
      const err = await planRace({ cwd: dir, task: 't', models: 'writer:6', ckptBin: CLI }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DEPS_UNAVAILABLE', message: expect.stringMatching(/^--deps copy: 6 attempts × 1[23]\.\d MiB of node_modules, packages\/a\/node_modules need /) });
      expect((err as CkptError).data).toMatchObject({ needBytes: expect.any(Number), freeBytes: expect.any(Number) });
      expect(fs.readdirSync(worktrees)).toEqual([]);
      const before = userFiles(dir);
      const race = await raceWith(dir, 'copy');
      expectWritten(race.attempts[0]!, true);
      expect(userFiles(dir)).toEqual(before);
    } finally {
      unmountLoop(small);
    }
  }, 180_000);
});

describe('race --deps hardlink / symlink: refused unless --unsafe-deps, and why', () => {
  it('refused (DEPS_UNSAFE), nothing created: --deps hardlink, --deps symlink, race.deps, race.symlink', async () => {
    const { dir, worktrees } = repoIn(tempDir('ckpt-deps-'));
    for (const deps of ['hardlink', 'symlink'] as const) {
      const err = await planRace({ cwd: dir, task: 't', models: 'writer', ckptBin: CLI, deps }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CkptError);
      expect(err).toMatchObject({ code: 'DEPS_UNSAFE' });
      expect((err as CkptError).hint).toContain('--unsafe-deps');
    }
    for (const race of [{ deps: 'symlink' }, { symlink: ['node_modules'] }]) {
      const { dir: d2 } = repoIn(tempDir('ckpt-deps-'), race);
      await expect(planRace({ cwd: d2, task: 't', models: 'writer', ckptBin: CLI })).rejects.toMatchObject({ code: 'DEPS_UNSAFE' });
    }
    // The CLI: exit 2, the code in the JSON error, nothing created.
    const r = spawnSync(process.execPath, [RACE, 't', '--models', 'writer', '--deps', 'hardlink', '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status, r.stderr).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('DEPS_UNSAFE');
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });

  it('hardlink with --unsafe-deps: warned; an in-place write reaches the user\'s file (one inode), a delete or an add does not', async () => {
    const { dir } = repoIn(tempDir('ckpt-deps-'));
    const race = await raceWith(dir, 'hardlink', { unsafeDeps: true });
    const a = race.attempts[0]!;
    expectWritten(a, true);
    expect(race.warnings.some((w) => w.startsWith('--deps hardlink (accepted with --unsafe-deps): its files are hard links to yours'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'node_modules/dep/index.js'), 'utf8')).toContain('tampered');
    expect(fs.existsSync(path.join(dir, 'node_modules/dep/other.js'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'node_modules/dep/new.js'))).toBe(false);
    // race show names the strategy and repeats the warning.
    const show = spawnSync(process.execPath, [RACE, 'show'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(show.stdout).toContain('deps: hardlink (asked, with --unsafe-deps): node_modules, packages/a/node_modules');
    expect(show.stderr).toContain('--deps hardlink (accepted with --unsafe-deps)');
  }, 120_000);

  it('symlink with --unsafe-deps: warned; every write, delete and add lands in the user\'s node_modules', async () => {
    const { dir } = repoIn(tempDir('ckpt-deps-'));
    const race = await raceWith(dir, 'symlink', { unsafeDeps: true });
    expectWritten(race.attempts[0]!, false);
    expect(race.warnings.some((w) => w.startsWith('--deps symlink (accepted with --unsafe-deps)'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'node_modules/dep/index.js'), 'utf8')).toContain('tampered');
    expect(fs.existsSync(path.join(dir, 'node_modules/dep/other.js'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'node_modules/dep/new.js'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'src/through.txt'), 'utf8')).toBe('through\n');
  }, 120_000);
});

describe('race --dry-run shows the dependencies', () => {
  it('the strategy, what auto chose and why, the directories; a bad --deps is a usage error', () => {
    const { dir, worktrees } = repoIn(tempDir('ckpt-deps-'));
    const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [RACE, 't', '--models', 'writer', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const j = cli(['--dry-run', '--json']);
    expect(j.status, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).deps).toMatchObject({ requested: 'auto', dirs: ['node_modules', 'packages/a/node_modules'] });
    const h = cli(['--dry-run', '--deps', 'install']);
    expect(h.stdout).toContain('deps: install (package-lock.json found: npm ci --prefer-offline --no-audit --no-fund); directories: node_modules, packages/a/node_modules');
    const u = cli(['--dry-run', '--deps', 'symlink', '--unsafe-deps']);
    expect(u.status).toBe(0);
    expect(u.stderr).toContain('--deps symlink (accepted with --unsafe-deps)');
    const bad = cli(['--dry-run', '--deps', 'magic']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/deps/);
    expect(fs.readdirSync(worktrees)).toEqual([]);
  });
});

/** Whether files in `dir`'s file system can be cloned (FICLONE). */
function canReflinkIn(dir: string): boolean {
  const d = fs.mkdtempSync(path.join(dir, 'ckpt-reflink-'));
  try {
    fs.writeFileSync(path.join(d, 'a'), 'a');
    fs.copyFileSync(path.join(d, 'a'), path.join(d, 'b'), fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
}

/** A fresh XFS file system (300 MiB sparse image, loop device) mounted on a temp dir, or why not. */
function mountXfs(): string | { skip: string } {
  return mountLoop('xfs', 320);
}

/** A fresh file system of `type` in a sparse image of `mib` MiB on a loop device, mounted on a temp dir, or why not. */
function mountLoop(type: 'xfs' | 'ext4', mib: number): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: `mounting an ${type} loop image needs root` };
  if (spawnSync('sh', ['-c', `command -v mkfs.${type}`], { encoding: 'utf8' }).status !== 0) return { skip: `mkfs.${type} is not installed (${type === 'xfs' ? 'xfsprogs' : 'e2fsprogs'})` };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `ckpt-${type}-`));
  const img = path.join(base, 'img');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  fs.writeFileSync(img, '');
  fs.truncateSync(img, mib * 1024 * 1024);
  const mk = spawnSync(`mkfs.${type}`, ['-q', ...(type === 'ext4' ? ['-F'] : []), img], { encoding: 'utf8' });
  const mo = mk.status === 0 ? spawnSync('mount', ['-o', 'loop', img, mnt], { encoding: 'utf8' }) : mk;
  if (mo.status !== 0) {
    fs.rmSync(base, { recursive: true, force: true });
    return { skip: `could not make and mount an ${type} loop image here: ${(mo.stderr || '').trim()}` };
  }
  return mnt;
}

function unmountLoop(mnt: string): void {
  const r = spawnSync('umount', [mnt], { encoding: 'utf8' });
  if (r.status !== 0) spawnSync('umount', ['-l', mnt]);
  fs.rmSync(path.dirname(mnt), { recursive: true, force: true });
}
