/**
 * ckpt's own store: the shadow git dir (git/shadow.ts) holds ckpt's objects
 * and its refs (`refs/ckpt/wt/<id>`), borrowing the repository's objects
 * through `objects/info/alternates`. This module moves objects across the
 * boundary, in both directions, and migrates chains an older ckpt kept in the
 * user's ref namespace:
 *
 * - {@link migrateLegacyRefs}: `refs/ckpt/*` of the user's repository move
 *   into the store on first use, their objects copied first;
 * - {@link adoptBorrowed}: objects the chains reach that no ref of the user
 *   reaches and that live only in the user's store are copied into ckpt's
 *   (the user's `git gc` could prune them once unreachable there);
 * - {@link copyToRepository}: what a commit made in the user's repository
 *   needs (`race pick --branch/--merge`) is copied into the user's store,
 *   which has no alternates pointing at ckpt's.
 *
 * Objects cross as packs (`git pack-objects` on one side, files or
 * `git index-pack` on the other); nothing is ever deleted here.
 */
import { appendFileSync, closeSync, existsSync, fsync, fsyncSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CkptError, fsFailure, isCkptError } from '../core/errors.js';
import { acquireOwnedLock, isHeld } from '../core/owned-lock.js';
import { git, gitText } from './exec.js';
import { readStoreRefFast } from './loose.js';
import { createExclusive } from './temp-pool.js';
import type { Repo } from './repo-type.js';
import { realEnv, shadowDir, shadowEnv, shadowObjectsDir } from './shadow.js';

/** Prefix of every ref ckpt writes (inside its store). */
const CKPT_REFS = 'refs/ckpt/';
/** Branches of race attempts: ckpt's own, removed by `race clean`, so they never protect what ckpt needs. */
const ATTEMPT_BRANCHES = 'refs/heads/ckpt/race/';
/** Marker written once the user's `refs/ckpt/*` have been moved into the store. */
const MIGRATED = 'ckpt-migrated';

/**
 * Makes sure ckpt's store is in use for `repo`: migrates chains an older
 * ckpt kept under `refs/ckpt/` in the user's repository (two `stat`s when
 * there is nothing to do, so the hook path pays nothing).
 *
 * @throws CkptError `LOCKED` (another process migrates for longer than 60 s), `GIT_FAILED`.
 */
export async function ensureStore(repo: Repo): Promise<void> {
  const dir = shadowDir(repo);
  const looseLegacy = existsSync(path.join(repo.commonDir, 'refs', 'ckpt'));
  if (!looseLegacy && existsSync(path.join(dir, MIGRATED))) return;
  if (!looseLegacy && !(await packedLegacy(repo))) {
    // Nothing to migrate. Creates nothing either (a refused command changes nothing):
    // the marker is written only once ckpt's store exists. It is a hint (it spares the
    // next command the look for packed refs): where it cannot be written, a read-only
    // .git, the command goes on, as a command that only reads must.
    if (existsSync(path.join(dir, 'HEAD'))) {
      try {
        writeFileSync(path.join(dir, MIGRATED), `${Date.now()}\n`);
      } catch {
        // not written: looked for again next time
      }
    }
    return;
  }
  await migrateLegacyRefs(repo);
}

/** Whether the user's repository has `refs/ckpt/*` refs that are not loose files (packed, or in a reftable). */
async function packedLegacy(repo: Repo): Promise<boolean> {
  if (existsSync(path.join(repo.commonDir, 'reftable'))) return (await refList(repo, realEnv(repo), [CKPT_REFS])).length > 0;
  try {
    return readFileSync(path.join(repo.commonDir, 'packed-refs'), 'latin1').includes(` ${CKPT_REFS}`);
  } catch {
    return false;
  }
}

/** What {@link migrateLegacyRefs} moved. */
export interface MigrationResult {
  /** Refs moved into ckpt's store, with the oid each held. */
  moved: { ref: string; oid: string }[];
  /** Refs whose name already existed in the store with another value: kept under `refs/ckpt/legacy/…` in the store. */
  keptAside: { ref: string; as: string; oid: string }[];
  /** Objects copied into ckpt's store. */
  objects: number;
}

/**
 * Moves every `refs/ckpt/*` ref of the user's repository into ckpt's store.
 * Order, so that a kill at any point loses nothing and a re-run finishes the
 * job: (1) the objects the refs reach and the user's other refs do not are
 * packed into ckpt's store; (2) each ref is created in the store (with a
 * reflog entry); (3) only then is the user's ref deleted, with its expected
 * value (a ref moved meanwhile is left for the next run). Runs under a
 * repository-wide lock (`<common>/ckpt/migrate.lock`), so concurrent
 * processes migrate once. The old refs' reflogs (chains `ckpt gc` had
 * replaced) are not carried over.
 *
 * @throws CkptError `LOCKED`, `GIT_FAILED`.
 */
export async function migrateLegacyRefs(repo: Repo): Promise<MigrationResult> {
  return withStoreLock(repo, 'migrate', async () => {
    const result: MigrationResult = { moved: [], keptAside: [], objects: 0 };
    const dir = shadowDir(repo);
    const senv = shadowEnv(repo);
    const legacy = await refList(repo, realEnv(repo), [CKPT_REFS]);
    if (legacy.length > 0) {
      const negatives = await userRefOids(repo);
      result.objects = await packInto(repo, legacy.map((r) => r.oid), negatives);
      const inStore = new Map((await refList(repo, senv, [CKPT_REFS])).map((r) => [r.ref, r.oid]));
      for (const { ref, oid } of legacy) {
        const have = inStore.get(ref);
        if (have === undefined) {
          await updateStoreRef(repo, ref, oid, null, 'ckpt: migrated from the repository');
          result.moved.push({ ref, oid });
        } else if (have === oid) {
          result.moved.push({ ref, oid }); // a run killed after creating it
        } else {
          const as = `${CKPT_REFS}legacy/${ref.slice(CKPT_REFS.length)}-${oid.slice(0, 12)}`;
          if (!(await updateStoreRef(repo, as, oid, null, 'ckpt: migrated (name taken)')) && (await storeRefValue(repo, as)) !== oid) {
            throw new CkptError('GIT_FAILED', `could not keep ${ref} aside as ${as}`, { data: { ref, as } });
          }
          result.keptAside.push({ ref, as, oid });
        }
        // The store holds it now: the user's copy goes (only if unchanged since we read it).
        await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '-d', ref, oid], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1, 128] });
      }
    }
    // Empty leftover directories of loose refs (git leaves them after update-ref -d).
    removeEmptyDirs(path.join(repo.commonDir, 'refs', 'ckpt'));
    writeFileSync(path.join(dir, MIGRATED), `${Date.now()}\n`);
    return result;
  });
}

/**
 * Creates or moves a ref of ckpt's store, compare-and-swap, with a reflog
 * entry; no hook runs. Written in process with git's own lockfile protocol
 * (refs/files-backend.c, gitrepository-layout(5)), so it interoperates with
 * any git updating the same ref: `<ref>.lock` is created with `O_EXCL` (the
 * ref's lock), the ref's value is read under it (loose file, else
 * `packed-refs`) and compared with `expected`, the new value is written into
 * the lock file and fsynced, the reflog line is appended
 * (`logs/<ref>`, created when missing, as `--create-reflog`), and the lock is
 * renamed over the ref. A killed ckpt leaves at most the lock file, which
 * the stale-lock rule below clears; the ref itself is never half-written.
 *
 * fsync, as git's `core.fsync=committed` (objects and refs): every object a
 * ref names was fsynced before the ref is written (object-writer.ts,
 * loose.ts), and the ref's new value is fsynced before the rename, so after
 * a power loss the ref holds either its old value or the new one, and never
 * names bytes that are not on disk. The reflog and the tip record
 * (snapshot/chains.ts) are not fsynced: they are the ref's history, and git
 * does not fsync its reflogs either. The directory is not fsynced after the
 * rename (git does not): on ext4 (data=ordered) the rename is committed in
 * the journal no later than any later change to the file system, so a power
 * loss cannot keep a later rollback's writes and lose the ref that records
 * what they replaced.
 *
 * The ref's lock file held by another git is waited for (up to 3000 ms);
 * one still there and older than 2000 ms was left by a process killed
 * mid-update and is removed (only ckpt writes in its store). Where the
 * store's refs are not plain files (a reftable store), or the ref name is
 * not one ckpt writes, `git update-ref` does it instead.
 *
 * @param expected the value the ref must hold now, `null` for "must not exist".
 * @returns false when the ref did not hold `expected` (nothing changed).
 * @throws CkptError `GIT_FAILED` for any other failure (`FS_FAILED` when a
 *   file of the store cannot be written).
 */
export async function updateStoreRef(repo: Repo, ref: string, next: string, expected: string | null, reason: string, opts: RefUpdateOptions = {}): Promise<boolean> {
  const lockFile = path.join(shadowDir(repo), `${ref}.lock`);
  const inProcess = SAFE_REF.test(ref) && !ref.split('/').some((c) => c.startsWith('.') || c.endsWith('.lock')) && !existsSync(path.join(shadowDir(repo), 'reftable'));
  const deadline = Date.now() + REF_LOCK_WAIT_MS;
  let cleared = false;
  for (;;) {
    let outcome: 'ok' | 'mismatch' | 'locked' | 'unknown';
    let stderr = '';
    if (inProcess) {
      outcome = await writeRefFile(repo, ref, next, expected, reason, opts.objects);
      if (outcome === 'unknown') {
        await opts.objects?.();
        return updateStoreRefWithGit(repo, ref, next, expected, reason);
      }
    } else {
      if (opts.objects) {
        await opts.objects();
        opts = {};
      }
      const res = await gitUpdateRef(repo, ref, next, expected, reason);
      stderr = res.stderr;
      outcome = res.exitCode === 0 ? 'ok' : /cannot lock ref.*File exists/is.test(res.stderr) ? 'locked' : 'mismatch';
      if (outcome === 'mismatch') return refusedOrThrow(ref, res.stderr);
    }
    if (outcome === 'ok') return true;
    if (outcome === 'mismatch') return false;
    // Another git holds the ref's lock file for a moment (only ckpt writes
    // here, and an update takes milliseconds), or a process killed
    // mid-update (SIGKILL, the OOM killer) left it: git never removes it by itself.
    if (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, REF_LOCK_POLL_MS));
      continue;
    }
    if (cleared || !staleLock(lockFile)) return inProcess ? false : refusedOrThrow(ref, stderr);
    rmSync(lockFile, { force: true });
    cleared = true;
  }
}

/** Options of {@link updateStoreRef}. */
export interface RefUpdateOptions {
  /**
   * Writes (and fsyncs) the objects the new value names, run once the ref is
   * locked and found to hold `expected`, at the same time as the ref's own
   * fsync, so a step costs one fsync round; the ref is renamed into place
   * only after both. Not run when the ref did not hold `expected`.
   */
  objects?: () => Promise<void>;
}

/** Ref names written in process: ASCII path components under refs/ (git-check-ref-format(1) is stricter; anything else goes to git). */
const SAFE_REF = /^refs\/(?:[A-Za-z0-9._+-]+\/)*[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;

/** The same update through `git update-ref` (a store whose refs are not plain files). */
async function updateStoreRefWithGit(repo: Repo, ref: string, next: string, expected: string | null, reason: string): Promise<boolean> {
  const res = await gitUpdateRef(repo, ref, next, expected, reason);
  return res.exitCode === 0 ? true : refusedOrThrow(ref, res.stderr);
}

function gitUpdateRef(repo: Repo, ref: string, next: string, expected: string | null, reason: string): ReturnType<typeof git> {
  // core.hooksPath=/dev/null: update-ref runs the reference-transaction hook, and no hook may run (docs/reliability.md R16).
  // finishAlone: a ckpt killed now must not take git with it half-way (a stale <ref>.lock).
  return git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '--create-reflog', '-m', reason, ref, next, expected ?? repo.zeroOid], {
    cwd: repo.worktree,
    env: shadowEnv(repo),
    okCodes: [0, 1, 128],
    finishAlone: true,
  });
}

/**
 * One attempt of {@link updateStoreRef} in process. Synchronous from the
 * lock's creation to its rename (no signal handler of ckpt's runs in
 * between) unless `objects` is given; then a ckpt ending meanwhile on a
 * signal removes the lock on its way out (a SIGKILL leaves it, as it would
 * leave git's). `unknown`: the ref's current value cannot be read from the
 * files (git must do it).
 */
async function writeRefFile(repo: Repo, ref: string, next: string, expected: string | null, reason: string, objects?: () => Promise<void>): Promise<'ok' | 'mismatch' | 'locked' | 'unknown'> {
  const dir = shadowDir(repo);
  const file = path.join(dir, ref);
  const lock = `${file}.lock`;
  let fd = -1;
  let ours = false;
  try {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      // Created O_EXCL-exclusive, from the store's pool of ready files when it has one (git/temp-pool.ts).
      fd = createExclusive(shadowObjectsDir(repo), lock, 0o644);
      ours = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'locked';
      throw err;
    }
    const current = readStoreRefFast(repo, ref);
    if (current === undefined) return 'unknown';
    if (current !== (expected === repo.zeroOid ? null : expected)) return 'mismatch';
    writeSync(fd, `${next}\n`);
    if (objects) {
      heldLocks.add(lock);
      const lockFd = fd;
      await Promise.all([objects(), new Promise<void>((resolve, reject) => fsync(lockFd, (err) => (err ? reject(err) : resolve())))]);
    } else fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    const log = path.join(dir, 'logs', ref);
    mkdirSync(path.dirname(log), { recursive: true });
    appendFileSync(log, `${current ?? repo.zeroOid} ${next} ckpt <ckpt@localhost> ${Math.floor(Date.now() / 1000)} +0000\t${reason.replace(/[\x00-\x1f\x7f]+/g, ' ')}\n`);
    renameSync(lock, file);
    ours = false;
    return 'ok';
  } catch (err) {
    if (isCkptError(err)) throw err; // the objects' own failure (FS_FAILED, with its path)
    throw new CkptError('FS_FAILED', `could not update ${ref} in ckpt's store: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check free space and permissions of the repository. The ref was not changed.',
      data: { path: file },
    });
  } finally {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
    }
    if (ours) {
      try {
        unlinkSync(lock); // our own lock, never another's
      } catch {
        // gone
      }
    }
    heldLocks.delete(lock);
  }
}

/** Ref locks held across an await (removed if ckpt exits meanwhile). */
const heldLocks = new Set<string>();
process.on('exit', () => {
  for (const l of heldLocks) {
    try {
      unlinkSync(l);
    } catch {
      // gone
    }
  }
});

/** How long a ref's lock file is waited for before it is judged (ms). */
const REF_LOCK_WAIT_MS = 3_000;
const REF_LOCK_POLL_MS = 50;
/** A ref lock file this old (ms) is left by a killed git: an update holds it for milliseconds. */
const REF_LOCK_STALE_MS = 2_000;

function staleLock(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > REF_LOCK_STALE_MS;
  } catch {
    return true; // gone meanwhile: try again
  }
}

function refusedOrThrow(ref: string, stderr: string): false {
  if (/expected|cannot lock ref|is at .* but|already exists|unable to resolve reference/i.test(stderr)) return false;
  throw new CkptError('GIT_FAILED', `git update-ref ${ref} failed: ${stderr.trim()}`, { data: { stderr } });
}


/** The value of a ref of ckpt's store, or null. */
export async function storeRefValue(repo: Repo, ref: string): Promise<string | null> {
  const res = await git(['rev-parse', '--verify', '-q', `${ref}^{}`], { cwd: repo.worktree, env: shadowEnv(repo), okCodes: [0, 1, 128] });
  return res.exitCode === 0 ? res.stdout.toString('utf8').trim() : null;
}

/** Every ref of ckpt's store under `prefix` (default `refs/ckpt/`), with its value. */
export async function listStoreRefs(repo: Repo, prefix = CKPT_REFS): Promise<{ ref: string; oid: string }[]> {
  return refList(repo, shadowEnv(repo), [prefix]);
}

async function refList(repo: Repo, env: Record<string, string | undefined>, patterns: string[]): Promise<{ ref: string; oid: string }[]> {
  const out = await gitText(['for-each-ref', '--format=%(objectname) %(refname)', ...patterns], { cwd: repo.worktree, env });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ oid: l.slice(0, l.indexOf(' ')), ref: l.slice(l.indexOf(' ') + 1) }));
}

/**
 * The objects the user's repository keeps alive by itself: the values of its
 * refs (but not `refs/ckpt/*`, nor race attempts' branches, which ckpt
 * removes) and HEAD. Reflogs and the index are not counted: they expire.
 */
export async function userRefOids(repo: Repo): Promise<string[]> {
  const env = realEnv(repo);
  const refs = await refList(repo, env, []);
  const set = new Set(refs.filter((r) => !r.ref.startsWith(CKPT_REFS) && !r.ref.startsWith(ATTEMPT_BRANCHES)).map((r) => r.oid));
  const head = await git(['rev-parse', '--verify', '-q', 'HEAD'], { cwd: repo.worktree, env, okCodes: [0, 1, 128] });
  if (head.exitCode === 0) set.add(head.stdout.toString('utf8').trim());
  return [...set];
}

/**
 * The objects reachable from `roots` (any object ids) and from none of
 * `negatives`, read through ckpt's store (so both stores are seen).
 */
async function reachableObjects(repo: Repo, roots: readonly string[], negatives: readonly string[], extraArgs: string[] = []): Promise<string[]> {
  if (roots.length === 0 && extraArgs.length === 0) return [];
  // `^oid` lines, not `--not`: git before 2.42 refuses options on rev-list's stdin.
  const input = [...roots, ...negatives.map((n) => `^${n}`)].join('\n') + '\n';
  const { stdout } = await git(['rev-list', '--objects', '--stdin', ...extraArgs], { cwd: repo.worktree, env: shadowEnv(repo), input, timeoutMs: 600_000 });
  return lineOids(stdout, repo.zeroOid.length, 0);
}

/**
 * The object id in each `\n`-ended line of `out` (git's listings: rev-list
 * --objects `<oid> <path>`, show-index `<offset> <oid> (<crc>)`, cat-file
 * --batch-check `<name> missing`), read from the bytes: one string per id,
 * not the whole output as text split into lines (rev-list --objects lists a
 * path beside each object: at 10k files several MB of strings, all garbage).
 *
 * @param field which space-separated field holds the id (0 or 1).
 * @param suffix keep only the lines that end with it (` missing`).
 */
function lineOids(out: Buffer, hexLen: number, field: 0 | 1, suffix?: string): string[] {
  const oids: string[] = [];
  const tail = suffix === undefined ? null : Buffer.from(suffix, 'latin1');
  for (let i = 0; i < out.length; ) {
    let nl = out.indexOf(0x0a, i);
    if (nl < 0) nl = out.length;
    let at = i;
    if (field === 1) {
      const sp = out.indexOf(0x20, i);
      at = sp < 0 || sp >= nl ? -1 : sp + 1;
    }
    const fits = at >= 0 && at + hexLen <= nl && (at + hexLen === nl || out[at + hexLen] === 0x20);
    if (fits && (!tail || (nl - i >= tail.length && out.compare(tail, 0, tail.length, nl - tail.length, nl) === 0))) oids.push(out.toString('latin1', at, at + hexLen));
    i = nl + 1;
  }
  return oids;
}

/** Packs what `roots` reach beyond `negatives` into ckpt's store; returns the object count. */
async function packInto(repo: Repo, roots: readonly string[], negatives: readonly string[]): Promise<number> {
  const oids = await reachableObjects(repo, roots, negatives);
  return packList(repo, oids);
}

async function packList(repo: Repo, oids: readonly string[]): Promise<number> {
  if (oids.length === 0) return 0;
  const base = path.join(shadowObjectsDir(repo), 'pack', 'pack');
  mkdirSync(path.dirname(base), { recursive: true });
  await git(['pack-objects', '-q', '--non-empty', base], { cwd: repo.worktree, env: shadowEnv(repo), input: oids.join('\n') + '\n', timeoutMs: 600_000 });
  return oids.length;
}

/**
 * The objects stored in ckpt's own object dir (loose and packed), not those
 * it borrows. Read from the files: each fan-out directory, and each pack's
 * index through `git show-index`.
 */
export async function localObjects(repo: Repo): Promise<Set<string>> {
  const dir = shadowObjectsDir(repo);
  const out = new Set<string>();
  for (const fan of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    for (const rest of readdirSync(path.join(dir, fan))) if (/^[0-9a-f]+$/.test(rest)) out.add(fan + rest);
  }
  const packDir = path.join(dir, 'pack');
  for (const f of existsSync(packDir) ? readdirSync(packDir) : []) {
    if (!f.endsWith('.idx')) continue;
    const idx = await git(['show-index', ...(repo.objectFormat === 'sha256' ? ['--object-format=sha256'] : [])], {
      cwd: repo.worktree,
      env: shadowEnv(repo),
      input: readFileSync(path.join(packDir, f)),
    });
    for (const oid of lineOids(idx.stdout, repo.zeroOid.length, 1)) out.add(oid);
  }
  return out;
}

/**
 * Copies into ckpt's store every object that its refs (and their reflogs)
 * reach, that no ref of the user reaches, and that ckpt's store does not hold
 * itself: objects it borrowed from the user's store which the user's
 * `git gc` could prune once nothing of the user's names them (a blob staged
 * then unstaged, a commit dropped by a rebase or `reset`, an attempt's
 * commits after `race clean`). After this, ckpt's chains depend on the user's
 * store only for what the user's own refs keep.
 *
 * @param extraRoots further objects to secure (e.g. private index trees).
 * @returns the number of objects copied.
 * @throws CkptError `GIT_FAILED`.
 */
export async function adoptBorrowed(repo: Repo, extraRoots: readonly string[] = []): Promise<number> {
  const negatives = await userRefOids(repo);
  const needed = await reachableObjects(repo, extraRoots, negatives, ['--all', '--reflog']);
  if (needed.length === 0) return 0;
  const local = await localObjects(repo);
  return packList(
    repo,
    needed.filter((o) => !local.has(o)),
  );
}

/**
 * Copies into the user's object store what `roots` (trees or commits of
 * ckpt's store) reach and the user's store lacks, so that a commit made in
 * the user's repository from them is complete there (`git fsck` clean, and
 * safe from `git gc`, once a ref of the user's holds it).
 *
 * @returns the number of objects copied.
 * @throws CkptError `GIT_FAILED`.
 */
export async function copyToRepository(repo: Repo, roots: readonly string[]): Promise<number> {
  const wanted = roots.filter((r): r is string => !!r);
  if (wanted.length === 0) return 0;
  // HEAD's tree among the negatives too: rev-list takes `^commit` out of a
  // listing of commits, but a tree given as a root (a race's index tree, equal
  // to HEAD's or a few paths from it) was listed whole, every object of it with
  // its path (at 10k files 11k lines, 0.8 MB, then 0.46 MB more from cat-file),
  // once per attempt and all at once; with `^tree` only the objects on changed
  // paths are listed. What HEAD's tree reaches is the user's store's, as what
  // HEAD reaches is.
  const head = await git(['rev-parse', '--verify', '-q', 'HEAD^{tree}'], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1, 128] });
  const headTree = head.exitCode === 0 ? head.stdout.toString('latin1').trim() : '';
  const candidates = await reachableObjects(repo, wanted, [...(await userRefOids(repo)), ...(headTree ? [headTree] : [])]);
  if (candidates.length === 0) return 0;
  // Which of them the user's store lacks (its own objects and its alternates).
  const check = await git(['cat-file', '--batch-check=%(objectname)'], { cwd: repo.worktree, env: realEnv(repo), input: candidates.join('\n') + '\n' });
  const missing = lineOids(check.stdout, repo.zeroOid.length, 0, ' missing');
  if (missing.length === 0) return 0;
  const pack = await git(['pack-objects', '-q', '--stdout'], { cwd: repo.worktree, env: shadowEnv(repo), input: missing.join('\n') + '\n', timeoutMs: 600_000 });
  await git(['index-pack', '--stdin'], { cwd: repo.worktree, env: { ...realEnv(repo), GIT_WORK_TREE: undefined }, input: pack.stdout, timeoutMs: 600_000 });
  return missing.length;
}

/** Bytes of ckpt's own object dir on disk (loose objects and packs, as allocated: `st_blocks` × 512); 0 when there is no store yet. */
export function storeBytes(repo: Repo): number {
  let total = 0;
  const walk = (p: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const full = path.join(p, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) {
        const st = statSync(full);
        total += st.blocks > 0 ? st.blocks * 512 : st.size;
      }
    }
  };
  const dir = path.join(shadowDir(repo), 'objects');
  if (existsSync(dir)) walk(dir);
  return total;
}

/**
 * Runs `fn` holding a repository-wide lock of ckpt's store
 * (`<common>/ckpt/<name>.lock`, a core/owned-lock.ts lock file naming its
 * holder: taken over at once when that process is gone, after 10 s without
 * refresh otherwise), waiting up to `waitMs`.
 *
 * @throws CkptError `LOCKED`; `FS_FAILED` when the lock cannot be written.
 */
export async function withStoreLock<T>(repo: Repo, name: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const dir = path.join(repo.commonDir, 'ckpt');
  mkdirSync(dir, { recursive: true });
  const lockPath = path.join(dir, `${name}.lock`);
  let lock;
  try {
    lock = await acquireOwnedLock(lockPath, { waitMs, staleMs: 10_000 });
  } catch (err) {
    throw fsFailure(err, 'take the store lock', lockPath);
  }
  if (!isHeld(lock)) {
    throw new CkptError('LOCKED', `another ckpt process${lock.holder ? ` (pid ${lock.holder.pid})` : ''} holds ${lockPath}`, {
      hint: 'Wait for it to finish; a lock whose holder died is taken over at once on this machine, else after 10 s.',
      data: { lock: lockPath, pid: lock.holder?.pid ?? null },
    });
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

function removeEmptyDirs(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeEmptyDirs(path.join(dir, e.name));
    if (readdirSync(dir).length === 0) {
      // rmdir only: a file inside means a ref appeared meanwhile, and it stays.
      rmdirSync(dir);
    }
  } catch {
    // gone already
  }
}
