/**
 * Dependencies per attempt (`race.deps`, `--deps STRATEGY`): how each
 * attempt's worktree gets the user's ignored dependency directories
 * (`node_modules` anywhere, or `race.depsPaths`) without sharing a byte the
 * attempt could change.
 *
 * | strategy | what | an attempt writing into it |
 * |---|---|---|
 * | `auto` (default) | `reflink` where the worktrees' file system clones, else `copy` | changes only its own copy |
 * | `reflink` | `cp -a --reflink=always`: copy-on-write clones (btrfs, XFS, bcachefs, APFS-like) | changes only its own copy |
 * | `copy` | `cp -a --reflink=never`: every byte written again | changes only its own copy |
 * | `install` | the lockfile's package manager (`npm ci --prefer-offline`, pnpm, yarn, bun) in the attempt | changes only its own files |
 * | `hardlink` | `cp -al`: a hard-linked tree (what pnpm's store does) | an in-place write changes the USER's file (same inode) |
 * | `symlink` | a link to the user's directory | every write, delete and add lands in the USER's directory |
 * | `none` | nothing | — |
 *
 * `hardlink` and `symlink` are refused (`DEPS_UNSAFE`) unless
 * `--unsafe-deps` / `race.unsafeDeps` says the user accepts that; the race
 * then records a warning. Nothing makes a hard link safe: a file's mode and
 * its bytes belong to the inode both trees share (chmod in one is chmod in
 * the other), and breaking a link on write needs a file system that does it
 * (FUSE, overlayfs), which ckpt does not mount. Measured in
 * test/race-deps.test.ts and benchmarks/ (deps family).
 */
import { execFile } from 'node:child_process';
import { constants as fsc, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, opendirSync, readlinkSync, rmSync, statfsSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ignore from 'ignore';
import which from 'which';
import { CkptError } from '../core/errors.js';
import { git, splitNul } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';
import { counted } from '../core/plural.js';

const run = promisify(execFile);

/** Every strategy, in the order `--deps` lists them. */
export const DEPS_STRATEGIES = ['auto', 'reflink', 'copy', 'install', 'hardlink', 'symlink', 'none'] as const;
/** One strategy. */
export type DepsStrategy = (typeof DEPS_STRATEGIES)[number];
/** What `auto` resolves to, and every other strategy as given. */
export type ResolvedDeps = Exclude<DepsStrategy, 'auto'>;
/** The strategies through which an attempt can change the user's bytes. */
export const UNSAFE_DEPS: readonly ResolvedDeps[] = ['hardlink', 'symlink'];
/** Default `race.depsPaths`: gitignore-style patterns of the dependency directories. */
export const DEFAULT_DEPS_PATHS = ['node_modules'];

/** An install command, from the lockfile found. */
export interface DepsInstall {
  /** The lockfile it follows (repository-relative). */
  lockfile: string;
  argv: string[];
}

/** The dependencies of every attempt, decided before anything is created. */
export interface DepsPlan {
  /** As asked (`--deps`, `race.deps`, else `auto`). */
  requested: DepsStrategy;
  /** What runs. */
  strategy: ResolvedDeps;
  /** Why this strategy (auto's probe, an explicit choice). */
  reason: string;
  /** The user's ignored directories it provides, repository-relative (empty: nothing to provide). */
  dirs: string[];
  /** With `install`: the command. */
  install: DepsInstall | null;
  /** With an unsafe strategy (accepted): what it can do to the user's bytes. */
  warnings: string[];
}

/** Options of {@link planDeps}. */
export interface DepsOptions {
  strategy: DepsStrategy;
  /** gitignore-style patterns of dependency directories (default {@link DEFAULT_DEPS_PATHS}). */
  paths: string[];
  /** The user accepts a strategy that shares bytes with the attempts (`--unsafe-deps`). */
  unsafe: boolean;
  /** The parent of the attempts' worktrees (may not exist yet): where `reflink` is probed. */
  worktreeRoot: string;
  /** How many attempts get the directories (default 1): a full copy or install of each must fit on the disk. */
  attempts?: number;
}

/**
 * Decides how the attempts get their dependencies: finds the user's ignored
 * dependency directories, resolves `auto` by probing a copy-on-write clone
 * (`FICLONE`) of one of their files into the worktrees' file system, finds
 * the lockfile and its package manager for `install`. Creates nothing (the
 * probe's temporary file is removed at once).
 *
 * @throws CkptError `DEPS_UNSAFE` (`hardlink`/`symlink` without `unsafe`),
 *   `DEPS_UNAVAILABLE` (`reflink` where the file system cannot clone;
 *   `hardlink` across two file systems; `install` without a lockfile, or
 *   its package manager not on PATH; a copy or install per attempt that
 *   would not fit on the worktrees' file system).
 */
export async function planDeps(repo: Repo, o: DepsOptions): Promise<DepsPlan> {
  const dirs = await dependencyDirs(repo, o.paths);
  const requested = o.strategy;
  if ((UNSAFE_DEPS as readonly string[]).includes(requested) && !o.unsafe) {
    throw new CkptError('DEPS_UNSAFE', `--deps ${requested} lets an attempt change your own ${dirs[0] ?? 'node_modules'}: ${dangerOf(requested as ResolvedDeps)}`, {
      hint: `Use the default (--deps auto: a copy-on-write clone, else a copy), or accept the danger with --unsafe-deps (race.unsafeDeps: true). Nothing was created.`,
      data: { strategy: requested },
    });
  }
  const warnings = (UNSAFE_DEPS as readonly string[]).includes(requested) ? [`--deps ${requested} (accepted with --unsafe-deps): ${dangerOf(requested as ResolvedDeps)}`] : [];
  if (requested === 'install') {
    const install = installCommand(repo.worktree);
    await checkRoom(repo, dirs, o, 'install');
    return { requested, strategy: 'install', reason: `${install.lockfile} found: ${install.argv.join(' ')}`, dirs, install, warnings };
  }
  if (requested === 'auto' || requested === 'reflink') {
    const probe = dirs.length > 0 ? probeReflink(repo.worktree, dirs, o.worktreeRoot) : { ok: false, why: 'nothing to clone' };
    if (requested === 'reflink' && !probe.ok && dirs.length > 0) {
      throw new CkptError('DEPS_UNAVAILABLE', `--deps reflink: the worktrees' file system cannot clone files from your checkout (${probe.why})`, {
        hint: 'Clones need one file system with reflinks (btrfs, XFS, bcachefs) holding both your checkout and race.worktreeDir. Use --deps auto (a plain copy here) or --deps install.',
        data: { strategy: requested },
      });
    }
    if (probe.ok) return { requested, strategy: 'reflink', reason: 'the worktrees\' file system clones files (copy-on-write)', dirs, install: null, warnings };
    await checkRoom(repo, dirs, o, 'copy');
    return { requested, strategy: 'copy', reason: `no copy-on-write clone here (${probe.why}): a full copy`, dirs, install: null, warnings };
  }
  if (requested === 'hardlink' && dirs.length > 0) {
    let parent = path.resolve(o.worktreeRoot);
    while (!existsSync(parent)) parent = path.dirname(parent);
    if (statSync(parent).dev !== statSync(path.join(repo.worktree, dirs[0]!)).dev) {
      throw new CkptError('DEPS_UNAVAILABLE', '--deps hardlink: your checkout and the worktrees are on two file systems, and hard links cannot cross them', { hint: 'Put race.worktreeDir on the file system of your checkout, or use --deps auto.', data: { strategy: requested } });
    }
  }
  if (requested === 'copy') await checkRoom(repo, dirs, o, 'copy');
  const reason = { copy: 'asked: a full copy', hardlink: 'asked, with --unsafe-deps', symlink: 'asked, with --unsafe-deps', none: 'asked: no dependencies' }[requested];
  return { requested, strategy: requested, reason, dirs, install: null, warnings };
}

/**
 * Refuses a copy (or install) of `dirs` per attempt that would not fit on the
 * worktrees' file system with some room to spare (5% of it, at most 512 MiB):
 * a disk filled by a race makes the user's own editor and tools fail to save.
 * What a copy takes is what the directories take now (`du`: allocated blocks).
 *
 * @throws CkptError `DEPS_UNAVAILABLE` with both sizes in bytes in `data`.
 */
async function checkRoom(repo: Repo, dirs: string[], o: DepsOptions, what: 'copy' | 'install'): Promise<void> {
  if (dirs.length === 0) return;
  const attempts = o.attempts ?? 1;
  const { stdout } = await run('du', ['-s', '-B1', '-D', '--', ...dirs.map((d) => path.join(repo.worktree, d))], { maxBuffer: 1 << 20 });
  const each = stdout.split('\n').reduce((sum, line) => sum + (Number(line.split('\t')[0]) || 0), 0);
  let parent = path.resolve(o.worktreeRoot);
  while (!existsSync(parent)) parent = path.dirname(parent);
  const st = statfsSync(parent);
  const free = st.bavail * st.bsize;
  const spare = Math.min(512 * 2 ** 20, 0.05 * st.blocks * st.bsize);
  const need = each * attempts;
  if (need + spare > free) {
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    throw new CkptError('DEPS_UNAVAILABLE', `--deps ${what}: ${counted(attempts, 'attempt')} × ${mib(each)} of ${dirs.join(', ')} need ${mib(need)}, and the worktrees' file system has ${mib(free)} free (${mib(spare)} kept spare)`, {
      hint: 'Free some space, put race.worktreeDir on a file system with clones (btrfs, XFS: --deps auto clones there) or more room, run fewer attempts, or --deps none. Nothing was created.',
      data: { needBytes: need, freeBytes: free, spareBytes: spare },
    });
  }
}

/** What an unsafe strategy can do to the user's bytes. */
function dangerOf(s: ResolvedDeps): string {
  return s === 'hardlink'
    ? 'its files are hard links to yours (one inode): a write into one in place (an editor saving in place, `>>`, patch-package) changes your file too; only replacing a file (rename) or deleting it leaves yours alone'
    : 'it is a link to your directory: every file the attempt writes, deletes or adds there is written, deleted or added in yours';
}

/**
 * The user's ignored paths matching `patterns` (gitignore style), as git
 * lists them with `--directory` (a directory is one entry; a symlink to one
 * too): repository-relative, no trailing slash, sorted.
 */
export async function dependencyDirs(repo: Repo, patterns: string[]): Promise<string[]> {
  if (patterns.length === 0) return [];
  const ig = ignore().add(patterns);
  const { stdout } = await git(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], { cwd: repo.worktree, env: realEnv(repo) });
  const out: string[] = [];
  for (const raw of splitNul(stdout)) {
    const rel = raw.toString('utf8');
    const clean = rel.replace(/\/$/, '');
    if (ig.ignores(rel) || ig.ignores(clean) || ig.ignores(clean + '/')) out.push(clean);
  }
  return out.sort();
}

/** Whether one of the user's files in `dirs` can be cloned (`FICLONE`) into the file system of `root`. */
function probeReflink(worktree: string, dirs: string[], root: string): { ok: boolean; why: string } {
  let file: string | null = null;
  for (const d of dirs) {
    file = firstRegularFile(path.join(worktree, d));
    if (file) break;
  }
  if (!file) return { ok: false, why: 'no regular file to clone' };
  let parent = path.resolve(root);
  while (!existsSync(parent)) parent = path.dirname(parent);
  let tmp: string | null = null;
  try {
    tmp = mkdtempSync(path.join(parent, '.ckpt-reflink-probe-'));
    copyFileSync(file, path.join(tmp, 'probe'), fsc.COPYFILE_FICLONE_FORCE);
    return { ok: true, why: '' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, why: e.code === 'EXDEV' ? 'another file system than your checkout' : e.code === 'ENOTSUP' || e.code === 'EOPNOTSUPP' || e.code === 'ENOSYS' ? 'the file system has no reflinks' : `${e.code ?? 'error'}: ${e.message}` };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The first regular file under `dir` (following `dir` itself if it is a link), depth first, or null. */
function firstRegularFile(dir: string): string | null {
  const stack = [dir];
  let seen = 0;
  while (stack.length > 0 && seen < 10_000) {
    const d = stack.pop()!;
    let h;
    try {
      if (!statSync(d).isDirectory()) return statSync(d).isFile() ? d : null;
      h = opendirSync(d);
    } catch {
      continue;
    }
    try {
      for (let e = h.readSync(); e; e = h.readSync()) {
        seen++;
        const p = path.join(d, e.name);
        if (e.isFile()) return p;
        if (e.isDirectory()) stack.push(p);
      }
    } finally {
      h.closeSync();
    }
  }
  return null;
}

/** Lockfiles and the command that installs exactly what each pins, first match wins. */
const LOCKFILES: { file: string; argv: (worktree: string) => string[] }[] = [
  { file: 'package-lock.json', argv: () => ['npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund'] },
  { file: 'npm-shrinkwrap.json', argv: () => ['npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund'] },
  { file: 'pnpm-lock.yaml', argv: () => ['pnpm', 'install', '--frozen-lockfile', '--prefer-offline'] },
  // Yarn 2+ (a .yarnrc.yml) says --immutable; Yarn 1 says --frozen-lockfile.
  { file: 'yarn.lock', argv: (w) => (existsSync(path.join(w, '.yarnrc.yml')) ? ['yarn', 'install', '--immutable'] : ['yarn', 'install', '--frozen-lockfile', '--prefer-offline']) },
  { file: 'bun.lock', argv: () => ['bun', 'install', '--frozen-lockfile'] },
  { file: 'bun.lockb', argv: () => ['bun', 'install', '--frozen-lockfile'] },
];

/**
 * The install command of the checkout's lockfile (at its root).
 *
 * @throws CkptError `DEPS_UNAVAILABLE`: no lockfile, or its package manager is not on PATH.
 */
export function installCommand(worktree: string): DepsInstall {
  const found = LOCKFILES.find((l) => existsSync(path.join(worktree, l.file)));
  if (!found) throw new CkptError('DEPS_UNAVAILABLE', '--deps install: no lockfile at the root of your checkout', { hint: `Looked for ${LOCKFILES.map((l) => l.file).join(', ')}. Without one an install is not reproducible; use --deps auto, or --setup "npm install".` });
  const argv = found.argv(worktree);
  if (which.sync(argv[0]!, { nothrow: true }) === null) throw new CkptError('DEPS_UNAVAILABLE', `--deps install: ${argv[0]} (for ${found.file}) is not on PATH`, { hint: `Install ${argv[0]}, or use --deps auto.`, data: { lockfile: found.file } });
  return { lockfile: found.file, argv };
}

/** What {@link provideDeps} did. */
export interface DepsProvided {
  /** The repository-relative directories provided. */
  dirs: string[];
  /** Links inside them that pointed into the user's checkout by absolute path, now pointing at the same place in the attempt (repository-relative). */
  retargeted: string[];
  /** Links inside them to absolute places outside the checkout, through which the attempt can write there. */
  warnings: string[];
}

/**
 * Puts the dependency directories of `plan` into the attempt worktree `dir`
 * (all but `install`, which the attempt runs as a command). A directory the
 * worktree already has (tracked there) is left alone. A user's directory that
 * is a symlink is copied as what it points to (a copy of the link would
 * share the bytes). Links inside are kept, except that an absolute link into
 * the user's checkout (a workspace package linked by absolute path) is
 * pointed at the same place in the attempt, so nothing written through it
 * reaches the user's files; an absolute link elsewhere is reported.
 *
 * @throws CkptError `FS_FAILED` when `cp` or the link fails (the message holds cp's error).
 */
export async function provideDeps(repo: Repo, dir: string, plan: DepsPlan): Promise<DepsProvided> {
  const out: DepsProvided = { dirs: [], retargeted: [], warnings: [] };
  if (plan.strategy === 'none' || plan.strategy === 'install') return out;
  for (const rel of plan.dirs) {
    const src = path.join(repo.worktree, rel);
    const dest = path.join(dir, rel);
    if (existsSync(dest) || !existsSync(src)) continue;
    mkdirSync(path.dirname(dest), { recursive: true });
    try {
      if (plan.strategy === 'symlink') {
        symlinkSync(src, dest);
      } else {
        const how = plan.strategy === 'reflink' ? ['-a', '--reflink=always'] : plan.strategy === 'copy' ? ['-a', '--reflink=never'] : ['-a', '-l'];
        // -H: a symlinked directory is copied as what it points to; links inside stay links.
        await run('cp', [...how, ...(lstatSync(src).isSymbolicLink() ? ['-H'] : []), '--', src, dest], { maxBuffer: 1 << 20 });
        await fixAbsoluteLinks(repo, dir, rel, out);
      }
    } catch (err) {
      rmSync(dest, { recursive: true, force: true });
      const e = err as { stderr?: string; message: string };
      throw new CkptError('FS_FAILED', `${plan.strategy} of ${rel} into the attempt failed: ${(e.stderr || e.message).trim()}`, { hint: 'Check the free space of race.worktreeDir; --deps copy or --deps none avoid clones.', cause: err });
    }
    out.dirs.push(rel);
  }
  return out;
}

/** The absolute links under the attempt's copy of `rel`: into the checkout → retargeted into the attempt; elsewhere → a warning. */
async function fixAbsoluteLinks(repo: Repo, dir: string, rel: string, out: DepsProvided): Promise<void> {
  const { stdout } = await run('find', [path.join(dir, rel), '-type', 'l', '-lname', '/*', '-print0'], { maxBuffer: 64 << 20, encoding: 'buffer' });
  for (const raw of splitNul(stdout as unknown as Buffer)) {
    const link = raw.toString('utf8');
    const target = readlinkSync(link);
    const where = path.relative(dir, link);
    if (target === repo.worktree || target.startsWith(repo.worktree + path.sep)) {
      unlinkSync(link);
      symlinkSync(path.join(dir, path.relative(repo.worktree, target)), link);
      out.retargeted.push(where);
    } else {
      out.warnings.push(`${where} is a link to ${target}, outside your checkout: what the attempt writes through it lands there`);
    }
  }
}
